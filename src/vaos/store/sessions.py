"""Conversation sessions and their messages."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, func, select, update
from sqlalchemy.exc import IntegrityError

from vaos.store.database import Database
from vaos.store.models import ROLES, MessageModel, SessionModel, new_id, utcnow
from vaos.store.snapshots import RowSnapshot

MAX_LIMIT = 1000
_SESSION_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")
_CHANNEL_MAX = 64
_TITLE_MAX = 500


class SessionNotFoundError(LookupError):
    """The session named does not exist."""

    def __init__(self, session_id: str) -> None:
        super().__init__(f"unknown session {session_id!r}")
        self.session_id = session_id


@dataclass(frozen=True, slots=True)
class StoredSession(RowSnapshot):
    id: str
    title: str | None
    channel: str
    created_at: datetime
    updated_at: datetime
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StoredMessage(RowSnapshot):
    id: int
    session_id: str
    role: str
    content: str
    created_at: datetime
    tokens_in: int = 0
    tokens_out: int = 0
    meta: dict[str, Any] = field(default_factory=dict)


def check_session_id(session_id: object) -> str:
    """``session_id`` if it is a valid session id, else ``ValueError``."""
    if not isinstance(session_id, str) or not _SESSION_ID.match(session_id):
        raise ValueError(f"invalid session id {session_id!r}: 1-64 characters of [A-Za-z0-9_.:-]")
    return session_id


def check_page(limit: int, offset: int) -> None:
    """``ValueError`` unless ``1 <= limit <= MAX_LIMIT`` and ``offset >= 0``."""
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
        raise ValueError(f"limit must be an integer from 1 to {MAX_LIMIT}, got {limit!r}")
    if isinstance(offset, bool) or not isinstance(offset, int) or offset < 0:
        raise ValueError(f"offset must be a non-negative integer, got {offset!r}")


def _check_meta(meta: Mapping[str, Any] | None) -> dict[str, Any]:
    if meta is None:
        return {}
    if not isinstance(meta, Mapping) or not all(isinstance(key, str) for key in meta):
        raise ValueError("metadata must be a mapping with string keys")
    return dict(meta)


def _check_count(name: str, value: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{name} must be a non-negative integer, got {value!r}")
    return value


class SessionStore:
    """Create, read and delete sessions; append and read their messages.

    Every method is one transaction. Input is validated before the database is touched, and
    a failed write changes nothing.
    """

    def __init__(self, db: Database) -> None:
        self.db = db

    async def create_session(
        self,
        *,
        channel: str = "cli",
        title: str | None = None,
        meta: Mapping[str, Any] | None = None,
        session_id: str | None = None,
    ) -> StoredSession:
        """A new session; ``ValueError`` if ``session_id`` is given and already taken."""
        if not isinstance(channel, str) or not 1 <= len(channel) <= _CHANNEL_MAX:
            raise ValueError(f"channel must be 1-{_CHANNEL_MAX} characters, got {channel!r}")
        if title is not None and (not isinstance(title, str) or len(title) > _TITLE_MAX):
            raise ValueError(f"title must be a string of at most {_TITLE_MAX} characters")
        sid = new_id() if session_id is None else check_session_id(session_id)
        now = utcnow()
        row = SessionModel(
            id=sid, title=title, channel=channel, created_at=now, updated_at=now, meta=_check_meta(meta)
        )
        try:
            async with self.db.session() as s:
                s.add(row)
        except IntegrityError:
            raise ValueError(f"session {sid!r} already exists") from None
        return StoredSession.from_model(row)

    async def get_session(self, session_id: str) -> StoredSession | None:
        check_session_id(session_id)
        async with self.db.session() as s:
            row = await s.get(SessionModel, session_id)
            return None if row is None else StoredSession.from_model(row)

    async def list_sessions(
        self, *, channel: str | None = None, limit: int = 50, offset: int = 0
    ) -> list[StoredSession]:
        """Sessions, the most recently active first."""
        check_page(limit, offset)
        query = select(SessionModel)
        if channel is not None:
            query = query.where(SessionModel.channel == channel)
        query = query.order_by(SessionModel.updated_at.desc(), SessionModel.id.desc())
        async with self.db.session() as s:
            rows = await s.scalars(query.limit(limit).offset(offset))
            return [StoredSession.from_model(row) for row in rows]

    async def delete_session(self, session_id: str) -> bool:
        """Delete a session and (by cascade) its messages; ``False`` if there was none."""
        check_session_id(session_id)
        async with self.db.session() as s:
            result = await s.execute(
                delete(SessionModel).where(SessionModel.id == session_id).returning(SessionModel.id)
            )
            return result.first() is not None

    async def append_message(
        self,
        session_id: str,
        role: str,
        content: str,
        *,
        tokens_in: int = 0,
        tokens_out: int = 0,
        meta: Mapping[str, Any] | None = None,
    ) -> StoredMessage:
        """Add a message to a session and mark the session as updated.

        ``ValueError`` for bad input, ``SessionNotFoundError`` if the session does not exist.
        """
        check_session_id(session_id)
        if role not in ROLES:
            raise ValueError(f"invalid role {role!r}: expected one of {', '.join(ROLES)}")
        if not isinstance(content, str):
            raise ValueError(f"content must be a string, got {type(content).__name__}")
        row = MessageModel(
            session_id=session_id,
            role=role,
            content=content,
            created_at=utcnow(),
            tokens_in=_check_count("tokens_in", tokens_in),
            tokens_out=_check_count("tokens_out", tokens_out),
            meta=_check_meta(meta),
        )
        try:
            async with self.db.session() as s:
                # Write first: on SQLite this takes the write lock before any read.
                touched = await s.execute(
                    update(SessionModel)
                    .where(SessionModel.id == session_id)
                    .values(updated_at=row.created_at)
                    .returning(SessionModel.id)
                )
                if touched.first() is None:
                    raise SessionNotFoundError(session_id)
                s.add(row)
        except IntegrityError:
            # The session was deleted between the update and the insert.
            raise SessionNotFoundError(session_id) from None
        return StoredMessage.from_model(row)

    async def list_messages(
        self, session_id: str, *, after_id: int | None = None, limit: int | None = None
    ) -> list[StoredMessage]:
        """The messages of a session in the order they were added."""
        check_session_id(session_id)
        query = select(MessageModel).where(MessageModel.session_id == session_id)
        if after_id is not None:
            query = query.where(MessageModel.id > _check_count("after_id", after_id))
        query = query.order_by(MessageModel.id)
        if limit is not None:
            check_page(limit, 0)
            query = query.limit(limit)
        async with self.db.session() as s:
            rows = await s.scalars(query)
            return [StoredMessage.from_model(row) for row in rows]

    async def count_messages(self, session_id: str) -> int:
        check_session_id(session_id)
        query = select(func.count()).select_from(MessageModel).where(MessageModel.session_id == session_id)
        async with self.db.session() as s:
            return int(await s.scalar(query) or 0)
