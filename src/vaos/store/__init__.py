"""Persistence: sessions, messages and signals in SQLite (default) or PostgreSQL.

SQLAlchemy 2 async with Alembic migrations shipped in the package. The names below are
imported lazily, so ``import vaos.store`` does not load SQLAlchemy (the CLI starts fast)::

    from vaos.store import Database, SessionStore, SignalStore

    db = Database.from_settings()
    await db.migrate()
    sessions = SessionStore(db)
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vaos.store.database import Database, alembic_config, normalize_url
    from vaos.store.models import Base, MessageModel, SessionModel, SignalModel
    from vaos.store.sessions import SessionNotFoundError, SessionStore, StoredMessage, StoredSession
    from vaos.store.signals import SignalRecord, SignalStats, SignalStore, StoredSignal
    from vaos.tiers import tier_for_weight

_EXPORTS: dict[str, str] = {
    "Database": "vaos.store.database",
    "alembic_config": "vaos.store.database",
    "normalize_url": "vaos.store.database",
    "Base": "vaos.store.models",
    "MessageModel": "vaos.store.models",
    "SessionModel": "vaos.store.models",
    "SignalModel": "vaos.store.models",
    "SessionNotFoundError": "vaos.store.sessions",
    "SessionStore": "vaos.store.sessions",
    "StoredMessage": "vaos.store.sessions",
    "StoredSession": "vaos.store.sessions",
    "SignalRecord": "vaos.store.signals",
    "SignalStats": "vaos.store.signals",
    "SignalStore": "vaos.store.signals",
    "StoredSignal": "vaos.store.signals",
    "tier_for_weight": "vaos.tiers",
}

__all__ = [
    "Base",
    "Database",
    "MessageModel",
    "SessionModel",
    "SessionNotFoundError",
    "SessionStore",
    "SignalModel",
    "SignalRecord",
    "SignalStats",
    "SignalStore",
    "StoredMessage",
    "StoredSession",
    "StoredSignal",
    "alembic_config",
    "normalize_url",
    "tier_for_weight",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
