"""Stores every ``signal_classified`` event in the ``signals`` table."""

from __future__ import annotations

import logging

from vaos.events import Event, EventBus
from vaos.store.database import Database
from vaos.store.signals import SignalStore

logger = logging.getLogger(__name__)


class SignalRecorder:
    """A bus handler: reads the signal from ``event.data`` and inserts it."""

    def __init__(self, db: Database) -> None:
        self.store = SignalStore(db)
        self.recorded = 0

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(self, types=["signal_classified"])

    async def __call__(self, event: Event) -> None:
        data = event.data
        record = {
            **data["signal"],
            "channel": data.get("channel") or "unknown",
            "input": data.get("input_preview"),
            "session_id": event.session_id,
        }
        await self.store.insert(record)
        self.recorded += 1
