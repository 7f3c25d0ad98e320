"""Database handle, URLs, connection settings and migrations."""

from __future__ import annotations

import asyncio
import contextlib
import io
import subprocess
import sys
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import inspect, select, text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import StatementError

from vaos.config import Settings
from vaos.store import Database, SessionStore, SignalStore, alembic_config, normalize_url
from vaos.store.models import Base, SessionModel, UTCDateTime

if TYPE_CHECKING:
    from conftest import Backend

# The single head of the migrations shipped in the package (later issues add revisions).
HEAD = ScriptDirectory.from_config(alembic_config()).get_current_head()

TABLES = {"sessions", "messages", "signals"}


def _table_names(conn: Connection) -> set[str]:
    return set(inspect(conn).get_table_names())


# --- URLs and construction ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("postgresql://u:p@h:5432/d", "postgresql+asyncpg://u:p@h:5432/d"),
        ("postgres://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("postgresql+asyncpg://u@h/d", "postgresql+asyncpg://u@h/d"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
        ("sqlite+aiosqlite:///rel.db", "sqlite+aiosqlite:///rel.db"),
    ],
)
def test_normalize_url_picks_the_async_driver(given: str, expected: str) -> None:
    assert normalize_url(given).render_as_string(hide_password=False) == expected


@pytest.mark.parametrize(
    "url", ["mysql://u@h/d", "postgresql+psycopg2://u@h/d", "sqlite+pysqlite:///x.db", "not a url"]
)
def test_unsupported_urls_are_refused(url: str) -> None:
    with pytest.raises(ValueError, match=r"database|driver|URL"):
        normalize_url(url)


async def test_sqlite_parent_directory_is_created(tmp_path: Path) -> None:
    target = tmp_path / "a" / "b" / "vaos.db"
    async with Database(f"sqlite:///{target}") as db:
        await db.migrate()
    assert target.is_file()


def test_from_settings_uses_the_home_sqlite_by_default(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VAOS_HOME", str(tmp_path))
    monkeypatch.delenv("VAOS_DATABASE__URL", raising=False)
    db = Database.from_settings(Settings(home=tmp_path))
    assert db.is_sqlite
    assert db.url.database == str(tmp_path / "vaos.db")


def test_from_settings_rewrites_a_postgres_url(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAOS_HOME", str(tmp_path))
    settings = Settings(home=tmp_path, database={"url": "postgres://postgres@127.0.0.1:5432/x"})
    db = Database.from_settings(settings)
    assert db.is_postgresql
    assert db.url.drivername == "postgresql+asyncpg"


def test_schema_option_is_postgresql_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        Database(f"sqlite:///{tmp_path / 'x.db'}", schema="s")
    with pytest.raises(ValueError, match="schema"):
        Database("postgresql://u@h/d", schema='bad"; drop')


def test_importing_the_package_does_not_load_sqlalchemy() -> None:
    code = "import sys, vaos.store; assert 'sqlalchemy' not in sys.modules, 'sqlalchemy'; print('ok')"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "ok"


# --- connection settings ------------------------------------------------------------------


async def test_sqlite_pragmas_on_every_connection(sqlite_db: Database) -> None:
    names = ("journal_mode", "foreign_keys", "busy_timeout", "synchronous")
    results = []
    # Four connections held at once, so not only the first pooled connection is checked.
    async with contextlib.AsyncExitStack() as stack:
        conns = [await stack.enter_async_context(sqlite_db.engine.connect()) for _ in range(4)]
        assert len({id(await conn.get_raw_connection()) for conn in conns}) == 4
        for conn in conns:
            results.append([(await conn.exec_driver_sql(f"PRAGMA {name}")).scalar() for name in names])
    for journal_mode, foreign_keys, busy_timeout, synchronous in results:
        assert journal_mode == "wal"
        assert foreign_keys == 1
        assert busy_timeout >= 1000
        assert synchronous == 1  # NORMAL
    assert await asyncio.to_thread(Path(str(sqlite_db.url.database) + "-wal").exists)


async def test_in_memory_sqlite_shares_one_database() -> None:
    async with Database("sqlite+aiosqlite://") as db:
        await db.migrate()
        store = SessionStore(db)
        created = await store.create_session(title="memory")
        assert await store.get_session(created.id) == created


# --- migrations ---------------------------------------------------------------------------


async def test_migrate_creates_the_schema(empty_db: Database) -> None:
    assert await empty_db.current_revision() is None
    await empty_db.migrate()
    assert await empty_db.current_revision() == HEAD
    async with empty_db.engine.connect() as conn:
        assert await conn.run_sync(_table_names) >= TABLES


async def test_migrate_twice_is_a_noop(db: Database) -> None:
    store = SignalStore(db)
    first = await store.insert(
        {"channel": "cli", "mode": "assist", "genre": "inform", "format": "message", "weight": 0.1}
    )
    await db.migrate()
    await db.migrate()
    assert await db.current_revision() == HEAD
    assert await store.list_signals() == [first]
    async with db.engine.connect() as conn:
        versions = (await conn.execute(text("SELECT version_num FROM alembic_version"))).scalars().all()
    assert versions == [HEAD]


async def test_concurrent_migrations_from_several_handles(backend: Backend) -> None:
    handles = [backend.open() for _ in range(4)]
    try:
        await asyncio.gather(*(handle.migrate() for handle in handles))
        assert {await handle.current_revision() for handle in handles} == {HEAD}
    finally:
        for handle in handles:
            await handle.dispose()


async def test_migration_matches_the_models(db: Database) -> None:
    def diff(conn: Connection) -> list[Any]:
        context = MigrationContext.configure(conn, opts={"compare_type": True})
        return list(compare_metadata(context, Base.metadata))

    async with db.engine.connect() as conn:
        assert await conn.run_sync(diff) == []


async def test_downgrade_and_upgrade_again_through_the_alembic_command(backend: Backend) -> None:
    """The command-line path of env.py (its own engine, asyncio.run) works both ways."""
    cfg = alembic_config(backend.url, schema=backend.schema)
    await asyncio.to_thread(command.upgrade, cfg, "head")
    await asyncio.to_thread(command.downgrade, cfg, "base")
    async with backend.open() as db:
        assert await db.current_revision() is None
        async with db.engine.connect() as conn:
            assert not TABLES & await conn.run_sync(_table_names)
        await db.migrate()
        assert await db.current_revision() == HEAD


def test_offline_sql_for_both_dialects() -> None:
    for url in ("sqlite:///offline.db", "postgresql://u@h/d"):
        cfg = alembic_config(url)
        cfg.output_buffer = io.StringIO()
        command.upgrade(cfg, "head", sql=True)
        sql = cfg.output_buffer.getvalue()
        assert "CREATE TABLE signals" in sql
        assert "ck_signals_weight" in sql
        assert "ON DELETE CASCADE" in sql


# --- sessions and timestamps --------------------------------------------------------------


async def test_a_failing_unit_of_work_is_rolled_back(db: Database) -> None:
    async def fail_midway() -> None:
        async with db.session() as s:
            s.add(SessionModel(id="rolled-back", channel="cli"))
            await s.flush()
            raise RuntimeError("boom")

    with pytest.raises(RuntimeError, match="boom"):
        await fail_midway()
    async with db.session() as s:
        assert await s.get(SessionModel, "rolled-back") is None


async def test_timestamps_are_aware_utc_on_the_way_out(db: Database) -> None:
    plus_two = timezone(timedelta(hours=2))
    local = datetime(2030, 1, 2, 3, 4, 5, 123456, tzinfo=plus_two)
    async with db.session() as s:
        s.add(SessionModel(id="tz", channel="cli", created_at=local, updated_at=local))
    async with db.session() as s:
        row = (await s.scalars(select(SessionModel).where(SessionModel.id == "tz"))).one()
    assert row.created_at.tzinfo is not None
    assert row.created_at.utcoffset() == timedelta(0)
    assert row.created_at == local
    assert row.created_at == datetime(2030, 1, 2, 1, 4, 5, 123456, tzinfo=UTC)


async def test_naive_timestamps_are_refused(db: Database) -> None:
    with pytest.raises(StatementError, match="naive datetime"):
        async with db.session() as s:
            s.add(SessionModel(id="naive", channel="cli", created_at=datetime(2030, 1, 1)))
    assert UTCDateTime().process_bind_param(None, db.engine.dialect) is None
