"""Fixtures for the store tests: every test that uses ``backend``/``db`` runs twice, on SQLite
in ``tmp_path`` and on the real PostgreSQL server (``scripts/ensure-postgres`` starts it).

The PostgreSQL case fails (never skips) when the server does not answer. Each PostgreSQL test
gets a fresh schema of its own (through ``search_path``), dropped afterwards, so tests never
see each other's rows and the suite can run twice, or concurrently.
"""

from __future__ import annotations

import asyncio
import os
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import text

from vaos.store.database import Database, normalize_url

DEFAULT_POSTGRES_URL = "postgresql+asyncpg://postgres@127.0.0.1:5432/vaos_test"
CONNECT_TIMEOUT = 10.0


def postgres_url() -> str:
    return os.environ.get("VAOS_TEST_POSTGRES_URL") or DEFAULT_POSTGRES_URL


@dataclass(frozen=True)
class Backend:
    """Where one test's database lives; ``open()`` gives a new, unmigrated handle to it."""

    name: str
    url: str
    schema: str | None = None

    def open(self) -> Database:
        return Database(self.url, schema=self.schema)


async def _create_schema(url: str) -> tuple[Database, str]:
    admin = Database(url)
    schema = f"vaos_test_{uuid.uuid4().hex}"
    shown = normalize_url(url).render_as_string(hide_password=True)
    problem = None
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT), admin.session() as s:
            await s.execute(text(f'CREATE SCHEMA "{schema}"'))
    except Exception as exc:
        problem = f"{type(exc).__name__}: {exc}"
    if problem is not None:
        await admin.dispose()
        pytest.fail(
            f"PostgreSQL at {shown} does not answer ({problem}); "
            "run scripts/ensure-postgres or set VAOS_TEST_POSTGRES_URL",
            pytrace=False,
        )
    return admin, schema


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    if request.param == "sqlite":
        yield Backend("sqlite", f"sqlite+aiosqlite:///{tmp_path / 'data' / 'vaos.db'}")
        return
    url = postgres_url()
    admin, schema = await _create_schema(url)
    try:
        yield Backend("postgresql", url, schema)
    finally:
        async with admin.session() as s:
            await s.execute(text(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE'))
        await admin.dispose()


@pytest.fixture
async def empty_db(backend: Backend) -> AsyncIterator[Database]:
    """A handle on a database with no tables yet."""
    db = backend.open()
    try:
        yield db
    finally:
        await db.dispose()


@pytest.fixture
async def db(empty_db: Database) -> Database:
    """A migrated database."""
    await empty_db.migrate()
    return empty_db


@pytest.fixture
async def sqlite_db(tmp_path: Path) -> AsyncIterator[Database]:
    """A migrated SQLite database (for SQLite-only behaviour)."""
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'vaos.db'}")
    await db.migrate()
    try:
        yield db
    finally:
        await db.dispose()


def signal_fields(**overrides: object) -> dict[str, object]:
    """A valid signal as a plain dict, with ``overrides`` applied."""
    fields: dict[str, object] = {
        "channel": "cli",
        "mode": "build",
        "genre": "direct",
        "type": "request",
        "format": "command",
        "weight": 0.5,
        "confidence": "high",
        "classifier": "deterministic",
        "noise_verdict": "pass",
        "intent_hash": "0" * 64,
        "input_preview": "build the thing",
    }
    fields.update(overrides)
    return fields


@pytest.fixture
def make_signal() -> Callable[..., dict[str, object]]:
    """``make_signal(**overrides)``: a valid signal dict."""
    return signal_fields
