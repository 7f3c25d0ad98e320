"""Server-Sent Events: frames, the per-session replay buffer, and the stream of one session.

Frames are ``id: <event id>`` + ``event: <type>`` + ``data: <flat envelope>`` (INTERFACES.md
section 5); a comment line ``: keepalive`` goes out when nothing else did for a while, so
proxies keep the connection and dead clients are noticed. A client that reconnects with
``Last-Event-ID`` gets what it missed from a bounded buffer kept per session (the most
recent sessions only), then the live events.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
from collections.abc import AsyncIterator, Iterator

from vaos.events import Event, EventBus

logger = logging.getLogger(__name__)

HEARTBEAT = b": keepalive\n\n"
SUBSCRIBER_QUEUE = 2000
_CLOSE = None  # queue sentinel: the stream ends (shutdown, or the client fell too far behind)


def frame(event: Event) -> bytes:
    """One SSE frame for ``event`` (the JSON is one line: no newline can break the frame)."""
    return b"id: %s\nevent: %s\ndata: %s\n\n" % (
        event.id.encode(),
        event.type.encode(),
        event.to_json().encode(),
    )


def data_frame(payload: bytes) -> bytes:
    return b"data: %s\n\n" % payload


class ReplayHub:
    """Recent events of each session, and the live subscribers of each session.

    ``record`` appends to the session's buffer (at most ``per_session`` events, for the
    ``max_sessions`` most recently active sessions) and hands the event to its subscribers.
    A subscriber that falls ``SUBSCRIBER_QUEUE`` events behind is closed; it reconnects with
    ``Last-Event-ID`` and catches up from the buffer.
    """

    def __init__(self, per_session: int = 500, max_sessions: int = 1000) -> None:
        self.per_session = per_session
        self.max_sessions = max_sessions
        self._buffers: collections.OrderedDict[str, collections.deque[Event]] = collections.OrderedDict()
        self._subscribers: dict[str, set[asyncio.Queue[Event | None]]] = {}
        self.overflows = 0
        self.closed = False
        self._task: asyncio.Task[None] | None = None

    # -- recording ------------------------------------------------------------------------

    def record(self, event: Event) -> None:
        sid = event.session_id
        if not sid:
            return
        if self.per_session:
            buffer = self._buffers.get(sid)
            if buffer is None:
                buffer = collections.deque(maxlen=self.per_session)
                self._buffers[sid] = buffer
                while len(self._buffers) > self.max_sessions:
                    self._buffers.popitem(last=False)
            else:
                self._buffers.move_to_end(sid)
            buffer.append(event)
        for queue in self._subscribers.get(sid, ()):
            if queue.qsize() >= SUBSCRIBER_QUEUE - 1:
                self.overflows += 1
                _drain(queue)
                queue.put_nowait(_CLOSE)
            else:
                queue.put_nowait(event)

    def start(self, bus: EventBus) -> None:
        """Record every event of ``bus`` (from a queue, so publishing never waits on us)."""
        self._task = asyncio.get_running_loop().create_task(self._consume(bus), name="vaos-sse-replay")

    async def _consume(self, bus: EventBus) -> None:
        async with bus.stream(maxsize=10_000) as queue:
            while True:
                event = await queue.get()
                try:
                    self.record(event)
                except Exception:  # never let one bad event stop the recording
                    logger.exception("SSE replay hub failed on an event")

    def close_streams(self) -> None:
        """End every open stream now (shutdown); new ones end at once."""
        self.closed = True
        for queues in self._subscribers.values():
            for queue in queues:
                queue.put_nowait(_CLOSE)

    async def aclose(self) -> None:
        """End every stream and stop recording."""
        self.close_streams()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    # -- reading --------------------------------------------------------------------------

    def since(self, session_id: str, last_event_id: str | None) -> list[Event]:
        """Buffered events after ``last_event_id`` (all of them when it is unknown or None)."""
        buffer = self._buffers.get(session_id)
        if not buffer:
            return []
        events = list(buffer)
        if last_event_id:
            for index in range(len(events) - 1, -1, -1):
                if events[index].id == last_event_id:
                    return events[index + 1 :]
        return events

    @contextlib.contextmanager
    def subscribe(self, session_id: str) -> Iterator[asyncio.Queue[Event | None]]:
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        self._subscribers.setdefault(session_id, set()).add(queue)
        try:
            yield queue
        finally:
            queues = self._subscribers.get(session_id)
            if queues is not None:
                queues.discard(queue)
                if not queues:
                    del self._subscribers[session_id]

    @property
    def subscriber_count(self) -> int:
        return sum(len(q) for q in self._subscribers.values())

    @property
    def session_count(self) -> int:
        return len(self._buffers)


def _drain(queue: asyncio.Queue[Event | None]) -> None:
    while not queue.empty():
        queue.get_nowait()


async def session_stream(
    hub: ReplayHub, session_id: str, last_event_id: str | None, heartbeat: float
) -> AsyncIterator[bytes]:
    """The SSE byte stream of one session: a hello comment, the replay, then live events."""
    if hub.closed:
        return
    with hub.subscribe(session_id) as queue:
        # Subscribed and read the buffer with no await in between: no event is lost or doubled.
        replay = hub.since(session_id, last_event_id) if last_event_id is not None else []
        yield b"retry: 2000\n: connected to session %s\n\n" % session_id.encode()
        for event in replay:
            yield frame(event)
        while True:
            try:
                item: Event | None = await asyncio.wait_for(queue.get(), heartbeat)
            except TimeoutError:
                yield HEARTBEAT
                continue
            if item is _CLOSE or item is None:
                return
            yield frame(item)
