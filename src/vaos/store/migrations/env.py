"""Alembic environment for the VAOS store.

Used two ways:

* programmatically by ``Database.migrate()``, which passes an open (sync-facing) connection
  in ``config.attributes["connection"]``;
* from the ``alembic`` command line with a config built by ``vaos.store.alembic_config(url)``
  or an ini file with ``sqlalchemy.url``; the URL may be async (``sqlite+aiosqlite``,
  ``postgresql+asyncpg``) and falls back to the VAOS settings when none is given.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import pool
from sqlalchemy.engine import Connection

from vaos.store.database import Database, normalize_url
from vaos.store.models import Base

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = config.get_main_option("sqlalchemy.url")
    if not url:
        from vaos.config import get_settings

        url = get_settings().database_url
    return normalize_url(url).render_as_string(hide_password=False)


def _configure(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
    )


def _run_with_connection(connection: Connection) -> None:
    _configure(connection)
    with context.begin_transaction():
        context.run_migrations()


async def _run_async() -> None:
    # NullPool: one connection, closed at the end; SQLite pragmas and schema as at runtime.
    db = Database(
        _url(), schema=config.get_main_option("vaos.schema"), engine_options={"poolclass": pool.NullPool}
    )
    try:
        async with db.engine.connect() as conn:
            await conn.run_sync(_run_with_connection)
            await conn.commit()
    finally:
        await db.dispose()


def run_migrations_offline() -> None:
    context.configure(
        url=_url(),
        target_metadata=target_metadata,
        literal_binds=True,
        dialect_opts={"paramstyle": "named"},
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_with_connection(connection)
    else:
        asyncio.run(_run_async())


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
