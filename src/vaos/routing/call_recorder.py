"""Stores every ``llm_response`` event as a row of the ``calls`` table."""

from __future__ import annotations

from vaos.events import Event, EventBus
from vaos.store.calls import CallStore
from vaos.store.database import Database


class CallRecorder:
    """A bus handler: one model call, its tokens, cost and latency, into the store."""

    def __init__(self, db: Database) -> None:
        self.store = CallStore(db)

    def attach(self, bus: EventBus) -> None:
        bus.subscribe(self, types=["llm_response"])

    async def __call__(self, event: Event) -> None:
        data = event.data
        usage = data.get("usage") or {}
        await self.store.insert(
            {
                **data,
                "session_id": event.session_id,
                "agent_id": event.agent_id,
                "prompt_tokens": usage.get("input_tokens", 0),
                "completion_tokens": usage.get("output_tokens", 0),
            }
        )
