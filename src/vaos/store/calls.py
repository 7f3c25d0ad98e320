"""Model calls: provider, model, tokens, cost and latency of each one (the ``calls`` table).

Importing this module registers the table on ``vaos.store.models.Base.metadata``; migration
``0005`` creates it. ``session_id`` is plain text, not a foreign key: OpenAI-compatible calls
may carry no session or one that is not stored.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, Float, Index, Integer, String, func, select, text
from sqlalchemy.orm import Mapped, mapped_column

from vaos.store.database import Database
from vaos.store.models import Base, BigIntId, UTCDateTime, utcnow

_TOKEN_FIELDS = ("prompt_tokens", "completion_tokens", "total_tokens")


class CallModel(Base):
    __tablename__ = "calls"
    __table_args__ = (
        CheckConstraint("prompt_tokens >= 0", name="prompt_tokens"),
        CheckConstraint("completion_tokens >= 0", name="completion_tokens"),
        CheckConstraint("total_tokens >= 0", name="total_tokens"),
        Index("ix_calls_session_id", "session_id"),
        Index("ix_calls_created_at", "created_at"),
        {"sqlite_autoincrement": True},
    )

    id: Mapped[int] = mapped_column(BigIntId, primary_key=True, autoincrement=True)
    session_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    agent_id: Mapped[str | None] = mapped_column(String(64), nullable=True)
    provider: Mapped[str] = mapped_column(String(64), nullable=False)
    model: Mapped[str] = mapped_column(String(200), nullable=False)
    tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    prompt_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    completion_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    total_tokens: Mapped[int] = mapped_column(Integer, nullable=False, server_default=text("0"))
    cost_usd: Mapped[float | None] = mapped_column(Float, nullable=True)
    latency_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    first_token_s: Mapped[float | None] = mapped_column(Float, nullable=True)
    finish_reason: Mapped[str | None] = mapped_column(String(32), nullable=True)
    created_at: Mapped[datetime] = mapped_column(
        UTCDateTime(), nullable=False, default=utcnow, server_default=func.current_timestamp()
    )


class CallStore:
    """Append and sum model calls."""

    def __init__(self, db: Database) -> None:
        self.db = db

    async def insert(self, call: Mapping[str, Any]) -> int:
        """Store one call; raises ``ValueError`` for a call without provider or model, or with
        negative token counts."""
        row = _row(call)
        async with self.db.session() as session:
            model = CallModel(**row)
            session.add(model)
            await session.flush()
            return int(model.id)

    async def totals(self, *, session_id: str | None = None) -> dict[str, Any]:
        """Calls, tokens and cost, over everything or one session."""
        query = select(
            func.count(CallModel.id),
            func.coalesce(func.sum(CallModel.total_tokens), 0),
            func.coalesce(func.sum(CallModel.cost_usd), 0.0),
        )
        if session_id is not None:
            query = query.where(CallModel.session_id == session_id)
        async with self.db.session() as session:
            calls, tokens, cost = (await session.execute(query)).one()
        return {"calls": int(calls), "total_tokens": int(tokens), "cost_usd": float(cost or 0.0)}


def _row(call: Mapping[str, Any]) -> dict[str, Any]:
    provider, model = call.get("provider"), call.get("model")
    if not isinstance(provider, str) or not provider or not isinstance(model, str) or not model:
        raise ValueError("a call needs a provider and a model")
    tokens = {name: int(call.get(name) or 0) for name in _TOKEN_FIELDS}
    if not tokens["total_tokens"]:
        tokens["total_tokens"] = tokens["prompt_tokens"] + tokens["completion_tokens"]
    if any(value < 0 for value in tokens.values()):
        raise ValueError("token counts cannot be negative")
    return {
        "session_id": call.get("session_id"),
        "agent_id": call.get("agent_id"),
        "provider": provider,
        "model": model,
        "tier": call.get("tier"),
        **tokens,
        "cost_usd": _number(call.get("cost_usd")),
        "latency_s": _number(call.get("latency_s")),
        "first_token_s": _number(call.get("first_token_s")),
        "finish_reason": call.get("finish_reason"),
    }


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
