"""The pieces a command needs at run time, built from the settings and torn down after."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaos.signal.classifier import DeterministicClassifier
    from vaos.signal.service import SignalService


@asynccontextmanager
async def signal_service(
    classifier: DeterministicClassifier | None = None, *, save: bool = False
) -> AsyncIterator[SignalService]:
    """A ``SignalService`` on an event bus; with ``save`` its signals go to the store."""
    from vaos.config import get_settings
    from vaos.events import EventBus
    from vaos.signal.service import SignalService

    bus = EventBus()
    service = SignalService(bus, deterministic=classifier)
    if not save:
        yield service
        return
    from vaos.signal.recorder import SignalRecorder
    from vaos.store.database import Database

    settings = get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    db = Database.from_settings(settings)
    try:
        await db.migrate()
        SignalRecorder(db).attach(bus)
        yield service
    finally:
        await db.dispose()
