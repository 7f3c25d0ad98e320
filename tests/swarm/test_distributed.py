"""Distributed swarms on the real RabbitMQ and PostgreSQL: ``vaos worker`` processes share a
swarm; one is killed (SIGKILL) mid-task and the swarm still completes with every result
exactly once; a task that cannot be stored is dead-lettered and recorded as failed."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest

from conftest import BROKER_URL, PgSchema
from vaos.config import Settings
from vaos.store.database import Database
from vaos.store.swarms import SwarmStore
from vaos.swarm.queue import WorkQueue
from vaos.swarm.service import SwarmService
from vaos.swarm.testing import EchoRuntime
from vaos.swarm.worker import Worker

pytestmark = [pytest.mark.rabbitmq, pytest.mark.postgres, pytest.mark.slow]


def _settings(pg: PgSchema, prefix: str, **swarm: Any) -> Settings:
    values: dict[str, Any] = {
        "executor": "queue",
        "planner": "fallback",
        "result_poll": 0.3,
        "prefetch": 2,
        "max_deliveries": 3,
        "runtime": "vaos.swarm.testing:open_echo_runtime",
    }
    values.update(swarm)
    return Settings(
        database={"url": pg.url},
        amqp={"url": BROKER_URL, "name_prefix": prefix, "connect_timeout": 3.0, "reconnect_interval": 0.5},
        governance={"mode": "off"},
        swarm=values,
    )


def _env(settings: Settings, home: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAOS_")}
    env.update(
        VAOS_HOME=str(home),
        VAOS_DATABASE__URL=str(settings.database.url),
        VAOS_AMQP__URL=BROKER_URL,
        VAOS_AMQP__NAME_PREFIX=settings.amqp.name_prefix,
        VAOS_GOVERNANCE__MODE="off",
        VAOS_SWARM__RUNTIME=settings.swarm.runtime,
        VAOS_SWARM__PREFETCH=str(settings.swarm.prefetch),
        VAOS_SWARM__RESULT_POLL=str(settings.swarm.result_poll),
        VAOS_SWARM__MAX_DELIVERIES=str(settings.swarm.max_deliveries),
    )
    return env


async def _until(predicate: Callable[[], Any], within: float, what: str) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        value = await predicate()
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            pytest.fail(f"{what}: not within {within:g} s", pytrace=False)
        await asyncio.sleep(0.1)


@pytest.fixture
async def db(pg_schema: PgSchema) -> AsyncIterator[Database]:
    database = Database(pg_schema.url)
    await database.migrate()
    try:
        yield database
    finally:
        await database.dispose()


async def test_two_workers_share_a_swarm_and_survive_a_sigkill(
    pg_schema: PgSchema, queue_prefix: str, db: Database, tmp_path: Path
) -> None:
    settings = _settings(pg_schema, queue_prefix)
    store = SwarmStore(db)
    env = _env(settings, tmp_path / "home")
    workers = _start_workers(env, 2)
    work = await WorkQueue.open(settings)
    service = SwarmService(EchoRuntime(settings), settings=settings, store=store, coordinate="queue")
    try:
        await _until(lambda: _consumers(work, 2), 60, "two workers consuming")
        agents = [{"role": "coder", "task": f"part {i} [[sleep 1.5]]"} for i in range(6)]
        swarm_id = await service.launch("Build six parts", "parallel", agents=agents)

        async def running_task() -> dict[str, Any] | None:
            for task in await store.tasks(swarm_id):
                if task["status"] == "running" and task["step"].startswith("a"):
                    return task
            return None

        victim_task = await _until(running_task, 60, "an agent task running on a worker")
        victim_pid = int(victim_task["worker"].rsplit(":", 1)[1])
        victim = next(w for w in workers if w.pid == victim_pid)
        victim.send_signal(signal.SIGKILL)
        victim.wait(10)

        status = await service.wait(swarm_id, within=90)
        assert status["status"] == "completed", status
        assert [a["status"] for a in status["agents"]] == ["done"] * 6
        assert [a["result"] for a in status["agents"]] == [f"coder: part {i}" for i in range(6)]
        tasks = await store.tasks(swarm_id)
        results = await store.results(swarm_id)
        # exactly one result per task, and the killed task was delivered again
        assert sorted(r["task_id"] for r in results) == sorted(t["id"] for t in tasks)
        again = next(t for t in tasks if t["id"] == victim_task["id"])
        assert again["attempts"] >= 2
        survivor = next(w for w in workers if w.pid != victim_pid)
        assert next(r for r in results if r["task_id"] == victim_task["id"])["worker"].endswith(
            f":{survivor.pid}"
        )
        messages = await store.messages(swarm_id)
        outputs = [m["task_id"] for m in messages]
        assert len(outputs) == len(set(outputs)) == len([r for r in results if r["output"]])
    finally:
        await service.aclose()
        await work.aclose()
        for worker in workers:
            if worker.poll() is None:
                worker.send_signal(signal.SIGTERM)
        for worker in workers:
            try:
                worker.wait(20)
            except subprocess.TimeoutExpired:
                worker.kill()
                worker.wait(5)
            if worker.stderr is not None:
                worker.stderr.close()


def _start_workers(env: dict[str, str], count: int) -> list[subprocess.Popen[str]]:
    return [
        subprocess.Popen(
            [sys.executable, "-m", "vaos", "worker", "--grace", "2"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]


async def _consumers(work: WorkQueue, count: int) -> bool:
    return await work.consumers() >= count


class FailingStore(SwarmStore):
    """A store whose writes for one task fail, as when the database is down for it."""

    def __init__(self, db: Database, failing_step: str) -> None:
        super().__init__(db)
        self.failing_step = failing_step
        self.failures = 0

    async def begin_task(self, task_id: str, worker: str) -> tuple[dict[str, Any] | None, int, str | None]:
        if task_id.endswith("/" + self.failing_step):
            self.failures += 1
            raise RuntimeError("the store is down for this task")
        return await super().begin_task(task_id, worker)


async def test_a_task_that_cannot_be_stored_is_dead_lettered(
    pg_schema: PgSchema, queue_prefix: str, db: Database
) -> None:
    settings = _settings(pg_schema, queue_prefix, max_deliveries=2)
    store = SwarmStore(db)
    failing = FailingStore(db, "a1")
    worker = Worker(settings, EchoRuntime(settings), failing, prefetch=4)
    await worker.start()
    service = SwarmService(EchoRuntime(settings), settings=settings, store=store, executor="queue")
    try:
        status = await service.run(
            "t",
            "parallel",
            agents=[{"role": "coder", "task": "fine"}, {"role": "writer", "task": "poisoned"}],
        )
    finally:
        await service.aclose()
        await worker.stop(grace=2)
    assert failing.failures == 2  # delivered max_deliveries times, then dead-lettered
    assert [a["status"] for a in status["agents"]] == ["done", "failed"]
    assert "dead-lettered after 2 deliveries" in status["agents"][1]["error"]
    assert status["status"] == "completed"
    assert worker.stats.dead_lettered == 1
