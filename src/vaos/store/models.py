"""Tables: ``sessions``, ``messages`` and ``signals``.

The schema itself is created by the Alembic migrations in ``vaos/store/migrations``; these
models must stay identical to them (a test compares the two on every backend).

Timestamps are timezone-aware UTC in Python on every backend (SQLite stores naive UTC).
The JSON column is named ``metadata`` in the database and ``meta`` in Python, because
``metadata`` is taken by SQLAlchemy's declarative base.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any, Final, Literal, get_args

from sqlalchemy import (
    CHAR,
    JSON,
    BigInteger,
    CheckConstraint,
    DateTime,
    Dialect,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# The vocabulary of the signal's enum columns (INTERFACES.md section 4) and of message roles.
Mode = Literal["execute", "build", "analyze", "maintain", "assist"]
Genre = Literal["direct", "inform", "commit", "decide", "express"]
SignalType = Literal["question", "request", "issue", "scheduling", "summary", "report", "general"]
Format = Literal["command", "message", "notification", "document"]
Tier = Literal["utility", "specialist", "elite"]
Confidence = Literal["high", "medium", "low"]
Classifier = Literal["deterministic", "llm"]
NoiseVerdict = Literal["pass", "filtered", "clarify"]
Role = Literal["system", "user", "assistant", "tool"]

MODES: Final[tuple[str, ...]] = get_args(Mode)
GENRES: Final[tuple[str, ...]] = get_args(Genre)
TYPES: Final[tuple[str, ...]] = get_args(SignalType)
FORMATS: Final[tuple[str, ...]] = get_args(Format)
TIERS: Final[tuple[str, ...]] = get_args(Tier)
CONFIDENCES: Final[tuple[str, ...]] = get_args(Confidence)
CLASSIFIERS: Final[tuple[str, ...]] = get_args(Classifier)
NOISE_VERDICTS: Final[tuple[str, ...]] = get_args(NoiseVerdict)
ROLES: Final[tuple[str, ...]] = get_args(Role)

INPUT_PREVIEW_CHARS: Final = 200

NAMING_CONVENTION: Final = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


def utcnow() -> datetime:
    """The current time, timezone-aware UTC."""
    return datetime.now(UTC)


def new_id() -> str:
    """A new session id: 32 lowercase hex characters (a UUID4)."""
    return uuid.uuid4().hex


def in_list(column: str, values: tuple[str, ...]) -> str:
    """SQL text of ``column IN ('a', 'b', ...)`` for a CHECK constraint."""
    quoted = ", ".join(f"'{value}'" for value in values)
    return f"{column} IN ({quoted})"


class UTCDateTime(TypeDecorator[datetime]):
    """``TIMESTAMP WITH TIME ZONE`` that always reads and writes aware UTC datetimes.

    Naive datetimes are refused on the way in: their meaning is ambiguous.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value!r}: timestamps must be timezone-aware")
        value = value.astimezone(UTC)
        if dialect.name == "sqlite":
            # SQLite has no time zone type: store naive UTC, which sorts correctly as text.
            return value.replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JSONType = JSON().with_variant(JSONB(), "postgresql")
# 64-bit ids on PostgreSQL; SQLite needs exactly INTEGER for an autoincrementing rowid key.
BigIntId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class SessionModel(Base):
    __tablename__ = "sessions"
    __table_args__ = (Index("ix_sessions_updated_at", "updated_at"),)

    id: Mapped[str] = mapped_column(String(64), primary_key=True, default=new_id)
    title: Mapped[str | None] = mapped_column(String(500), nullable=True)
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    updated_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict, server_default=text("'{}'")
    )


class MessageModel(Base):
    __tablename__ = "messages"
    __table_args__ = (
        CheckConstraint(in_list("role", ROLES), name="role"),
        CheckConstraint("tokens_in >= 0", name="tokens_in"),
        CheckConstraint("tokens_out >= 0", name="tokens_out"),
        Index("ix_messages_session_id_id", "session_id", "id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[str] = mapped_column(
        String(64), ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False
    )
    role: Mapped[str] = mapped_column(String(16), nullable=False)
    content: Mapped[str] = mapped_column(Text, nullable=False)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    tokens_in: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    tokens_out: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default=text("0"))
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict, server_default=text("'{}'")
    )


class SignalModel(Base):
    __tablename__ = "signals"
    __table_args__ = (
        CheckConstraint(in_list("mode", MODES), name="mode"),
        CheckConstraint(in_list("genre", GENRES), name="genre"),
        CheckConstraint(in_list("type", TYPES), name="type"),
        CheckConstraint(in_list("format", FORMATS), name="format"),
        CheckConstraint(in_list("tier", TIERS), name="tier"),
        CheckConstraint(in_list("confidence", CONFIDENCES), name="confidence"),
        CheckConstraint(in_list("classifier", CLASSIFIERS), name="classifier"),
        CheckConstraint(in_list("noise_verdict", NOISE_VERDICTS), name="noise_verdict"),
        CheckConstraint("weight >= 0 AND weight <= 1", name="weight"),
        Index("ix_signals_mode", "mode"),
        Index("ix_signals_weight", "weight"),
        Index("ix_signals_tier", "tier"),
        Index("ix_signals_created_at", "created_at"),
        Index("ix_signals_intent_hash", "intent_hash"),
        Index("ix_signals_session_id", "session_id"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[str | None] = mapped_column(
        String(64), ForeignKey("sessions.id", ondelete="SET NULL"), nullable=True
    )
    channel: Mapped[str] = mapped_column(String(64), nullable=False)
    mode: Mapped[str] = mapped_column(String(16), nullable=False)
    genre: Mapped[str] = mapped_column(String(16), nullable=False)
    type: Mapped[str] = mapped_column(String(16), nullable=False)
    format: Mapped[str] = mapped_column(String(16), nullable=False)
    weight: Mapped[float] = mapped_column(Float, nullable=False)
    tier: Mapped[str] = mapped_column(String(16), nullable=False)
    confidence: Mapped[str] = mapped_column(String(8), nullable=False)
    classifier: Mapped[str] = mapped_column(String(16), nullable=False)
    noise_verdict: Mapped[str] = mapped_column(String(16), nullable=False)
    intent_hash: Mapped[str | None] = mapped_column(CHAR(64), nullable=True)
    input_preview: Mapped[str | None] = mapped_column(String(INPUT_PREVIEW_CHARS), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )
    meta: Mapped[dict[str, Any]] = mapped_column(
        "metadata", JSONType, nullable=False, default=dict, server_default=text("'{}'")
    )
