"""Fixtures of the swarm tests.

In-process swarms run on an in-memory SQLite store and the ``EchoRuntime`` (the shape of the
agent runtime), with a ``ScriptedProvider`` per role where answers matter. The distributed
tests use the real RabbitMQ and PostgreSQL (``scripts/ensure-rabbitmq``, ``scripts/ensure-postgres``)
and fail, never skip, when they cannot be had. Each of those tests gets its own queue names
(a prefix) and its own PostgreSQL schema — reached through a login role of its own whose
``search_path`` is that schema, so worker processes need nothing but a URL — both removed
afterwards. The broker is never stopped.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from vaos.config import Settings
from vaos.providers.testing import Reply, ScriptedProvider
from vaos.store.database import Database
from vaos.store.swarms import SwarmStore
from vaos.swarm.service import SwarmService
from vaos.swarm.tasks import AgentTask
from vaos.swarm.testing import EchoRuntime

ROOT = Path(__file__).resolve().parents[2]
BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"
DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/vaos_test"


def swarm_settings(**swarm: Any) -> Settings:
    values: dict[str, Any] = {"executor": "local", "planner": "fallback", "result_poll": 0.2}
    values.update(swarm)
    # An embedded kernel (governance tests) on ephemeral ports: 50051 may be taken.
    return Settings(swarm=values, kernel={"port": 0, "jwks_port": 0})


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SwarmStore]:
    # A file, not ":memory:": an in-memory database is one shared connection, which
    # concurrent units of work (parallel agents) cannot use safely.
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'swarm.db'}")
    await db.migrate()
    try:
        yield SwarmStore(db)
    finally:
        await db.dispose()


class RoleModels:
    """A scripted model per role (or per member name): deterministic answers whatever the
    order in which concurrent agents call. Unknown roles answer ``"<role> says ok"``."""

    def __init__(self, scripts: dict[str, list[Reply] | str] | None = None) -> None:
        self.providers: dict[str, ScriptedProvider] = {}
        for key, script in (scripts or {}).items():
            steps = [Reply(script)] if isinstance(script, str) else list(script)
            self.providers[key] = ScriptedProvider(f"fake-{key}", steps)

    def __call__(self, task: AgentTask) -> ScriptedProvider:
        for key in (task.member, task.role):
            if key in self.providers:
                return self.providers[key]
        provider = ScriptedProvider(f"fake-{task.role}", [Reply(f"{task.role} says ok")])
        self.providers[task.role] = provider
        return provider

    def prompts(self, key: str) -> list[str]:
        return [r.messages[-1].content for r in self.providers[key].requests]


@pytest.fixture
async def make_service(store: SwarmStore) -> AsyncIterator[Callable[..., SwarmService]]:
    """``make_service(models=RoleModels(...), **swarm_settings)``: an in-process service."""
    made: list[SwarmService] = []

    def make(
        models: Callable[[AgentTask], Any] | None = None, runtime: Any = None, **swarm: Any
    ) -> SwarmService:
        settings = swarm_settings(**swarm)
        service = SwarmService(
            runtime or EchoRuntime(settings),
            settings=settings,
            store=store,
            model_for=models,
            executor="local",
        )
        made.append(service)
        return service

    yield make
    for service in made:
        await service.aclose()


# -- the real servers --------------------------------------------------------------------------


def _ensure(script: str, what: str) -> None:
    try:
        done = subprocess.run([str(ROOT / "scripts" / script)], capture_output=True, text=True, timeout=180)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"{what} is needed and scripts/{script} failed: {exc}", pytrace=False)
    if done.returncode != 0:
        pytest.fail(
            f"{what} is needed and scripts/{script} could not start it: "
            + (done.stderr.strip() or f"exit {done.returncode}"),
            pytrace=False,
        )


@pytest.fixture(scope="session")
def rabbitmq() -> str:
    _ensure("ensure-rabbitmq", "RabbitMQ at 127.0.0.1:5672")
    return BROKER_URL


@pytest.fixture(scope="session")
def postgres_admin_url() -> str:
    _ensure("ensure-postgres", "PostgreSQL at 127.0.0.1:5432")
    return os.environ.get("VAOS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


@dataclass(frozen=True)
class PgSchema:
    """A schema of one test, and a URL whose role lands in it (``search_path``)."""

    url: str
    schema: str


@pytest.fixture
async def pg_schema(postgres_admin_url: str) -> AsyncIterator[PgSchema]:
    from sqlalchemy.engine import make_url

    name = f"vaos_swarm_{uuid.uuid4().hex[:12]}"
    admin = Database(postgres_admin_url)
    try:
        async with asyncio.timeout(10), admin.session() as s:
            await s.execute(text(f'CREATE ROLE "{name}" LOGIN'))
            await s.execute(text(f'CREATE SCHEMA "{name}" AUTHORIZATION "{name}"'))
            await s.execute(text(f'ALTER ROLE "{name}" SET search_path = "{name}"'))
    except Exception as exc:
        await admin.dispose()
        pytest.fail(f"PostgreSQL does not answer ({type(exc).__name__}: {exc})", pytrace=False)
    url = make_url(postgres_admin_url).set(username=name).render_as_string(hide_password=False)
    try:
        yield PgSchema(url, name)
    finally:
        async with admin.session() as s:
            await s.execute(text(f'DROP SCHEMA IF EXISTS "{name}" CASCADE'))
            await s.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE usename = :name"
                ).bindparams(name=name)
            )
            await s.execute(text(f'DROP ROLE IF EXISTS "{name}"'))
        await admin.dispose()


@pytest.fixture
async def queue_prefix(rabbitmq: str) -> AsyncIterator[str]:
    """A name prefix of this test's own; its queues and exchange are deleted afterwards."""
    import aio_pika

    prefix = f"vaos-test-{uuid.uuid4().hex[:10]}."
    yield prefix
    connection = await aio_pika.connect_robust(rabbitmq, timeout=5)
    try:
        for name in ("vaos.swarm.agents", "vaos.swarm.swarms", "vaos.swarm.dead"):
            channel = await connection.channel()
            with contextlib.suppress(Exception):
                await channel.queue_delete(prefix + name)
        channel = await connection.channel()
        with contextlib.suppress(Exception):
            await channel.exchange_delete(prefix + "vaos.swarm.dlx")
    finally:
        await connection.close()
