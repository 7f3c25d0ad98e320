"""The telemetry publisher against the real RabbitMQ: shapes, outages, spool and counters."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from telemetry_helpers import Broker, rabbitmqctl, wait_until

from vaos.config import AmqpSettings, Settings
from vaos.events import Event, EventBus
from vaos.governance.spool import inspect
from vaos.governance.telemetry import MAX_MESSAGE_BYTES, STATS_EVENT, TelemetryPublisher, telemetry_status

pytestmark = pytest.mark.rabbitmq

ENVELOPE_KEYS = {"id", "type", "session_id", "agent_id", "ts", "data"}


async def wait_connected(publisher: TelemetryPublisher) -> None:
    await wait_until(lambda: publisher.connected)


async def test_events_reach_a_consumer_with_the_envelope(broker: Broker, tmp_path: Path) -> None:
    bus = EventBus()
    publisher = TelemetryPublisher(broker.settings(), tmp_path / "spool", bus=bus)
    await publisher.start()
    try:
        await wait_connected(publisher)
        sent = [
            await bus.emit("routing_decided", {"tier": "elite"}, session_id="s1", agent_id="coder"),
            await bus.emit("tool_call", {"tool": "shell"}, session_id="s1", agent_id="coder"),
            await bus.emit("audit_recorded", {"seq": 7}, agent_id="coder"),
        ]
        publisher.publish_agent_status("coder", "busy", {"queue": 2})
        publisher.publish_performance_metrics("coder", {"latency_ms": 12.5})
        publisher.publish_routing({"session_id": "s1", "agent_id": "coder", "tier": "elite", "weight": 0.7})
        async with asyncio.timeout(10):
            await publisher.drained()
    finally:
        await publisher.stop()

    events = await broker.collect(broker.topology.events_queue, 5)
    by_id = {r.message_id: r for r in events}
    for event in sent:
        got = by_id[event.id]
        assert set(got.body) == ENVELOPE_KEYS
        assert Event.model_validate(got.body) == event
        assert got.routing_key == f"events.{event.type}"
        assert got.content_type == "application/json"
        assert got.delivery_mode == 2  # persistent
    others = {r.body["type"]: r for r in events if r.message_id not in {e.id for e in sent}}
    assert others["performance"].routing_key == "performance.coder"
    assert set(others["performance"].body) == {"type", "agent_id", "timestamp", "metrics"}
    assert others["performance"].body["metrics"] == {"latency_ms": 12.5}
    assert others["routing"].routing_key == "routing.s1"
    assert set(others["routing"].body) == {"type", "timestamp", "data"}
    assert others["routing"].body["data"]["tier"] == "elite"

    (status,) = await broker.collect(broker.topology.status_queue, 1)
    assert status.routing_key == "status.coder"
    assert status.body["type"] == "agent_status"
    assert set(status.body) == {"type", "agent_id", "status", "timestamp", "metrics"}
    assert status.body["timestamp"].endswith("Z")
    assert (status.body["status"], status.body["metrics"]) == ("busy", {"queue": 2})
    assert publisher.stats()["published"] == 6


async def test_fresh_broker_names_are_declared_before_bound(broker: Broker, tmp_path: Path) -> None:
    publisher = TelemetryPublisher(broker.settings(), tmp_path / "spool")
    await publisher.start()
    try:
        await wait_connected(publisher)
        publisher.submit("commands.pause", b'{"probe":true}')
        publisher.submit("status.a", b'{"probe":true}')
        async with asyncio.timeout(10):
            await publisher.drained()
    finally:
        await publisher.stop()
    assert await broker.count(broker.topology.commands_queue) == 1
    assert await broker.count(broker.topology.status_queue) == 1


async def test_counters_are_published_on_the_bus(broker: Broker, tmp_path: Path) -> None:
    bus = EventBus()
    publisher = TelemetryPublisher(broker.settings(stats_interval=0.1), tmp_path / "spool", bus=bus)
    async with bus.stream(types=[STATS_EVENT]) as stats:
        await publisher.start()
        try:
            await bus.emit("tool_call", {})
            event = await asyncio.wait_for(stats.get(), 5)
        finally:
            await publisher.stop()
    assert {"published", "spooled", "redelivered", "dropped", "buffered", "spool_pending"} <= set(event.data)


@pytest.mark.slow
async def test_ten_thousand_events_survive_a_broker_restart(broker: Broker, tmp_path: Path) -> None:
    """stop_app after 3,000 events, start_app after 7,000: all 10,000 arrive (deduplicated by id)."""
    bus = EventBus()
    publisher = TelemetryPublisher(broker.settings(), tmp_path / "spool", bus=bus)
    await publisher.start()
    ids: list[str] = []
    try:
        await wait_connected(publisher)
        try:
            for i in range(10_000):
                ids.append((await bus.emit("tool_call", {"i": i}, session_id="s", agent_id="a")).id)
                if i == 3_000:
                    await rabbitmqctl("stop_app")
                    await wait_until(lambda: not publisher.connected, within=5)
                elif i == 7_000:
                    await rabbitmqctl("start_app")
                if i % 100 == 0:
                    await asyncio.sleep(0)  # let the flusher run, as a busy daemon would
        finally:
            await rabbitmqctl("start_app")
        async with asyncio.timeout(60):
            await publisher.drained()
        stats = publisher.stats()
    finally:
        await publisher.stop()
    assert stats["spooled"] > 0 and stats["redelivered"] > 0 and stats["dropped"] == 0
    received = await broker.collect(broker.topology.events_queue, len(ids), within=60)
    assert {r.message_id for r in received} == set(ids)  # none lost; duplicates allowed
    first_seen: dict[str | None, int] = {}
    for r in received:
        first_seen.setdefault(r.message_id, r.body["data"]["i"])
    assert list(first_seen.values()) == sorted(first_seen.values())  # and in order


async def test_unreachable_broker_spools_everything_then_drains(
    broker: Broker, tmp_path: Path, unreachable_url: str
) -> None:
    spool_dir = tmp_path / "spool"
    bus = EventBus()
    offline = TelemetryPublisher(broker.settings(url=unreachable_url), spool_dir, bus=bus)
    await offline.start()
    ids = [(await bus.emit("llm_response", {"i": i})).id for i in range(2_500)]
    await asyncio.sleep(0.5)  # a few flushes and reconnect attempts
    assert not offline.connected
    assert offline.last_error is not None
    await offline.stop()
    assert offline.stats()["spooled"] == 2_500 and offline.stats()["published"] == 0
    assert inspect(spool_dir).pending == 2_500

    online = TelemetryPublisher(broker.settings(), spool_dir)  # the broker is back
    await online.start()
    try:
        async with asyncio.timeout(30):
            await online.drained()
    finally:
        await online.stop()
    assert online.stats()["redelivered"] == 2_500
    assert inspect(spool_dir).pending == 0
    received = await broker.collect(broker.topology.events_queue, len(ids))
    assert [r.message_id for r in received] == ids


async def test_spool_limit_drops_with_a_warning(
    broker: Broker, tmp_path: Path, unreachable_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    settings = broker.settings(url=unreachable_url, spool_max_bytes=20_000, buffer_max=100)
    publisher = TelemetryPublisher(settings, tmp_path / "spool")
    await publisher.start()
    with caplog.at_level(logging.WARNING, logger="vaos.governance.telemetry"):
        for i in range(500):
            publisher.submit(f"events.x.{i}", b'{"padding":"%s"}' % (b"x" * 100))
        await publisher.stop()
    stats = publisher.stats()
    assert stats["dropped"] > 0
    assert stats["spooled"] + stats["dropped"] == 500
    assert stats["spool_bytes"] <= 20_000
    assert "dropping messages, the spool is full" in caplog.text


async def test_a_full_buffer_spills_at_once(tmp_path: Path, unreachable_url: str) -> None:
    settings = AmqpSettings(url=unreachable_url, buffer_max=50, flush_interval=60)
    publisher = TelemetryPublisher(settings, tmp_path / "spool")
    await publisher.start()
    try:
        for i in range(120):
            publisher.submit("events.x", b'{"i":%d}' % i)
        assert publisher.stats()["buffered"] < 50
        assert inspect(tmp_path / "spool").pending >= 100  # on disk before any flush ran
    finally:
        await publisher.stop()
    assert inspect(tmp_path / "spool").pending == 120


async def test_no_broker_configured_still_runs(tmp_path: Path) -> None:
    bus = EventBus()
    publisher = TelemetryPublisher(AmqpSettings(url=None), tmp_path / "spool", bus=bus)
    await publisher.start()
    await bus.emit("signal_classified", {"weight": 0.4})
    await publisher.stop()
    assert inspect(tmp_path / "spool").pending == 1


def test_status_for_doctor(rabbitmq: str, vaos_home: Path, unreachable_url: str) -> None:
    up = telemetry_status(Settings(amqp=AmqpSettings(url=rabbitmq)))
    assert up["state"] == "reachable" and up["fix"] is None
    assert up["broker"] == "amqp://guest:***@127.0.0.1:5672/"
    down = telemetry_status(Settings(amqp=AmqpSettings(url=unreachable_url)))
    assert down["state"] == "unreachable"
    assert "does not answer" in down["message"] and "spooled" in down["message"]
    off = telemetry_status(Settings(amqp=AmqpSettings(url=None)))
    assert off["state"] == "disabled"
    assert off["spool"]["directory"] == str(vaos_home / "telemetry" / "spool")


async def test_submit_refuses_what_the_broker_or_the_spool_could_not_take(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    publisher = TelemetryPublisher(AmqpSettings(url=None), tmp_path / "spool")
    with pytest.raises(RuntimeError, match="not started"):
        publisher.submit("events.x", b"{}")
    await publisher.start()
    try:
        with pytest.raises(ValueError, match="routing key"):
            publisher.submit("status." + "x" * 300, b"{}")
        with pytest.raises(ValueError, match="message id"):
            publisher.submit("events.x", b"{}", message_id="tab\there")
        with pytest.raises(ValueError, match="one line"):
            publisher.submit("events.x", b'{"a":\n1}')
        assert publisher.submit("events.x", b"{" + b" " * MAX_MESSAGE_BYTES + b"}") is None
        assert publisher.stats()["dropped"] == 1
        assert "exceeds" in caplog.text
        assert publisher.publish_agent_status("agent with spaces/and#hash", "idle") is not None
    finally:
        await publisher.stop()
    assert publisher.stats()["spooled"] == 1
