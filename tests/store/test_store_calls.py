from __future__ import annotations

import pytest

from vaos.events import EventBus
from vaos.routing.call_recorder import CallRecorder
from vaos.store import Database
from vaos.store.calls import CallStore


async def test_calls_are_stored_and_summed(db: Database) -> None:
    store = CallStore(db)
    await store.insert(
        {
            "provider": "local",
            "model": "smollm2",
            "session_id": "s1",
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "cost_usd": 0.0,
            "latency_s": 0.2,
        }
    )
    await store.insert(
        {
            "provider": "openai",
            "model": "gpt-4o-mini",
            "session_id": "s2",
            "total_tokens": 7,
            "cost_usd": 0.001,
        }
    )
    assert await store.totals(session_id="s1") == {"calls": 1, "total_tokens": 15, "cost_usd": 0.0}
    everything = await store.totals()
    assert everything["calls"] == 2
    assert everything["total_tokens"] == 22
    assert everything["cost_usd"] == pytest.approx(0.001)


@pytest.mark.parametrize(
    "bad",
    [{"model": "m"}, {"provider": "p"}, {"provider": "p", "model": "m", "prompt_tokens": -1}],
)
async def test_bad_calls_are_refused_and_nothing_is_lost(db: Database, bad: dict[str, object]) -> None:
    store = CallStore(db)
    await store.insert({"provider": "local", "model": "m"})
    with pytest.raises(ValueError, match=r"provider|negative"):
        await store.insert(bad)
    assert (await store.totals())["calls"] == 1


async def test_llm_response_events_become_rows(db: Database) -> None:
    bus = EventBus()
    CallRecorder(db).attach(bus)
    await bus.emit(
        "llm_response",
        {
            "provider": "local",
            "model": "smollm2",
            "tier": "utility",
            "cost_usd": None,
            "latency_s": 0.5,
            "first_token_s": 0.1,
            "finish_reason": "stop",
            "usage": {
                "input_tokens": 12,
                "output_tokens": 3,
                "cache_read_tokens": 0,
                "cache_write_tokens": 0,
            },
        },
        session_id="abc",
        agent_id="vaos",
    )
    assert await CallStore(db).totals(session_id="abc") == {"calls": 1, "total_tokens": 15, "cost_usd": 0.0}
