"""Initial schema: sessions, messages, signals.

Revision ID: 0001
Revises:
Create Date: 2025-11-25

Written by hand to match ``vaos.store.models``; the values in the CHECK constraints are
frozen here on purpose (a later change to the vocabulary needs its own migration).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

MODES = ("execute", "build", "analyze", "maintain", "assist")
GENRES = ("direct", "inform", "commit", "decide", "express")
TYPES = ("question", "request", "issue", "scheduling", "summary", "report", "general")
FORMATS = ("command", "message", "notification", "document")
TIERS = ("utility", "specialist", "elite")
CONFIDENCES = ("high", "medium", "low")
CLASSIFIERS = ("deterministic", "llm")
NOISE_VERDICTS = ("pass", "filtered", "clarify")
ROLES = ("system", "user", "assistant", "tool")


def _in(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(v) for v in values)})"


def _json() -> sa.types.TypeEngine[Any]:
    return sa.JSON().with_variant(postgresql.JSONB(), "postgresql")


def _big_id() -> sa.types.TypeEngine[int]:
    return sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _timestamp(name: str) -> sa.Column[Any]:
    return sa.Column(
        name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.current_timestamp()
    )


def _metadata() -> sa.Column[Any]:
    return sa.Column("metadata", _json(), nullable=False, server_default=sa.text("'{}'"))


def upgrade() -> None:
    op.create_table(
        "sessions",
        sa.Column("id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(500), nullable=True),
        sa.Column("channel", sa.String(64), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _metadata(),
        sa.PrimaryKeyConstraint("id", name="pk_sessions"),
    )
    op.create_index("ix_sessions_updated_at", "sessions", ["updated_at"])

    op.create_table(
        "messages",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(64), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        _timestamp("created_at"),
        sa.Column("tokens_in", sa.Integer(), nullable=False, server_default=sa.text("0")),
        sa.Column("tokens_out", sa.Integer(), nullable=False, server_default=sa.text("0")),
        _metadata(),
        sa.PrimaryKeyConstraint("id", name="pk_messages"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_messages_session_id_sessions", ondelete="CASCADE"
        ),
        sa.CheckConstraint(_in("role", ROLES), name="ck_messages_role"),
        sa.CheckConstraint("tokens_in >= 0", name="ck_messages_tokens_in"),
        sa.CheckConstraint("tokens_out >= 0", name="ck_messages_tokens_out"),
        sqlite_autoincrement=True,
    )
    op.create_index("ix_messages_session_id_id", "messages", ["session_id", "id"])

    op.create_table(
        "signals",
        sa.Column("id", _big_id(), autoincrement=True, nullable=False),
        sa.Column("session_id", sa.String(64), nullable=True),
        sa.Column("channel", sa.String(64), nullable=False),
        sa.Column("mode", sa.String(16), nullable=False),
        sa.Column("genre", sa.String(16), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("format", sa.String(16), nullable=False),
        sa.Column("weight", sa.Float(), nullable=False),
        sa.Column("tier", sa.String(16), nullable=False),
        sa.Column("confidence", sa.String(8), nullable=False),
        sa.Column("classifier", sa.String(16), nullable=False),
        sa.Column("noise_verdict", sa.String(16), nullable=False),
        sa.Column("intent_hash", sa.CHAR(64), nullable=True),
        sa.Column("input_preview", sa.String(200), nullable=True),
        _timestamp("created_at"),
        _metadata(),
        sa.PrimaryKeyConstraint("id", name="pk_signals"),
        sa.ForeignKeyConstraint(
            ["session_id"], ["sessions.id"], name="fk_signals_session_id_sessions", ondelete="SET NULL"
        ),
        sa.CheckConstraint(_in("mode", MODES), name="ck_signals_mode"),
        sa.CheckConstraint(_in("genre", GENRES), name="ck_signals_genre"),
        sa.CheckConstraint(_in("type", TYPES), name="ck_signals_type"),
        sa.CheckConstraint(_in("format", FORMATS), name="ck_signals_format"),
        sa.CheckConstraint(_in("tier", TIERS), name="ck_signals_tier"),
        sa.CheckConstraint(_in("confidence", CONFIDENCES), name="ck_signals_confidence"),
        sa.CheckConstraint(_in("classifier", CLASSIFIERS), name="ck_signals_classifier"),
        sa.CheckConstraint(_in("noise_verdict", NOISE_VERDICTS), name="ck_signals_noise_verdict"),
        sa.CheckConstraint("weight >= 0 AND weight <= 1", name="ck_signals_weight"),
        sqlite_autoincrement=True,
    )
    for column in ("mode", "weight", "tier", "created_at", "intent_hash", "session_id"):
        op.create_index(f"ix_signals_{column}", "signals", [column])


def downgrade() -> None:
    op.drop_table("signals")
    op.drop_table("messages")
    op.drop_table("sessions")
