"""The database handle: one async engine and session factory per URL.

SQLite (aiosqlite, WAL) is the embedded default; PostgreSQL (asyncpg) is used when the URL
names it. ``postgresql://`` and ``postgres://`` URLs are rewritten to ``postgresql+asyncpg://``
and ``sqlite://`` to ``sqlite+aiosqlite://``.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any, Self

from sqlalchemy import event, text
from sqlalchemy.engine import URL, Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import StaticPool

if TYPE_CHECKING:
    from alembic.config import Config

    from vaos.config import Settings

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# Applied to every new SQLite connection.
SQLITE_PRAGMAS: tuple[tuple[str, str], ...] = (
    ("journal_mode", "WAL"),
    ("foreign_keys", "ON"),
    ("busy_timeout", "30000"),
    ("synchronous", "NORMAL"),
)

# Serialises concurrent migrations of one PostgreSQL database (any 64-bit constant works).
_PG_MIGRATION_LOCK = 0x7661_6F73_6D69_6772  # "vaosmigr"

_SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")


def normalize_url(url: str | URL) -> URL:
    """Parse ``url`` and pick the async driver VAOS uses for its backend.

    Raises ``ValueError`` for an unparsable URL or a backend other than SQLite and PostgreSQL.
    """
    try:
        parsed = make_url(url) if isinstance(url, str) else url
    except ArgumentError as exc:
        raise ValueError(f"invalid database URL: {exc}") from None
    backend, _, driver = parsed.drivername.partition("+")
    if backend in ("postgresql", "postgres"):
        if driver not in ("", "asyncpg"):
            raise ValueError(f"unsupported PostgreSQL driver {driver!r}: use postgresql+asyncpg://")
        return parsed.set(drivername="postgresql+asyncpg")
    if backend == "sqlite":
        if driver not in ("", "aiosqlite"):
            raise ValueError(f"unsupported SQLite driver {driver!r}: use sqlite+aiosqlite://")
        return parsed.set(drivername="sqlite+aiosqlite")
    raise ValueError(f"unsupported database {backend!r}: use sqlite+aiosqlite:// or postgresql+asyncpg://")


def _sqlite_path(url: URL) -> Path | None:
    """The file behind a SQLite URL, or ``None`` for an in-memory or URI-style database."""
    database = url.database or ""
    if database in ("", ":memory:") or database.startswith("file:") or url.query.get("mode") == "memory":
        return None
    return Path(database).expanduser()


def _set_sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for name, value in SQLITE_PRAGMAS:
            cursor.execute(f"PRAGMA {name}={value}")
    finally:
        cursor.close()


def alembic_config(url: str | URL | None = None, *, schema: str | None = None) -> Config:
    """An Alembic configuration for the migrations shipped in the package (no alembic.ini).

    With it, ``alembic.command`` works from plain synchronous code (``upgrade``,
    ``downgrade``, ``current``, ``upgrade(..., sql=True)`` for offline SQL). Without ``url``
    the migrations use the VAOS settings' database.
    """
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    cfg.set_main_option("path_separator", "os")
    if url is not None:
        rendered = normalize_url(url).render_as_string(hide_password=False)
        cfg.set_main_option("sqlalchemy.url", rendered.replace("%", "%%"))
    if schema is not None:
        cfg.set_main_option("vaos.schema", schema)
    return cfg


class Database:
    """One database: an ``AsyncEngine`` plus an ``async_sessionmaker``.

    ``schema`` (PostgreSQL only) puts every table in that schema through ``search_path``.
    ``engine_options`` are passed to ``create_async_engine`` over the defaults.
    """

    def __init__(
        self,
        url: str | URL,
        *,
        echo: bool = False,
        schema: str | None = None,
        engine_options: Mapping[str, Any] | None = None,
    ) -> None:
        self.url: URL = normalize_url(url)
        self.schema = schema
        options: dict[str, Any] = {"echo": echo}
        if self.is_sqlite:
            if schema is not None:
                raise ValueError("schema is only supported on PostgreSQL")
            path = _sqlite_path(self.url)
            if path is None:
                # One shared connection, or every connection would see its own empty database.
                options["poolclass"] = StaticPool
                options["connect_args"] = {"check_same_thread": False}
            else:
                path.parent.mkdir(parents=True, exist_ok=True)
        else:
            options["pool_pre_ping"] = True
            if schema is not None:
                if not _SCHEMA_NAME.match(schema):
                    raise ValueError(f"invalid schema name {schema!r}")
                options["connect_args"] = {"server_settings": {"search_path": schema}}
        options.update(engine_options or {})
        self.engine: AsyncEngine = create_async_engine(self.url, **options)
        if self.is_sqlite:
            event.listen(self.engine.sync_engine, "connect", _set_sqlite_pragmas)
        self.sessionmaker: async_sessionmaker[AsyncSession] = async_sessionmaker(
            self.engine, expire_on_commit=False
        )

    @classmethod
    def from_settings(cls, settings: Settings | None = None) -> Database:
        """The database named by ``settings.database_url`` (default: the process settings)."""
        if settings is None:
            from vaos.config import get_settings

            settings = get_settings()
        return cls(settings.database_url, echo=settings.database.echo)

    @property
    def backend(self) -> str:
        """``"sqlite"`` or ``"postgresql"``."""
        return self.url.get_backend_name()

    @property
    def is_sqlite(self) -> bool:
        return self.backend == "sqlite"

    @property
    def is_postgresql(self) -> bool:
        return self.backend == "postgresql"

    def __repr__(self) -> str:
        return f"Database({self.url.render_as_string(hide_password=True)!r})"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A unit of work: committed when the block ends, rolled back if it raises."""
        async with self.sessionmaker() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise
            await session.commit()

    async def migrate(self, revision: str = "head") -> None:
        """Upgrade the schema to ``revision`` (default the newest). A no-op when already there.

        Safe to call at every start and from several processes at once: PostgreSQL takes an
        advisory lock, SQLite an immediate (write) transaction, for the whole upgrade.
        """
        async with self.engine.connect() as conn:
            if self.is_sqlite:
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            else:
                await conn.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK})
            await conn.run_sync(self._upgrade, revision)
            await conn.commit()

    def _upgrade(self, connection: Connection, revision: str) -> None:
        from alembic import command

        cfg = alembic_config(self.url, schema=self.schema)
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    async def current_revision(self) -> str | None:
        """The revision the database is at, or ``None`` before the first migration."""
        from alembic.runtime.migration import MigrationContext

        def read(connection: Connection) -> str | None:
            return MigrationContext.configure(connection).get_current_revision()

        async with self.engine.connect() as conn:
            return await conn.run_sync(read)

    async def dispose(self) -> None:
        """Close every pooled connection."""
        await self.engine.dispose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.dispose()
