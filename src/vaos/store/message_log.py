"""Appending several messages of one session in a single transaction (the agent loop stores an
assistant message and its tool results together), with Core inserts: one round trip, no ORM
unit of work. Same checks and effects as ``SessionStore.append_message``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, update
from sqlalchemy.exc import IntegrityError

from vaos.store.database import Database
from vaos.store.models import ROLES, MessageModel, SessionModel, utcnow
from vaos.store.sessions import SessionNotFoundError, check_session_id


@dataclass(frozen=True, slots=True)
class NewMessage:
    role: str
    content: str
    tokens_in: int = 0
    tokens_out: int = 0
    meta: Mapping[str, Any] = field(default_factory=dict)


async def append_messages(db: Database, session_id: str, messages: Sequence[NewMessage]) -> None:
    """Add ``messages`` (in order) to a session and mark it updated, all or nothing.

    ``ValueError`` for bad input, ``SessionNotFoundError`` when the session does not exist.
    """
    check_session_id(session_id)
    if not messages:
        return
    now = utcnow()
    rows: list[dict[str, Any]] = []
    for m in messages:
        if m.role not in ROLES:
            raise ValueError(f"invalid role {m.role!r}: expected one of {', '.join(ROLES)}")
        if not isinstance(m.content, str):
            raise ValueError(f"content must be a string, got {type(m.content).__name__}")
        for name in ("tokens_in", "tokens_out"):
            value = getattr(m, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 0:
                raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
        if not isinstance(m.meta, Mapping) or not all(isinstance(k, str) for k in m.meta):
            raise ValueError("metadata must be a mapping with string keys")
        rows.append(
            {
                "session_id": session_id,
                "role": m.role,
                "content": m.content,
                "created_at": now,
                "tokens_in": m.tokens_in,
                "tokens_out": m.tokens_out,
                "meta": dict(m.meta),
            }
        )
    try:
        async with db.session() as s:
            touched = await s.execute(
                update(SessionModel)
                .where(SessionModel.id == session_id)
                .values(updated_at=now)
                .returning(SessionModel.id)
            )
            if touched.first() is None:
                raise SessionNotFoundError(session_id)
            await s.execute(insert(MessageModel), rows)
    except IntegrityError:
        raise SessionNotFoundError(session_id) from None
