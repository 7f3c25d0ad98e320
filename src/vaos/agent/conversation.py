"""Conversations: the messages of a session as the model sees them, kept in the store.

Every user message, assistant message (with its tool calls) and tool result is appended to
the ``messages`` table; a session is resumed after a restart by reading them back. Recent
sessions stay in memory so a running daemon does not re-read them at every turn. Messages a
model should not see again (noise and its short reply) are stored with ``kind: noise``.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vaos.providers.types import Message, ToolCall
from vaos.store.sessions import SessionStore, check_session_id

if TYPE_CHECKING:
    from vaos.store.message_log import NewMessage

CACHE_SESSIONS = 256
TITLE_CHARS = 80
HIDDEN_KINDS = frozenset({"noise", "command"})


def to_meta(message: Message) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    if message.tool_calls:
        meta["tool_calls"] = [c.to_dict() for c in message.tool_calls]
    if message.tool_call_id:
        meta["tool_call_id"] = message.tool_call_id
    if message.name:
        meta["name"] = message.name
    return meta


def from_stored(role: str, content: str, meta: Mapping[str, Any]) -> Message | None:
    if meta.get("kind") in HIDDEN_KINDS or role not in ("user", "assistant", "tool", "system"):
        return None
    calls: list[ToolCall] = []
    for raw in meta.get("tool_calls") or []:
        if isinstance(raw, Mapping) and raw.get("name"):
            args = raw.get("arguments")
            calls.append(
                ToolCall(
                    str(raw.get("id") or ""),
                    str(raw["name"]),
                    dict(args) if isinstance(args, Mapping) else {},
                )
            )
    return Message(
        role,  # type: ignore[arg-type]
        content,
        tuple(calls),
        tool_call_id=str(meta["tool_call_id"]) if meta.get("tool_call_id") else None,
        name=str(meta["name"]) if meta.get("name") else None,
    )


class ConversationStore:
    def __init__(self, sessions: SessionStore, *, cache_sessions: int = CACHE_SESSIONS) -> None:
        self.sessions = sessions
        self._cache: OrderedDict[str, list[Message]] = OrderedDict()
        self._cache_size = cache_sessions
        self._locks: dict[str, asyncio.Lock] = {}
        self._pending: dict[str, list[NewMessage]] = {}
        self._writers: dict[str, asyncio.Task[None]] = {}

    def lock(self, session_id: str) -> asyncio.Lock:
        """One run at a time per session."""
        lock = self._locks.get(session_id)
        if lock is None:
            lock = self._locks[session_id] = asyncio.Lock()
        return lock

    async def ensure(self, session_id: str | None, *, channel: str, title: str) -> tuple[str, bool]:
        """The session (created when new): ``(id, created)``; ``ValueError`` for a bad id."""
        if session_id is not None:
            check_session_id(session_id)
            if session_id in self._cache or await self.sessions.get_session(session_id) is not None:
                return session_id, False
        try:
            stored = await self.sessions.create_session(
                channel=channel[:64] or "cli",
                title=" ".join(title.split())[:TITLE_CHARS] or None,
                session_id=session_id,
            )
        except ValueError:
            # created meanwhile by a concurrent first message with the same id
            if session_id is not None and await self.sessions.get_session(session_id) is not None:
                return session_id, False
            raise
        self._remember(stored.id, [])
        return stored.id, True

    async def load(self, session_id: str) -> list[Message]:
        """The session's messages for the model (a copy)."""
        cached = self._cache.get(session_id)
        if cached is None:
            await self.flush(session_id)
            rows = await self.sessions.list_messages(session_id)
            cached = [m for m in (from_stored(r.role, r.content, r.meta) for r in rows) if m is not None]
            self._remember(session_id, cached)
        else:
            self._cache.move_to_end(session_id)
        return list(cached)

    async def append(
        self,
        session_id: str,
        message: Message,
        *,
        tokens_in: int = 0,
        tokens_out: int = 0,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        """Store one message now (after any queued ones of the session)."""
        self.append_later(session_id, [(message, tokens_in, tokens_out, meta)])
        await self.flush(session_id)

    def append_later(
        self, session_id: str, entries: Sequence[tuple[Message, int, int, Mapping[str, Any] | None]]
    ) -> None:
        """Queue messages ``(message, tokens_in, tokens_out, meta)`` for the store, in order.

        The model sees them at once (the cache); a writer task per session stores them, and
        what piles up while it writes goes in its next transaction. ``flush`` waits for it.
        """
        from vaos.store.message_log import NewMessage

        cached = self._cache.get(session_id)
        pending = self._pending.setdefault(session_id, [])
        for message, tokens_in, tokens_out, meta in entries:
            extra = {**to_meta(message), **(meta or {})}
            pending.append(NewMessage(message.role, message.content, tokens_in, tokens_out, extra))
            if cached is not None and extra.get("kind") not in HIDDEN_KINDS:
                cached.append(message)
        writer = self._writers.get(session_id)
        if writer is None or writer.done():
            if writer is not None and not writer.cancelled() and writer.exception() is not None:
                return  # the last write failed: flush() reports it and keeps what is pending
            self._writers[session_id] = asyncio.get_running_loop().create_task(
                self._drain(session_id), name=f"vaos-store-{session_id}"
            )

    async def _drain(self, session_id: str) -> None:
        from vaos.store.message_log import append_messages

        while self._pending.get(session_id):
            rows = self._pending.pop(session_id)
            try:
                await append_messages(self.sessions.db, session_id, rows)
            except BaseException:
                self._pending[session_id] = rows + self._pending.get(session_id, [])
                raise

    async def flush(self, session_id: str | None = None) -> None:
        """Wait until the queued messages (of one session, or all) are stored; raises the
        store's error if a write failed (what was not written stays queued)."""
        ids = [session_id] if session_id is not None else list(self._writers)
        for sid in ids:
            writer = self._writers.get(sid)
            if writer is not None and writer.done() and not writer.cancelled() and writer.exception():
                self._writers[sid] = asyncio.get_running_loop().create_task(self._drain(sid))
                writer = self._writers[sid]
            if writer is not None:
                await writer
            if self._pending.get(sid):
                await self._drain(sid)

    def forget(self, session_id: str) -> None:
        """Drop the cached messages (queued writes still complete)."""
        self._cache.pop(session_id, None)
        lock = self._locks.get(session_id)
        if lock is not None and not lock.locked():
            self._locks.pop(session_id, None)

    def _remember(self, session_id: str, messages: list[Message]) -> None:
        self._cache[session_id] = messages
        self._cache.move_to_end(session_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)
