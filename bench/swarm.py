"""Benchmark of distributed swarms: 1,000 trivial agent tasks through the work queue.

For 1 and then 2 ``vaos worker`` processes (the echo runtime: no model, so the figures are
the swarm machinery's own), a coordinator in this process runs 1,000 agent tasks of one
swarm exactly as a pattern does (``SwarmRun.run``: task stored, published with confirms,
result stored once by a worker, gathered from PostgreSQL), ``max_parallel`` at a time.
Prints throughput, the scaling ratio 2 workers / 1 worker, and the coordinator's overhead
per task: its CPU time per task in the distributed runs, and the whole cost per task when
the same tasks run in-process (``LocalExecutor``, no queue).

    .venv/bin/python bench/swarm.py [--tasks 1000] [--prefetch 32] [--parallel 64]

Needs RabbitMQ and PostgreSQL (``scripts/ensure-rabbitmq``, ``scripts/ensure-postgres``);
uses a queue prefix, a schema and a role of its own, and removes them.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika
from rich.console import Console
from rich.table import Table
from sqlalchemy import text
from sqlalchemy.engine import make_url

from vaos.config import Settings
from vaos.store.database import Database
from vaos.store.swarms import SwarmStore
from vaos.swarm.execution import SwarmRun
from vaos.swarm.executor import Executor, LocalExecutor
from vaos.swarm.limits import Limits
from vaos.swarm.mailbox import Mailbox
from vaos.swarm.plan import PlannedAgent
from vaos.swarm.queue import QueueExecutor, WorkQueue
from vaos.swarm.roster import load_roster
from vaos.swarm.testing import EchoRuntime

BROKER = "amqp://guest:guest@127.0.0.1:5672/"
POSTGRES = (
    os.environ.get("VAOS_TEST_POSTGRES_URL") or "postgresql+asyncpg://postgres@127.0.0.1:5432/vaos_test"
)
RUNTIME = "vaos.swarm.testing:open_echo_runtime"


async def make_schema(admin: Database, name: str) -> str:
    async with admin.session() as s:
        await s.execute(text(f'CREATE ROLE "{name}" LOGIN'))
        await s.execute(text(f'CREATE SCHEMA "{name}" AUTHORIZATION "{name}"'))
        await s.execute(text(f'ALTER ROLE "{name}" SET search_path = "{name}"'))
    return make_url(POSTGRES).set(username=name).render_as_string(hide_password=False)


async def drop_schema(admin: Database, name: str) -> None:
    async with admin.session() as s:
        await s.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
        await s.execute(
            text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :n"), {"n": name}
        )
        await s.execute(text(f'DROP ROLE IF EXISTS "{name}"'))


def settings_for(url: str, prefix: str, prefetch: int) -> Settings:
    return Settings(
        database={"url": url},
        amqp={"url": BROKER, "name_prefix": prefix},
        governance={"mode": "off"},
        swarm={"executor": "queue", "prefetch": prefetch, "result_poll": 0.5, "runtime": RUNTIME},
    )


def start_workers(settings: Settings, count: int, home: Path) -> list[subprocess.Popen[bytes]]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAOS_")}
    env.update(
        VAOS_HOME=str(home),
        VAOS_DATABASE__URL=str(settings.database.url),
        VAOS_AMQP__URL=BROKER,
        VAOS_AMQP__NAME_PREFIX=settings.amqp.name_prefix,
        VAOS_GOVERNANCE__MODE="off",
        VAOS_SWARM__RUNTIME=RUNTIME,
        VAOS_SWARM__PREFETCH=str(settings.swarm.prefetch),
    )
    return [
        subprocess.Popen(
            [sys.executable, "-m", "vaos", "worker", "--grace", "5"], env=env, stderr=subprocess.DEVNULL
        )
        for _ in range(count)
    ]


def stop_workers(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        worker.terminate()
    for worker in workers:
        try:
            worker.wait(30)
        except subprocess.TimeoutExpired:
            worker.kill()


async def run_batch(store: SwarmStore, executor: Executor, tasks: int, parallel: int) -> tuple[float, float]:
    """``(wall seconds, coordinator CPU seconds)`` for ``tasks`` agent tasks of one new swarm."""
    swarm_id = f"swarm_bench{uuid.uuid4().hex[:8]}"
    limits = Limits(max_parallel=parallel, agent_timeout=60, timeout=600)
    await store.create_swarm(
        swarm_id, task="bench", pattern="parallel", launched_by="vaos", limits=limits.to_dict()
    )
    await store.update_swarm(swarm_id, status="running")
    swarm = SwarmRun(
        swarm_id=swarm_id,
        task="bench",
        roster=load_roster(),
        limits=limits,
        store=store,
        executor=executor,
        mailbox=Mailbox(store, swarm_id),
    )
    member = PlannedAgent("coder", "coder", "coder", "specialist", "trivial")
    items = [(f"a{i}", member, f"trivial task {i}") for i in range(tasks)]
    cpu, wall = time.process_time(), time.perf_counter()
    runs = await swarm.run_many(items)
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    failed = [r for r in runs if r.status != "done"]
    if failed:
        raise SystemExit(f"{len(failed)} tasks failed, e.g. {failed[0].error}")
    results = await store.results(swarm_id)
    if len(results) != tasks:
        raise SystemExit(f"{len(results)} results stored for {tasks} tasks")
    return wall, cpu


async def wait_consumers(work: WorkQueue, count: int, *, exactly: bool = False) -> None:
    deadline = time.monotonic() + 60
    for _ in range(600):
        found = await work.consumers()
        if found == count or (found > count and not exactly):
            return
        if time.monotonic() > deadline:
            break
        await asyncio.sleep(0.1)
    raise SystemExit(f"the queue did not reach {count} consumers within 60 s")


async def main(args: argparse.Namespace) -> None:
    name = f"vaos_bench_{uuid.uuid4().hex[:10]}"
    prefix = f"vaos-bench-{uuid.uuid4().hex[:8]}."
    admin = Database(POSTGRES)
    url = await make_schema(admin, name)
    rows: list[tuple[str, int, float, float]] = []
    try:
        settings = settings_for(url, prefix, args.prefetch)
        db = Database(url)
        await db.migrate()
        store = SwarmStore(db)
        # in-process: the same tasks without a queue (the whole per-task cost in one process)
        local = LocalExecutor(EchoRuntime(settings), store)
        wall, cpu = await run_batch(store, local, args.tasks, args.parallel)
        rows.append(("in-process", 0, wall, cpu))
        work = await WorkQueue.open(settings, name="vaos-bench")
        executor = QueueExecutor(work, store, poll=settings.swarm.result_poll)
        with tempfile.TemporaryDirectory() as home:
            for count in (1, 2):
                workers = start_workers(settings, count, Path(home))
                try:
                    await wait_consumers(work, count)
                    await run_batch(store, executor, min(100, args.tasks), args.parallel)  # warm-up
                    wall, cpu = await run_batch(store, executor, args.tasks, args.parallel)
                    rows.append(("queue", count, wall, cpu))
                finally:
                    stop_workers(workers)
                    await wait_consumers(work, 0, exactly=True)
        await executor.aclose()
        await work.aclose()
        await db.dispose()
    finally:
        await drop_schema(admin, name)
        await admin.dispose()
        await delete_queues(prefix)
    table = Table(
        title=f"{args.tasks} trivial agent tasks (prefetch {args.prefetch}, {args.parallel} in flight)"
    )
    for column in ("executor", "workers", "wall s", "tasks/s", "coordinator CPU ms/task"):
        table.add_column(column, justify="right")
    for mode, count, wall, cpu in rows:
        table.add_row(
            mode,
            str(count or "-"),
            f"{wall:.2f}",
            f"{args.tasks / wall:,.0f}",
            f"{cpu / args.tasks * 1000:.2f}",
        )
    Console(width=120).print(table)
    one = next(r for r in rows if r[1] == 1)
    two = next(r for r in rows if r[1] == 2)
    print(f"scaling 2 workers / 1 worker: {one[2] / two[2]:.2f}x (on {os.cpu_count()} cores)")


async def delete_queues(prefix: str) -> None:
    connection = await aio_pika.connect_robust(BROKER, timeout=5)
    try:
        for queue in ("vaos.swarm.agents", "vaos.swarm.swarms", "vaos.swarm.dead"):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(prefix + queue)
        channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.exchange_delete(prefix + "vaos.swarm.dlx")
    finally:
        await connection.close()


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--tasks", type=int, default=1000)
    parser.add_argument("--prefetch", type=int, default=32)
    parser.add_argument("--parallel", type=int, default=64)
    return parser.parse_args(argv)


if __name__ == "__main__":
    asyncio.run(main(parse()))
