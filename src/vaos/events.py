"""The flat event envelope and the in-process async event bus.

Every transport (SSE, AMQP, logs) carries the same envelope:
``{"id", "type", "session_id", "agent_id", "ts", "data"}`` with ``ts`` in RFC 3339 UTC.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

logger = logging.getLogger(__name__)

EVENT_TYPES = frozenset(
    {
        "signal_classified",
        "routing_decided",
        "llm_request",
        "llm_token",
        "llm_response",
        "tool_call",
        "tool_result",
        "agent_response",
        "audit_recorded",
        "swarm_started",
        "swarm_finished",
        "error",
    }
)


def utc_timestamp() -> str:
    """Now, as RFC 3339 UTC with microseconds and a ``Z`` suffix."""
    return datetime.now(UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


class Event(BaseModel):
    """One event, flat: what happened (``type``), to whom, when, and its ``data``."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(default_factory=lambda: uuid.uuid4().hex)
    type: str = Field(min_length=1, max_length=64, pattern=r"^[a-z][a-z0-9_.:-]*$")
    session_id: str | None = None
    agent_id: str | None = None
    ts: str = Field(default_factory=utc_timestamp)
    data: dict[str, Any] = Field(default_factory=dict)

    def to_json(self) -> str:
        return self.model_dump_json()


Handler = Callable[[Event], Awaitable[None]]


class EventBus:
    """Publish/subscribe inside one process.

    Handlers run concurrently for each event; a failing handler is logged and never
    affects the publisher or the other handlers. ``stream()`` gives an async iterator with
    a bounded queue for consumers such as SSE (the oldest events are dropped when a slow
    consumer falls behind, and the drop is counted).
    """

    def __init__(self) -> None:
        self._handlers: list[tuple[Handler, frozenset[str] | None]] = []
        self._queues: list[tuple[asyncio.Queue[Event], frozenset[str] | None]] = []
        self.dropped = 0

    def subscribe(self, handler: Handler, types: Iterable[str] | None = None) -> Callable[[], None]:
        """Call ``handler`` for every event (or only those of ``types``); returns an unsubscribe."""
        entry = (handler, frozenset(types) if types is not None else None)
        self._handlers.append(entry)

        def unsubscribe() -> None:
            if entry in self._handlers:
                self._handlers.remove(entry)

        return unsubscribe

    async def publish(self, event: Event) -> None:
        for queue, types in list(self._queues):
            if types is None or event.type in types:
                self._offer(queue, event)
        handlers = [h for h, types in self._handlers if types is None or event.type in types]
        if not handlers:
            return
        results = await asyncio.gather(*(h(event) for h in handlers), return_exceptions=True)
        for handler, result in zip(handlers, results, strict=True):
            if isinstance(result, BaseException):
                logger.warning("event handler %r failed on %s: %r", handler, event.type, result)

    async def emit(
        self,
        type: str,
        data: dict[str, Any] | None = None,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
    ) -> Event:
        """Build an envelope and publish it."""
        event = Event(type=type, data=data or {}, session_id=session_id, agent_id=agent_id)
        await self.publish(event)
        return event

    @asynccontextmanager
    async def stream(
        self, types: Iterable[str] | None = None, maxsize: int = 1000
    ) -> AsyncIterator[asyncio.Queue[Event]]:
        """A queue that receives events while the context is open."""
        entry: tuple[asyncio.Queue[Event], frozenset[str] | None] = (
            asyncio.Queue(maxsize=maxsize),
            frozenset(types) if types is not None else None,
        )
        self._queues.append(entry)
        try:
            yield entry[0]
        finally:
            self._queues.remove(entry)

    def _offer(self, queue: asyncio.Queue[Event], event: Event) -> None:
        if queue.full():
            queue.get_nowait()
            self.dropped += 1
        queue.put_nowait(event)
