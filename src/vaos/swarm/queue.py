"""The RabbitMQ work queues of distributed swarms (aio-pika).

Names (each prefixed with ``VAOS_AMQP__NAME_PREFIX``):

``vaos.swarm.agents``   agent tasks (``{"kind": "agent", "task": AgentTask}``), quorum queue
``vaos.swarm.swarms``   swarms to coordinate (``{"kind": "swarm", "swarm_id"}``), quorum queue
``vaos.swarm.dlx``      fanout exchange the two queues dead-letter into
``vaos.swarm.dead``     what was dead-lettered: a worker records it as a failed result

Both work queues are durable quorum queues with ``x-delivery-limit``: a message delivered
``VAOS_SWARM__MAX_DELIVERIES`` times without an acknowledgement — its worker crashed, or
failed to store the result — is dead-lettered instead of looping for ever. Messages are
persistent and published with publisher confirms. A coordinator waits for results through
a private reply queue (a hint: "task X has a result") and reads them from the store, which
stays the truth; a poll of the store every ``VAOS_SWARM__RESULT_POLL`` seconds covers lost
hints and notices cancels.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import orjson

from vaos.store.swarms import FINISHED_SWARM
from vaos.swarm.errors import SwarmUnavailableError
from vaos.swarm.executor import worker_name
from vaos.swarm.tasks import AgentRun, AgentTask

if TYPE_CHECKING:
    from aio_pika.abc import (
        AbstractChannel,
        AbstractIncomingMessage,
        AbstractQueue,
        AbstractRobustConnection,
    )

    from vaos.config import Settings
    from vaos.store.swarms import SwarmStore

logger = logging.getLogger(__name__)

CONTENT_TYPE: Final = "application/json"


@dataclass(frozen=True)
class QueueNames:
    agents: str
    swarms: str
    dead_exchange: str
    dead: str

    @classmethod
    def with_prefix(cls, prefix: str = "") -> QueueNames:
        return cls(
            agents=f"{prefix}vaos.swarm.agents",
            swarms=f"{prefix}vaos.swarm.swarms",
            dead_exchange=f"{prefix}vaos.swarm.dlx",
            dead=f"{prefix}vaos.swarm.dead",
        )


def work_queue_arguments(names: QueueNames, max_deliveries: int) -> dict[str, Any]:
    return {
        "x-queue-type": "quorum",
        "x-delivery-limit": max(0, max_deliveries - 1),
        "x-dead-letter-exchange": names.dead_exchange,
    }


async def declare_queues(
    channel: AbstractChannel, names: QueueNames, *, max_deliveries: int
) -> tuple[AbstractQueue, AbstractQueue, AbstractQueue]:
    """Declare (idempotently) the dead-letter exchange and the three queues."""
    import aio_pika

    dlx = await channel.declare_exchange(names.dead_exchange, aio_pika.ExchangeType.FANOUT, durable=True)
    dead = await channel.declare_queue(names.dead, durable=True)
    await dead.bind(dlx)
    arguments = work_queue_arguments(names, max_deliveries)
    agents = await channel.declare_queue(names.agents, durable=True, arguments=arguments)
    swarms = await channel.declare_queue(names.swarms, durable=True, arguments=arguments)
    return agents, swarms, dead


async def connect(settings: Settings, *, name: str) -> AbstractRobustConnection:
    """A robust connection to ``VAOS_AMQP__URL``; ``SwarmUnavailableError`` when none answers."""
    import aio_pika

    url = settings.amqp.url
    if not url:
        raise SwarmUnavailableError("no broker: VAOS_AMQP__URL is unset")
    timeout = settings.amqp.connect_timeout
    try:
        async with asyncio.timeout(timeout * 2):
            connection: AbstractRobustConnection = await aio_pika.connect_robust(
                url,
                timeout=timeout,
                reconnect_interval=settings.amqp.reconnect_interval,
                client_properties={"connection_name": f"{name}-{os.getpid()}"},
            )
    except Exception as exc:
        from vaos.governance.telemetry import redact_url

        raise SwarmUnavailableError(f"the broker at {redact_url(url)} is unreachable ({exc})") from None
    return connection


def encode(body: dict[str, Any]) -> bytes:
    return orjson.dumps(body)


def decode(message: AbstractIncomingMessage) -> dict[str, Any]:
    value = orjson.loads(message.body)
    if not isinstance(value, dict):
        raise ValueError("a work message is a JSON object")
    return value


class WorkQueue:
    """A publisher on the work queues (with confirms), and the coordinator's reply queue."""

    def __init__(self, settings: Settings, connection: AbstractRobustConnection, names: QueueNames) -> None:
        self.settings = settings
        self.connection = connection
        self.names = names
        self._channel: AbstractChannel | None = None
        self._reply_queue: AbstractQueue | None = None
        self._reply_tag: str | None = None
        self._waiters: dict[str, asyncio.Future[dict[str, Any] | None]] = {}
        self.agent_consumers = 0

    @classmethod
    async def open(cls, settings: Settings, *, name: str = "vaos-swarm") -> WorkQueue:
        connection = await connect(settings, name=name)
        queue = cls(settings, connection, QueueNames.with_prefix(settings.amqp.name_prefix))
        try:
            await queue._setup()
        except BaseException:
            with contextlib.suppress(Exception):
                await connection.close()
            raise
        return queue

    async def _setup(self) -> None:
        channel = await self.connection.channel(publisher_confirms=True)
        agents, _, _ = await declare_queues(
            channel, self.names, max_deliveries=self.settings.swarm.max_deliveries
        )
        self.agent_consumers = int(getattr(agents.declaration_result, "consumer_count", 0) or 0)
        self._channel = channel

    async def consumers(self) -> int:
        """Workers listening on the agent queue now."""
        assert self._channel is not None
        queue = await self._channel.declare_queue(
            self.names.agents,
            durable=True,
            arguments=work_queue_arguments(self.names, self.settings.swarm.max_deliveries),
        )
        return int(getattr(queue.declaration_result, "consumer_count", 0) or 0)

    async def publish(
        self, queue: str, body: dict[str, Any], *, message_id: str, reply: bool = False
    ) -> None:
        import aio_pika

        assert self._channel is not None
        reply_to = await self._ensure_reply_queue() if reply else None
        await self._channel.default_exchange.publish(
            aio_pika.Message(
                encode(body),
                content_type=CONTENT_TYPE,
                delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                message_id=message_id,
                reply_to=reply_to,
            ),
            routing_key=queue,
            timeout=self.settings.amqp.publish_timeout,
        )

    async def publish_swarm(self, swarm_id: str) -> None:
        await self.publish(self.names.swarms, {"kind": "swarm", "swarm_id": swarm_id}, message_id=swarm_id)

    async def _ensure_reply_queue(self) -> str:
        if self._reply_queue is None:
            assert self._channel is not None
            queue = await self._channel.declare_queue("", exclusive=True, auto_delete=True)
            self._reply_tag = await queue.consume(self._on_reply, no_ack=True)
            self._reply_queue = queue
        return self._reply_queue.name

    async def _on_reply(self, message: AbstractIncomingMessage) -> None:
        try:
            body = decode(message)
        except ValueError:
            return
        result = body.get("result")
        self.wake(str(body.get("task_id", "")), result if isinstance(result, dict) else None)

    def wake(self, task_id: str, result: dict[str, Any] | None = None) -> None:
        """Wake the task's waiter, with its stored result when the hint carries it."""
        waiter = self._waiters.get(task_id)
        if waiter is not None and not waiter.done():
            waiter.set_result(result)

    def waiter(self, task_id: str) -> asyncio.Future[dict[str, Any] | None]:
        future = self._waiters.get(task_id)
        if future is None or future.done():
            future = asyncio.get_running_loop().create_future()
            self._waiters[task_id] = future
        return future

    def forget(self, task_id: str) -> None:
        self._waiters.pop(task_id, None)

    async def aclose(self) -> None:
        for future in self._waiters.values():
            if not future.done():
                future.cancel()
        self._waiters.clear()
        with contextlib.suppress(Exception):
            await asyncio.wait_for(self.connection.close(), self.settings.amqp.connect_timeout)


class QueueExecutor:
    """Agent tasks on the work queue; results gathered from the store.

    Each waiting task is woken by the worker's reply hint, or by one poller that checks all
    waiting tasks in one query every ``poll`` seconds (lost hints, cancelled swarms)."""

    name = "queue"

    def __init__(self, work: WorkQueue, store: SwarmStore, *, poll: float = 1.0) -> None:
        self.work = work
        self.store = store
        self.poll = poll
        self.worker = worker_name()
        self._pending: dict[str, AgentTask] = {}
        self._poller: asyncio.Task[None] | None = None

    async def run(self, task: AgentTask, *, fresh: bool = True) -> AgentRun:
        stored_task = None if fresh else await self.store.get_task(task.id)
        self.work.waiter(task.id)
        self._pending[task.id] = task
        try:
            if (
                fresh
                or stored_task is None
                or (stored_task["attempts"] == 0 and stored_task["status"] == "queued")
            ):
                # A resumed coordinator republishes only what no worker has started; a duplicate
                # is recognised by its task id and its result stored once.
                await self.work.publish(
                    self.work.names.agents,
                    {"kind": "agent", "task": task.to_dict()},
                    message_id=task.id,
                    reply=True,
                )
            if self._poller is None or self._poller.done():
                self._poller = asyncio.create_task(self._poll_loop(), name="vaos-swarm-results")
            while True:
                hinted = await self.work.waiter(task.id)
                stored = hinted if hinted is not None else await self.store.get_result(task.id)
                if stored is not None:
                    return AgentRun.from_stored(task, stored)
                status = await self.store.swarm_status(task.swarm_id)
                if status is None or status in FINISHED_SWARM:
                    saved, _ = await self.store.record_result(
                        task.id, status="cancelled", error=f"the swarm is {status or 'gone'}"
                    )
                    return AgentRun.from_stored(task, saved)
        finally:
            self._pending.pop(task.id, None)
            self.work.forget(task.id)

    async def _poll_loop(self) -> None:
        while self._pending:
            await asyncio.sleep(self.poll)
            pending = dict(self._pending)
            try:
                found = await self.store.results_for(pending)
                finished = set()
                for swarm_id in {t.swarm_id for t in pending.values()}:
                    status = await self.store.swarm_status(swarm_id)
                    if status is None or status in FINISHED_SWARM:
                        finished.add(swarm_id)
            except Exception as exc:  # the store may blink; the next poll tries again
                logger.debug("swarm result poll failed: %r", exc)
                continue
            for task_id, task in pending.items():
                if task_id in found or task.swarm_id in finished:
                    self.work.wake(task_id)

    async def aclose(self) -> None:
        if self._poller is not None:
            self._poller.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._poller
