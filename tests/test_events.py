from __future__ import annotations

import asyncio
import json
import re

import pytest
from pydantic import ValidationError

from vaos.events import Event, EventBus


def test_envelope_is_flat_with_rfc3339_utc() -> None:
    event = Event(type="signal_classified", session_id="s1", data={"weight": 0.5})
    body = json.loads(event.to_json())
    assert set(body) == {"id", "type", "session_id", "agent_id", "ts", "data"}
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z", body["ts"])
    assert body["data"] == {"weight": 0.5}


def test_event_type_is_validated() -> None:
    with pytest.raises(ValidationError):
        Event(type="")
    with pytest.raises(ValidationError):
        Event(type="Bad Type")


async def test_publish_reaches_matching_handlers() -> None:
    bus = EventBus()
    seen: list[str] = []

    async def all_events(e: Event) -> None:
        seen.append(f"all:{e.type}")

    async def only_tools(e: Event) -> None:
        seen.append(f"tools:{e.type}")

    bus.subscribe(all_events)
    bus.subscribe(only_tools, types=["tool_call"])
    await bus.emit("signal_classified")
    await bus.emit("tool_call", {"tool": "grep"})
    assert seen == ["all:signal_classified", "all:tool_call", "tools:tool_call"]


async def test_failing_handler_does_not_hurt_others(caplog: pytest.LogCaptureFixture) -> None:
    bus = EventBus()
    got: list[Event] = []

    async def broken(_: Event) -> None:
        raise RuntimeError("boom")

    async def good(e: Event) -> None:
        got.append(e)

    bus.subscribe(broken)
    bus.subscribe(good)
    await bus.emit("error")
    assert len(got) == 1
    assert "boom" in caplog.text


async def test_unsubscribe() -> None:
    bus = EventBus()
    got: list[Event] = []

    async def handler(e: Event) -> None:
        got.append(e)

    stop = bus.subscribe(handler)
    stop()
    await bus.emit("error")
    assert got == []


async def test_stream_queue_drops_oldest_when_full() -> None:
    bus = EventBus()
    async with bus.stream(maxsize=2) as queue:
        for i in range(3):
            await bus.emit("llm_token", {"i": i})
        first = await asyncio.wait_for(queue.get(), 1)
        assert first.data == {"i": 1}
    assert bus.dropped == 1
