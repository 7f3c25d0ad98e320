"""Searching stored messages across sessions (the ``session_search`` tool, ``/session search``).

Portable SQL (case-insensitive ``LIKE`` per word, every word required) so it works the same
on SQLite and PostgreSQL; the newest matches first.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import and_, select

from vaos.store.database import Database
from vaos.store.models import MessageModel
from vaos.store.sessions import StoredMessage

_WORD = re.compile(r"\w+", re.UNICODE)
MAX_TERMS = 6


def _like(term: str) -> str:
    escaped = term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


async def search_messages(
    db: Database,
    query: str,
    *,
    limit: int = 10,
    roles: Sequence[str] = ("user", "assistant"),
    exclude_session: str | None = None,
) -> list[StoredMessage]:
    """Messages containing every word of ``query`` (words of 2+ characters), newest first."""
    terms = [t for t in dict.fromkeys(w.lower() for w in _WORD.findall(query)) if len(t) >= 2][:MAX_TERMS]
    if not terms:
        return []
    conditions = [MessageModel.content.ilike(_like(t), escape="\\") for t in terms]
    stmt = select(MessageModel).where(and_(*conditions), MessageModel.role.in_(list(roles)))
    if exclude_session is not None:
        stmt = stmt.where(MessageModel.session_id != exclude_session)
    stmt = stmt.order_by(MessageModel.id.desc()).limit(max(1, min(limit, 100)))
    async with db.session() as s:
        rows = await s.scalars(stmt)
        return [StoredMessage.from_model(row) for row in rows]
