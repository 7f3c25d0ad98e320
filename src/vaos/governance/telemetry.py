"""Telemetry over AMQP: every event to the fleet's broker, none lost when the broker is away.

Names (those of the original VAS-Swarm publisher, reference/vas_swarm.md section 4.1), each
optionally preceded by ``VAOS_AMQP__NAME_PREFIX``:

- exchange ``vas_swarm.telemetry`` (topic, durable);
- queue ``vas_swarm.status`` (durable) bound with ``status.#``;
- queue ``vas_swarm.commands`` (durable) bound with ``commands.#``, declared before it is bound;
- queue ``vas_swarm.events`` (durable, new) bound with ``events.#``, ``routing.#`` and
  ``performance.#``: the original bound nothing to its routing and performance keys, so the
  broker dropped those messages.

Routing keys: ``status.<agent_id>``, ``routing.<session_id>``, ``performance.<agent_id>``
(bodies shaped as the original's: ``{"type":"agent_status",...}``, ``{"type":"routing",...}``,
``{"type":"performance",...}``), and ``events.<type>`` for every event of the ``EventBus`` (the
flat envelope of INTERFACES.md section 5, unchanged). Messages are persistent JSON
(``content_type`` ``application/json``) with a ``message_id`` (the event id) so consumers can
deduplicate, and each is confirmed by the broker (publisher confirms).

Delivery: ``submit`` appends to a bounded in-memory buffer and never waits for the network.
A flusher runs every ``flush_interval`` (1 s), or as soon as a full batch is waiting, and
publishes in batches of at most ``batch_size`` (100) until nothing is left: first what the
on-disk spool holds (oldest), then the buffer. When the broker is unreachable, refuses, or
does not confirm in time, the unconfirmed messages and the rest of the buffer go to the spool
(``vaos.governance.spool``) in order, and are published again once the broker is back. When
the buffer fills up it is spilled to the spool at once. Only when the spool reaches
``spool_max_bytes`` are messages dropped, counted, and warned about. Delivery is at least
once: a message whose confirmation was lost is sent again.

Counters (``stats()``, and a ``telemetry_stats`` event on the bus every ``stats_interval``):
``published`` (confirmed by the broker), ``spooled`` (written to the spool), ``redelivered``
(published from the spool), ``dropped`` (spool full), plus gauges.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import re
import socket
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from vaos.events import Event, EventBus, utc_timestamp
from vaos.governance.spool import Item, Spool, SpoolError, inspect

if TYPE_CHECKING:
    from aio_pika.abc import (
        AbstractChannel,
        AbstractExchange,
        AbstractIncomingMessage,
        AbstractQueue,
        AbstractRobustConnection,
        ConsumerTag,
    )

    from vaos.config import AmqpSettings, Settings
    from vaos.governance.commands import AuditSink, Callback, CommandController, KeySource

logger = logging.getLogger(__name__)

EXCHANGE = "vas_swarm.telemetry"
STATUS_QUEUE = "vas_swarm.status"
COMMANDS_QUEUE = "vas_swarm.commands"
EVENTS_QUEUE = "vas_swarm.events"
STATUS_BINDINGS = ("status.#",)
COMMAND_BINDINGS = ("commands.#",)
EVENT_BINDINGS = ("events.#", "routing.#", "performance.#")
STATS_EVENT = "telemetry_stats"
SPOOL_DIR = ("telemetry", "spool")
CONTENT_TYPE = "application/json"
APP_ID = "vaos"
MAX_BACKOFF = 30.0

MAX_MESSAGE_BYTES = 4 * 1024 * 1024

_WORD_UNSAFE = re.compile(r"[^A-Za-z0-9_.:-]")
_ROUTING_KEY = re.compile(r"[^\t\n\r]{1,255}")
_MESSAGE_ID = re.compile(r"[!-~]{1,255}")  # printable ASCII

CommandHandler = Callable[[bytes, str | None], Awaitable[object]]
"""Receives the raw body and the message id of each message on the command queue."""


@dataclass(frozen=True)
class Topology:
    """The exchange and queue names (the original's, behind an optional prefix)."""

    exchange: str = EXCHANGE
    status_queue: str = STATUS_QUEUE
    commands_queue: str = COMMANDS_QUEUE
    events_queue: str = EVENTS_QUEUE

    @classmethod
    def with_prefix(cls, prefix: str = "") -> Topology:
        return cls(
            exchange=prefix + EXCHANGE,
            status_queue=prefix + STATUS_QUEUE,
            commands_queue=prefix + COMMANDS_QUEUE,
            events_queue=prefix + EVENTS_QUEUE,
        )

    def queues(self) -> tuple[tuple[str, tuple[str, ...]], ...]:
        return (
            (self.status_queue, STATUS_BINDINGS),
            (self.events_queue, EVENT_BINDINGS),
            (self.commands_queue, COMMAND_BINDINGS),
        )


async def declare_topology(
    channel: AbstractChannel, topology: Topology, call_timeout: float
) -> AbstractExchange:
    """Declare the exchange, then each queue, then its bindings (never bind before declare);
    ``call_timeout`` bounds each call."""
    timeout = call_timeout
    import aio_pika

    exchange = await channel.declare_exchange(
        topology.exchange, aio_pika.ExchangeType.TOPIC, durable=True, timeout=timeout
    )
    for name, keys in topology.queues():
        queue = await channel.declare_queue(name, durable=True, timeout=timeout)
        for key in keys:
            await queue.bind(exchange, key, timeout=timeout)
    return exchange


# -- message shapes (reference 4.1) --------------------------------------------------------


def routing_word(value: object) -> str:
    """One routing-key word from an id: unsafe characters replaced, bounded in length."""
    word = _WORD_UNSAFE.sub("_", str(value) if value is not None else "")[:200]
    return word or "unknown"


def agent_status_message(
    agent_id: str, status: str, metrics: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    return {
        "type": "agent_status",
        "agent_id": agent_id,
        "status": status,
        "timestamp": utc_timestamp(),
        "metrics": dict(metrics or {}),
    }


def performance_message(agent_id: str, metrics: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "type": "performance",
        "agent_id": agent_id,
        "timestamp": utc_timestamp(),
        "metrics": dict(metrics),
    }


def routing_message(routing_map: Mapping[str, Any]) -> dict[str, Any]:
    return {"type": "routing", "timestamp": utc_timestamp(), "data": dict(routing_map)}


def redact_url(url: str) -> str:
    """The URL with its password replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = f"{parts.username or ''}:***@{parts.hostname or ''}"
    if parts.port is not None:
        netloc += f":{parts.port}"
    return urlunsplit(parts._replace(netloc=netloc))


def spool_directory(settings: Settings) -> Path:
    return settings.path(*SPOOL_DIR)


# -- the publisher -------------------------------------------------------------------------


class TelemetryPublisher:
    """Ships telemetry to the broker through a buffer and a spool; consumes the command queue.

    Typical wiring (the daemon)::

        publisher = TelemetryPublisher.from_settings(settings, bus=bus)
        publisher.consume_commands(processor.handle)   # vaos.governance.commands
        await publisher.start()
        ...
        await publisher.stop()      # drains what it can, spools the rest
    """

    def __init__(
        self,
        amqp: AmqpSettings,
        spool_dir: Path,
        *,
        bus: EventBus | None = None,
        topology: Topology | None = None,
    ) -> None:
        self.settings = amqp
        self.spool_dir = Path(spool_dir)
        self.bus = bus
        self.topology = topology or Topology.with_prefix(amqp.name_prefix)
        self.published = 0
        self.spooled = 0
        self.redelivered = 0
        self.dropped = 0
        self.last_error: str | None = None
        self._buffer: deque[Item] = deque()
        self._in_flight = 0  # taken from the buffer, not yet confirmed or spooled
        self._spool: Spool | None = None
        self._skip = frozenset(amqp.skip_event_types)
        self._wake = asyncio.Event()
        self._ready = asyncio.Event()  # set once the first connection (and consumer) is up
        self._flush_lock = asyncio.Lock()
        self._tasks: list[asyncio.Task[None]] = []
        self._unsubscribe: Callable[[], None] | None = None
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._command_handler: CommandHandler | None = None
        self._command_channel: AbstractChannel | None = None
        self._consumer: tuple[AbstractQueue, ConsumerTag] | None = None
        self._command_task: asyncio.Task[Any] | None = None
        self._started = False
        self._closing = False
        self._dropping = False

    @classmethod
    def from_settings(
        cls, settings: Settings, *, bus: EventBus | None = None, topology: Topology | None = None
    ) -> TelemetryPublisher:
        return cls(settings.amqp, spool_directory(settings), bus=bus, topology=topology)

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> TelemetryPublisher:
        """Open the spool, subscribe to the bus, and connect in the background.

        Never waits for the broker: with no broker configured or reachable, events are spooled.
        Raises ``SpoolError`` when the spool cannot be opened (for instance another process
        owns it).
        """
        if self._started:
            return self
        self._spool = Spool.open(self.spool_dir, max_bytes=self.settings.spool_max_bytes)
        if self._spool.pending:
            logger.info("telemetry: %d spooled messages waiting for the broker", self._spool.pending)
        self._started = True
        if self.bus is not None:
            self._unsubscribe = self.bus.subscribe(self._on_event)
            self._tasks.append(asyncio.create_task(self._stats_loop(), name="vaos-telemetry-stats"))
        self._tasks.append(asyncio.create_task(self._flush_loop(), name="vaos-telemetry-flush"))
        if self.settings.url:
            self._tasks.append(asyncio.create_task(self._connect_loop(), name="vaos-telemetry-connect"))
        else:
            logger.info(
                "telemetry: no broker configured (VAOS_AMQP__URL); events are spooled in %s", self.spool_dir
            )
        return self

    async def stop(self, drain_timeout: float = 5.0) -> None:
        """Publish what can be published within ``drain_timeout``, spool the rest, disconnect."""
        if not self._started or self._closing:
            return
        self._closing = True
        await self._stop_consuming(drain_timeout)  # its events still reach the bus and us
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self.connected:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(drain_timeout):
                    await self._flush_once()
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        await self._disconnect()
        self._spill()  # no await from here on: nothing submitted meanwhile is left behind
        assert self._spool is not None
        self._spool.close()
        self._ready.clear()
        self._started = self._closing = False

    async def __aenter__(self) -> TelemetryPublisher:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    @property
    def connected(self) -> bool:
        channel = self._channel
        return self._exchange is not None and channel is not None and not channel.is_closed

    # -- publishing ----------------------------------------------------------------------

    def submit(self, routing_key: str, body: bytes, message_id: str | None = None) -> str | None:
        """Queue one JSON message for the exchange; returns its message id, or None when the
        body exceeds ``MAX_MESSAGE_BYTES`` (dropped, counted and logged). Never blocks on I/O
        except to spill a full buffer to disk. ``ValueError`` for a routing key or message id
        the broker would refuse, or a body that is not one line."""
        if not self._started:
            raise RuntimeError("the telemetry publisher is not started (or already stopped)")
        message_id = message_id or uuid.uuid4().hex
        if not _ROUTING_KEY.fullmatch(routing_key) or len(routing_key.encode()) > 255:
            raise ValueError("a routing key is 1-255 bytes without tabs or newlines")
        if not _MESSAGE_ID.fullmatch(message_id):
            raise ValueError("a message id is 1-255 printable ASCII characters")
        if b"\n" in body:
            raise ValueError("a telemetry body must be one line of JSON")
        if len(body) > MAX_MESSAGE_BYTES:
            self._drop(1, f"a message of {len(body)} bytes exceeds {MAX_MESSAGE_BYTES}", always=True)
            return None
        self._buffer.append((message_id, routing_key, body))
        size = len(self._buffer)
        if size >= self.settings.buffer_max:
            self._spill()
        if size >= self.settings.batch_size:
            self._wake.set()
        return message_id

    def publish_event(self, event: Event) -> str | None:
        """Ship one bus event (the flat envelope) with routing key ``events.<type>``."""
        if event.type in self._skip:
            return None
        return self.submit(f"events.{event.type}", event.to_json().encode(), event.id)

    def publish_agent_status(
        self, agent_id: str, status: str, metrics: Mapping[str, Any] | None = None
    ) -> str | None:
        body = orjson.dumps(agent_status_message(agent_id, status, metrics))
        return self.submit(f"status.{routing_word(agent_id)}", body)

    def publish_routing(self, routing_map: Mapping[str, Any]) -> str | None:
        body = orjson.dumps(routing_message(routing_map))
        return self.submit(f"routing.{routing_word(routing_map.get('session_id'))}", body)

    def publish_performance_metrics(self, agent_id: str, metrics: Mapping[str, Any]) -> str | None:
        body = orjson.dumps(performance_message(agent_id, metrics))
        return self.submit(f"performance.{routing_word(agent_id)}", body)

    async def _on_event(self, event: Event) -> None:
        self.publish_event(event)

    async def flush(self) -> None:
        """Run one flush now (publish everything, or spool it when the broker is away)."""
        await self._flush_once()

    async def wait_connected(self) -> None:
        """Return once connected to the broker (and consuming commands, when registered);
        wrap in ``asyncio.timeout``. Never returns when no broker is configured."""
        await self._ready.wait()

    @property
    def backlog(self) -> int:
        """Messages not yet confirmed by the broker (buffer and spool)."""
        spooled = self._spool.pending if self._spool is not None else 0
        return len(self._buffer) + spooled + self._in_flight

    async def drained(self) -> None:
        """Return once the buffer and the spool are empty (wrap in ``asyncio.timeout``)."""
        while self.backlog:
            self._wake.set()
            await asyncio.sleep(0.02)

    def stats(self) -> dict[str, Any]:
        spool = self._spool
        return {
            "published": self.published,
            "spooled": self.spooled,
            "redelivered": self.redelivered,
            "dropped": self.dropped,
            "buffered": len(self._buffer),
            "spool_pending": spool.pending if spool is not None else 0,
            "spool_bytes": spool.size_bytes if spool is not None else 0,
            "spool_corrupt": spool.corrupt if spool is not None else 0,
            "connected": self.connected,
        }

    # -- flushing ------------------------------------------------------------------------

    async def _flush_loop(self) -> None:
        interval = self.settings.flush_interval
        while True:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await self._wake.wait()
            self._wake.clear()
            try:
                await self._flush_once()
            except Exception:  # the flusher must outlive any one failure
                logger.exception("telemetry: flush failed")

    async def _flush_once(self) -> None:
        async with self._flush_lock:
            spool = self._spool
            assert spool is not None
            batch_size = self.settings.batch_size
            while True:
                if not self.connected:
                    self._spill()
                    return
                if spool.pending:
                    items = spool.peek(batch_size)
                    if not items:
                        return  # only unreadable lines were left; they are skipped now
                    ok = await self._publish_batch(items)
                    spool.commit(ok)
                    self.published += ok
                    self.redelivered += ok
                    if ok < len(items):
                        self._spill()
                        return
                    continue
                if not self._buffer:
                    return
                batch = [self._buffer.popleft() for _ in range(min(batch_size, len(self._buffer)))]
                self._in_flight = len(batch)
                try:
                    ok = await self._publish_batch(batch)
                except BaseException:  # cancelled mid-flight: nothing may be lost
                    self._to_spool(batch, front=True)
                    raise
                finally:
                    self._in_flight = 0
                self.published += ok
                if ok < len(batch):
                    self._to_spool(batch[ok:], front=True)
                    self._spill()
                    return

    async def _publish_batch(self, items: list[Item]) -> int:
        """Publish concurrently and wait for the confirms; returns how many leading items were
        confirmed (the rest are treated as not delivered and sent again later)."""
        import aio_pika

        exchange = self._exchange
        if exchange is None:
            return 0
        timeout = self.settings.publish_timeout
        persistent = aio_pika.DeliveryMode.PERSISTENT
        tasks = [
            asyncio.ensure_future(
                exchange.publish(
                    aio_pika.Message(
                        body,
                        content_type=CONTENT_TYPE,
                        delivery_mode=persistent,
                        message_id=message_id,
                        app_id=APP_ID,
                    ),
                    routing_key,
                    mandatory=False,
                    timeout=timeout,
                )
            )
            for message_id, routing_key, body in items
        ]
        try:
            _, pending = await asyncio.wait(tasks, timeout=timeout)
        except BaseException:
            for task in tasks:
                task.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
            raise
        for task in pending:
            task.cancel()
        if pending:
            await asyncio.gather(*pending, return_exceptions=True)
        ok = 0
        failure: BaseException | None = None
        for task in tasks:
            error = task.exception() if not task.cancelled() else TimeoutError("no confirm in time")
            if error is None and failure is None:
                ok += 1
            elif failure is None:
                failure = error
        if failure is not None:
            self.last_error = f"{type(failure).__name__}: {failure}"
            logger.warning(
                "telemetry: %d of %d messages not confirmed (%s); spooling them",
                len(items) - ok,
                len(items),
                failure,
            )
        return ok

    def _spill(self) -> None:
        """Move the whole buffer to the spool tail."""
        if not self._buffer:
            return
        items = list(self._buffer)
        self._buffer.clear()
        self._to_spool(items, front=False)

    def _to_spool(self, items: list[Item], *, front: bool) -> None:
        spool = self._spool
        if spool is None or spool.closed:
            self._drop(len(items), "the spool is closed")
            return
        try:
            written = spool.prepend(items) if front else spool.append(items)
        except SpoolError as exc:
            logger.error("telemetry: %s", exc)
            written = 0
        self.spooled += written
        if written < len(items):
            self._drop(len(items) - written, f"the spool is full ({self.settings.spool_max_bytes} bytes)")
        elif self._dropping:
            self._dropping = False
            logger.warning("telemetry: the spool accepts messages again")

    def _drop(self, count: int, why: str, *, always: bool = False) -> None:
        self.dropped += count
        if always:
            logger.warning("telemetry: dropped a message: %s", why)
        elif not self._dropping:
            self._dropping = True
            logger.warning(
                "telemetry: dropping messages, %s (%d so far); raise VAOS_AMQP__SPOOL_MAX_BYTES "
                "or bring the broker back",
                why,
                self.dropped,
            )

    async def _stats_loop(self) -> None:
        assert self.bus is not None
        while True:
            await asyncio.sleep(self.settings.stats_interval)
            await self.bus.emit(STATS_EVENT, self.stats())

    # -- connection ----------------------------------------------------------------------

    async def _connect_loop(self) -> None:
        delay = min(self.settings.reconnect_interval, MAX_BACKOFF)
        attempts = 0
        while True:
            try:
                await self._connect()
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                attempts += 1
                self.last_error = f"{type(exc).__name__}: {exc}"
                log = logger.warning if attempts == 1 else logger.debug
                log(
                    "telemetry: broker %s unreachable (%s); events are spooled in %s",
                    redact_url(self.settings.url or ""),
                    self.last_error,
                    self.spool_dir,
                )
                await asyncio.sleep(delay * (0.5 + random.random()))
                delay = min(delay * 2, MAX_BACKOFF)
                continue
            logger.info("telemetry: connected to %s", redact_url(self.settings.url or ""))
            self.last_error = None
            self._wake.set()
            return

    async def _connect(self) -> None:
        import aio_pika

        settings = self.settings
        timeout = settings.connect_timeout
        assert settings.url is not None
        async with asyncio.timeout(timeout * 2):
            connection = await aio_pika.connect_robust(
                settings.url,
                timeout=timeout,
                reconnect_interval=settings.reconnect_interval,
                client_properties={"connection_name": f"vaos-telemetry-{os.getpid()}"},
            )
        try:
            async with asyncio.timeout(timeout * 4):
                channel = await connection.channel(publisher_confirms=True)
                exchange = await declare_topology(channel, self.topology, timeout)
                if self._command_handler is not None:
                    self._command_channel = await self._open_consumer(connection)
        except BaseException:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(connection.close(), timeout)
            raise
        connection.reconnect_callbacks.add(self._on_reconnect)
        self._connection, self._channel, self._exchange = connection, channel, exchange
        self._ready.set()

    def _on_reconnect(self, *_: object) -> None:
        logger.info("telemetry: reconnected to the broker")
        self._wake.set()

    async def _disconnect(self) -> None:
        connection = self._connection
        self._connection = self._channel = self._exchange = self._command_channel = None
        if connection is not None:
            try:
                await asyncio.wait_for(connection.close(), self.settings.connect_timeout)
            except Exception as exc:
                logger.debug("telemetry: close failed: %r", exc)

    # -- commands ------------------------------------------------------------------------

    def consume_commands(self, handler: CommandHandler) -> None:
        """Deliver every message of the command queue to ``handler`` (one at a time, acked
        after the handler returns, whatever it does). Call before ``start``."""
        if self._started:
            raise RuntimeError("register the command handler before start()")
        self._command_handler = handler

    async def _open_consumer(self, connection: AbstractRobustConnection) -> AbstractChannel:
        timeout = self.settings.connect_timeout
        channel = await connection.channel(publisher_confirms=False)
        await channel.set_qos(prefetch_count=1, timeout=timeout)
        queue = await channel.declare_queue(self.topology.commands_queue, durable=True, timeout=timeout)
        tag = await queue.consume(self._on_command_message, no_ack=False, timeout=timeout)
        self._consumer = (queue, tag)
        return channel

    async def _stop_consuming(self, within: float) -> None:
        """Cancel the consumer, then let the command being handled finish and be acked (unless
        ``stop`` was called by that very handler)."""
        consumer, self._consumer = self._consumer, None
        if consumer is not None:
            queue, tag = consumer
            try:
                await asyncio.wait_for(queue.cancel(tag), self.settings.connect_timeout)
            except Exception as exc:
                logger.debug("telemetry: cancelling the command consumer failed: %r", exc)
        task = self._command_task
        if task is not None and task is not asyncio.current_task() and not task.done():
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(task), within)

    async def _on_command_message(self, message: AbstractIncomingMessage) -> None:
        handler = self._command_handler
        self._command_task = asyncio.current_task()
        try:
            if handler is not None:
                await handler(message.body, message.message_id)
        except Exception:  # a command must never take the consumer down
            logger.exception("telemetry: command handler failed")
        finally:
            try:
                await message.ack()
            except Exception as exc:  # the channel went away; the broker redelivers
                logger.warning("telemetry: could not ack a command: %r", exc)
            self._command_task = None


# -- status for `vaos doctor` --------------------------------------------------------------


def telemetry_status(settings: Settings, *, timeout: float = 1.0) -> dict[str, Any]:
    """What ``vaos doctor`` reports: broker configured and answering, and what is spooled.

    Import-light and synchronous: a TCP probe of the broker and a count of the spool files.
    ``state`` is ``reachable``, ``unreachable`` or ``disabled``; ``message`` and ``fix`` are
    one line each.
    """
    spool = inspect(spool_directory(settings)).to_dict()
    url = settings.amqp.url
    result: dict[str, Any] = {"broker": redact_url(url) if url else None, "spool": spool}
    waiting = f"{spool['pending']} messages spooled in {spool['directory']}"
    if not url:
        return {
            **result,
            "state": "disabled",
            "message": f"no AMQP broker configured: telemetry is spooled locally ({waiting})",
            "fix": "set VAOS_AMQP__URL to ship telemetry",
        }
    parts = urlsplit(url)
    host = parts.hostname or "127.0.0.1"
    port = parts.port or (5671 if parts.scheme == "amqps" else 5672)
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        return {
            **result,
            "state": "unreachable",
            "message": f"AMQP broker at {host}:{port} does not answer ({exc.strerror or exc}): {waiting}",
            "fix": "start RabbitMQ (scripts/ensure-rabbitmq) or set VAOS_AMQP__URL",
        }
    return {
        **result,
        "state": "reachable",
        "message": f"AMQP broker at {host}:{port} answers; {waiting}",
        "fix": None,
    }


# -- wiring for the daemon -----------------------------------------------------------------


async def start_telemetry(
    settings: Settings,
    *,
    bus: EventBus,
    keys: KeySource,
    audit: AuditSink | None,
    on_pause: Callback | None = None,
    on_resume: Callback | None = None,
    on_shutdown: Callback | None = None,
) -> tuple[TelemetryPublisher, CommandController]:
    """Start the publisher on ``bus`` with the kernel command consumer wired in.

    ``keys`` is the kernel ``KeyStore``; ``audit`` appends to the audit ledger (e.g.
    ``commands.ledger_audit(kernel.ledger)``). The daemon then awaits
    ``controller.wait_for_shutdown()``, drains its own work, calls ``publisher.stop()`` and
    exits 0; ``controller.is_paused(agent_id)`` says whether to take new work.
    """
    from vaos.governance.commands import CommandController, CommandProcessor, NonceStore
    from vaos.governance.daemon_state import DaemonStateStore

    controller = CommandController(
        DaemonStateStore.for_home(settings.home),
        on_pause=on_pause,
        on_resume=on_resume,
        on_shutdown=on_shutdown,
    )
    processor = CommandProcessor(
        keys,
        NonceStore.for_home(settings.home),
        controller,
        audit=audit,
        bus=bus,
        max_ttl=settings.amqp.command_max_ttl,
    )
    publisher = TelemetryPublisher.from_settings(settings, bus=bus)
    publisher.consume_commands(processor.handle)
    await publisher.start()
    return publisher, controller
