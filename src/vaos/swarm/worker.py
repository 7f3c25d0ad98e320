"""``vaos worker``: take swarm and agent tasks from the work queues and run them.

An agent task runs through the governed agent loop of this process's runtime and its result
is stored (once per task id) **before** the message is acknowledged; then a hint goes to the
coordinator's reply queue. If the worker dies mid-task the broker redelivers the message to
another worker; a task whose result already exists is acknowledged without running again.
A failure to store (the database is down…) rejects the message back to the queue, and after
``VAOS_SWARM__MAX_DELIVERIES`` deliveries it is dead-lettered; the worker then records it as
a failed result so the coordinator is not left waiting.

A swarm task makes this worker the swarm's coordinator (its agents go to the queue, so any
worker may run them); it is acknowledged when the swarm has finished. Up to
``VAOS_SWARM__PREFETCH`` agent tasks and as many swarms run at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaos.swarm.coordinator import Coordinator
from vaos.swarm.executor import ModelFor, execute_agent_task, worker_name
from vaos.swarm.queue import QueueExecutor, WorkQueue, declare_queues, decode, encode
from vaos.swarm.tasks import AgentTask

if TYPE_CHECKING:
    from aio_pika.abc import AbstractChannel, AbstractIncomingMessage, AbstractQueue

    from vaos.config import Settings
    from vaos.events import EventBus
    from vaos.store.swarms import SwarmStore

logger = logging.getLogger(__name__)


@dataclass
class WorkerStats:
    agent_tasks: int = 0
    duplicates: int = 0
    swarms: int = 0
    requeued: int = 0
    dead_lettered: int = 0
    in_flight: int = 0
    errors: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "agent_tasks": self.agent_tasks,
            "duplicates": self.duplicates,
            "swarms": self.swarms,
            "requeued": self.requeued,
            "dead_lettered": self.dead_lettered,
            "in_flight": self.in_flight,
        }


class Worker:
    def __init__(
        self,
        settings: Settings,
        runtime: Any,
        store: SwarmStore,
        *,
        bus: EventBus | None = None,
        name: str | None = None,
        prefetch: int | None = None,
        model_for: ModelFor | None = None,
    ) -> None:
        self.settings = settings
        self.runtime = runtime
        self.store = store
        self.bus = bus
        self.name = name or worker_name()
        self.prefetch = prefetch or settings.swarm.prefetch
        self.model_for = model_for
        self.stats = WorkerStats()
        self.work: WorkQueue | None = None
        self._channels: list[AbstractChannel] = []
        self._consumers: list[tuple[AbstractQueue, str]] = []
        self._tasks: set[asyncio.Task[Any]] = set()

    async def start(self) -> Worker:
        """Connect, declare the queues and start consuming."""
        self.work = await WorkQueue.open(self.settings, name="vaos-worker")
        connection = self.work.connection
        try:
            agents_channel = await connection.channel()
            await agents_channel.set_qos(prefetch_count=self.prefetch)
            agents, _, _ = await declare_queues(
                agents_channel, self.work.names, max_deliveries=self.settings.swarm.max_deliveries
            )
            swarms_channel = await connection.channel()
            await swarms_channel.set_qos(prefetch_count=self.prefetch)
            _, swarms, _ = await declare_queues(
                swarms_channel, self.work.names, max_deliveries=self.settings.swarm.max_deliveries
            )
            dead_channel = await connection.channel()
            await dead_channel.set_qos(prefetch_count=1)
            _, _, dead = await declare_queues(
                dead_channel, self.work.names, max_deliveries=self.settings.swarm.max_deliveries
            )
            self._channels = [agents_channel, swarms_channel, dead_channel]
            for queue, handler in ((agents, self._on_agent), (swarms, self._on_swarm), (dead, self._on_dead)):
                tag = await queue.consume(handler, no_ack=False)
                self._consumers.append((queue, tag))
        except BaseException:
            await self.work.aclose()
            raise
        logger.info("worker %s consuming %s (prefetch %d)", self.name, self.work.names.agents, self.prefetch)
        return self

    async def stop(self, grace: float = 10.0) -> None:
        """Stop taking tasks, let the running ones finish (up to ``grace`` s), then close.
        Tasks still running after that are abandoned unacknowledged: the broker redelivers them."""
        for queue, tag in self._consumers:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(queue.cancel(tag), 5)
        self._consumers.clear()
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=grace)
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
        if self.work is not None:
            await self.work.aclose()
            self.work = None

    async def __aenter__(self) -> Worker:
        return await self.start()

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    # -- handlers ------------------------------------------------------------------------------

    def _track(self) -> asyncio.Task[Any] | None:
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        return task

    async def _on_agent(self, message: AbstractIncomingMessage) -> None:
        self._track()
        try:
            body = decode(message)
            task = AgentTask.from_dict(body["task"])
        except Exception as exc:
            logger.warning(
                "worker %s: unreadable agent task %s dead-lettered: %r", self.name, message.message_id, exc
            )
            await message.reject(requeue=False)
            return
        self.stats.in_flight += 1
        try:
            override = self.model_for(task) if self.model_for is not None else None
            run, stored = await execute_agent_task(
                self.runtime, self.store, task, worker=self.name, model_override=override
            )
        except asyncio.CancelledError:
            raise  # stopping: unacknowledged, the broker redelivers
        except Exception as exc:
            self.stats.requeued += 1
            logger.warning("worker %s: task %s not stored (%r); back to the queue", self.name, task.id, exc)
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            return
        finally:
            self.stats.in_flight -= 1
        await message.ack()
        if stored:
            self.stats.agent_tasks += 1
        else:
            self.stats.duplicates += 1
        await self._hint(message.reply_to, task.id, run.to_stored())

    async def _hint(self, reply_to: str | None, task_id: str, result: dict[str, Any] | None = None) -> None:
        if not reply_to or self.work is None:
            return
        import aio_pika

        try:
            channel = self._channels[0]
            await channel.default_exchange.publish(
                aio_pika.Message(
                    encode({"task_id": task_id, "result": result}), content_type="application/json"
                ),
                routing_key=reply_to,
            )
        except Exception as exc:  # the store has the result; the coordinator's poll finds it
            logger.debug("worker %s: reply hint for %s lost: %r", self.name, task_id, exc)

    async def _on_swarm(self, message: AbstractIncomingMessage) -> None:
        self._track()
        try:
            swarm_id = str(decode(message)["swarm_id"])
        except Exception as exc:
            logger.warning("worker %s: unreadable swarm task dead-lettered: %r", self.name, exc)
            await message.reject(requeue=False)
            return
        assert self.work is not None
        executor = QueueExecutor(self.work, self.store, poll=self.settings.swarm.result_poll)
        coordinator = Coordinator(
            store=self.store,
            executor=executor,
            settings=self.settings.swarm,
            bus=self.bus,
            governance=getattr(self.runtime, "governance", None),
            name=self.name,
        )
        try:
            await coordinator.run(swarm_id)
        except asyncio.CancelledError:
            if await self._swarm_finished(swarm_id):  # the swarm was cancelled: done with it
                await message.ack()
                return
            raise
        except Exception as exc:
            self.stats.requeued += 1
            logger.warning(
                "worker %s: swarm %s not coordinated (%r); back to the queue", self.name, swarm_id, exc
            )
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            return
        finally:
            await executor.aclose()
        self.stats.swarms += 1
        await message.ack()

    async def _swarm_finished(self, swarm_id: str) -> bool:
        from vaos.store.swarms import FINISHED_SWARM

        with contextlib.suppress(Exception):
            return (await self.store.swarm_status(swarm_id)) in FINISHED_SWARM
        return False

    async def _on_dead(self, message: AbstractIncomingMessage) -> None:
        """A task delivered too often: record it as failed so no coordinator waits for ever."""
        self._track()
        try:
            body = decode(message)
        except Exception:
            await message.ack()  # unreadable: nothing to record
            return
        reason = (
            f"dead-lettered after {self.settings.swarm.max_deliveries} deliveries without a stored result"
        )
        try:
            if body.get("kind") == "agent":
                task = AgentTask.from_dict(body["task"])
                await self.store.record_result(task.id, status="failed", error=reason, worker=self.name)
                await self._hint(message.reply_to, task.id)
            elif body.get("kind") == "swarm":
                await self.store.update_swarm(
                    str(body["swarm_id"]),
                    only_from=("queued", "planning", "running"),
                    status="failed",
                    error=f"coordination {reason}",
                )
        except KeyError:
            pass  # the task or swarm is gone
        except Exception as exc:
            logger.warning("worker %s: dead-lettered task not recorded: %r", self.name, exc)
            await asyncio.sleep(1.0)
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
            return
        self.stats.dead_lettered += 1
        await message.ack()
