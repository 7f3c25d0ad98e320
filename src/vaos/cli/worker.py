"""``vaos worker``: join distributed swarms — consume swarm and agent tasks from RabbitMQ.

Runs until SIGTERM or SIGINT, then stops taking tasks, lets the running ones finish (up to
``--grace`` seconds) and exits 0; tasks still running after that are redelivered by the
broker to another worker. Exit 1 when the broker (``VAOS_AMQP__URL``), the store or the agent
runtime cannot be had.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import sys
from typing import TYPE_CHECKING, Annotated

import typer

from vaos.cli.app import app
from vaos.cli.errors import fail

if TYPE_CHECKING:
    from vaos.config import Settings


@app.command("worker")
def worker(
    prefetch: Annotated[
        int | None, typer.Option("--prefetch", min=1, max=1000, help="Unacknowledged tasks at a time.")
    ] = None,
    grace: Annotated[float, typer.Option("--grace", min=0, help="Seconds to finish running tasks.")] = 30.0,
    verbose: Annotated[bool, typer.Option("--verbose", "-v", help="Log every task.")] = False,
) -> None:
    """Consume swarm and agent tasks from the work queues until stopped."""
    from vaos.cli.route import load_settings

    settings = load_settings()
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    asyncio.run(_serve(settings, prefetch, grace))


async def _serve(settings: Settings, prefetch: int | None, grace: float) -> None:
    from vaos.events import EventBus
    from vaos.store.database import Database
    from vaos.store.swarms import SwarmStore
    from vaos.swarm.errors import SwarmUnavailableError
    from vaos.swarm.executor import load_runtime_factory
    from vaos.swarm.worker import Worker

    try:
        factory = load_runtime_factory(settings.swarm.runtime)
    except SwarmUnavailableError as exc:
        fail(str(exc))
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    bus = EventBus()
    async with contextlib.AsyncExitStack() as stack:
        runtime = await stack.enter_async_context(factory(settings, bus))
        db = getattr(runtime, "db", None)
        if db is None:
            settings.home.mkdir(parents=True, exist_ok=True)
            db = Database.from_settings(settings)
            stack.push_async_callback(db.dispose)
            await db.migrate()
        node = Worker(settings, runtime, SwarmStore(db), bus=bus, prefetch=prefetch)
        try:
            await node.start()
        except SwarmUnavailableError as exc:
            fail(str(exc))
        print(
            f"worker {node.name}: consuming {node.work.names.agents if node.work else '?'} "
            f"and {node.work.names.swarms if node.work else '?'} (prefetch {node.prefetch})",
            file=sys.stderr,
            flush=True,
        )
        try:
            await stop.wait()
        finally:
            await node.stop(grace)
        stats = node.stats.to_dict()
        print(
            f"worker {node.name}: stopped after {stats['agent_tasks']} agent tasks, {stats['swarms']} swarms "
            f"({stats['duplicates']} duplicates, {stats['dead_lettered']} dead-lettered)",
            file=sys.stderr,
        )
