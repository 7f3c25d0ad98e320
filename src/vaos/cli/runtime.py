"""The pieces a command needs at run time, built from the settings and torn down after."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.events import EventBus
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
    settings = get_settings()
    llm = None
    if settings.signal.llm_enabled:
        from vaos.signal.llm_classifier import classifier_from_settings

        llm = classifier_from_settings(settings)
    service = SignalService(
        bus, deterministic=classifier, llm=llm, llm_below=settings.signal.llm_below_confidence
    )
    try:
        if not save:
            yield service
            return
        async with _recording(settings, bus):
            yield service
    finally:
        if llm is not None:
            await llm.aclose()


@asynccontextmanager
async def _recording(settings: Settings, bus: EventBus) -> AsyncIterator[None]:
    """Store every classified signal while the context is open."""
    from vaos.signal.recorder import SignalRecorder
    from vaos.store.database import Database

    settings.home.mkdir(parents=True, exist_ok=True)
    db = Database.from_settings(settings)
    try:
        await db.migrate()
        SignalRecorder(db).attach(bus)
        yield
    finally:
        await db.dispose()
