"""The kernel client and the governance gate: circuit breaker, deadlines, modes, routing logs."""

from __future__ import annotations

import asyncio
import contextlib
import random
import socket
import time
from pathlib import Path

import pytest
from kernel_helpers import INTENT, records, verify

from vaos.events import EventBus
from vaos.governance.circuit_breaker import CircuitBreaker
from vaos.governance.client import KernelClient, backoff_delay
from vaos.governance.errors import ActionRefused, KernelUnavailable
from vaos.governance.gate import Governance, open_governance
from vaos.governance.server import KernelServer


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# -- circuit breaker -------------------------------------------------------------------------


def test_breaker_opens_after_five_failures_and_half_opens_after_thirty_seconds() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(5, 30.0, clock)
    for _ in range(4):
        assert breaker.allow()
        breaker.record_failure()
    assert breaker.state == "closed"
    assert breaker.allow()
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 29.9
    assert not breaker.allow() and breaker.retry_in() == pytest.approx(0.1)
    clock.now += 0.1
    assert breaker.state == "half_open"
    assert breaker.allow()  # the one probe
    assert not breaker.allow()  # nobody else while it is out
    breaker.record_failure()
    assert breaker.state == "open" and not breaker.allow()
    clock.now += 30
    assert breaker.allow()
    breaker.record_success()
    assert breaker.state == "closed" and breaker.failures == 0 and breaker.allow()


def test_breaker_frees_an_abandoned_probe() -> None:
    clock = FakeClock()
    breaker = CircuitBreaker(1, 30.0, clock)
    breaker.record_failure()
    clock.now += 30
    assert breaker.allow()
    breaker.record_abandoned()  # the probe was cancelled
    assert breaker.allow()


def test_backoff_bounds_match_the_original() -> None:
    rng = random.Random(7)
    bounds = [(1.0, 2.0), (2.0, 3.0), (4.0, 5.0), (8.0, 9.0), (16.0, 17.0), (30.0, 31.0), (30.0, 31.0)]
    for attempt, (low, high) in enumerate(bounds):
        for _ in range(50):
            assert low <= backoff_delay(attempt, rng) <= high


# -- client against no kernel / a kernel that comes back -----------------------------------


async def test_unreachable_kernel_fails_fast_then_the_circuit_opens() -> None:
    clock = FakeClock()
    port = free_port()
    client = KernelClient(f"127.0.0.1:{port}", timeout=5.0, breaker=CircuitBreaker(5, 30.0, clock))
    started = time.monotonic()
    for _ in range(5):
        with pytest.raises(KernelUnavailable, match="UNAVAILABLE"):
            await client.request_token("vaos", INTENT, "file_read")
    assert client.breaker.state == "open" and client.connectivity() == "down"
    with pytest.raises(KernelUnavailable, match="circuit open"):
        await client.request_token("vaos", INTENT, "file_read")
    assert time.monotonic() - started < 4.0  # nobody waited for the 5 s deadline, nobody slept
    await client.close()


async def test_half_open_probe_reaches_a_kernel_that_came_back(vaos_home: Path) -> None:
    clock = FakeClock()
    port = free_port()
    client = KernelClient(f"127.0.0.1:{port}", breaker=CircuitBreaker(5, 30.0, clock))
    for _ in range(5):
        with pytest.raises(KernelUnavailable):
            await client.submit_telemetry(agent_id="vaos", status="idle")
    async with KernelServer(vaos_home, port=port, jwks_port=None):
        with pytest.raises(KernelUnavailable, match="circuit open"):
            await client.submit_telemetry(agent_id="vaos", status="idle")
        clock.now += 30
        # The channel may still be in its reconnect backoff: the probe then fails and the
        # circuit re-opens; once gRPC has reconnected, the next probe closes it.
        for _ in range(20):
            try:
                assert await client.submit_telemetry(agent_id="vaos", status="idle")
                break
            except KernelUnavailable:
                clock.now += 30
                await asyncio.sleep(0.25)
        assert client.breaker.state == "closed"
    await client.close()


async def test_deadline_bounds_a_silent_kernel() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # accepts TCP, never speaks HTTP/2
    client = KernelClient(f"127.0.0.1:{silent.getsockname()[1]}", timeout=0.3)
    started = time.monotonic()
    with pytest.raises(KernelUnavailable):
        await client.request_token("vaos", INTENT, "file_read")
    assert time.monotonic() - started < 3.0
    assert client.breaker.failures == 1
    await client.close()
    silent.close()


def test_grpcs_is_refused_not_downgraded() -> None:
    with pytest.raises(ValueError, match="TLS"):
        KernelClient("grpcs://kernel.example:50051")
    assert KernelClient("grpc://127.0.0.1:50051").target == "127.0.0.1:50051"


# -- governance modes ------------------------------------------------------------------------


async def test_enforce_runs_the_action_with_a_token_and_records_it(
    client: KernelClient, vaos_home: Path
) -> None:
    bus = EventBus()
    seen: list[str] = []

    async def on_audit(event: object) -> None:
        seen.append(getattr(event, "type", ""))

    bus.subscribe(on_audit, ["audit_recorded"])
    gate = Governance(client, mode="enforce", bus=bus)
    async with gate.authorize(
        "file_write", intent="write notes", args={"path": "notes.md"}, session_id="s1"
    ) as auth:
        assert auth.granted and auth.token is not None
        auth.note("bytes", "42")
    assert auth.receipt is not None and auth.receipt.confirmed
    (record,) = records(vaos_home, "audit_confirmed")
    assert record["action_type"] == "file_write" and record["session_id"] == "s1"
    assert record["intent_hash"] == auth.intent_hash != INTENT
    context = record["data"]["context"]
    assert context["bytes"] == "42" and context["outcome"] == "ok" and context["governance_mode"] == "enforce"
    assert '"args":{"path":"notes.md"}' in context["intent_envelope"]
    assert seen == ["audit_recorded"]


async def test_enforce_records_a_failed_action_too(client: KernelClient, vaos_home: Path) -> None:
    gate = Governance(client, mode="enforce")
    with pytest.raises(ZeroDivisionError):
        async with gate.authorize("shell_execute", intent="divide"):
            _ = 1 / 0
    (record,) = records(vaos_home, "audit_confirmed")
    assert record["data"]["context"]["outcome"] == "error"
    assert record["data"]["context"]["error_type"] == "ZeroDivisionError"


async def test_enforce_refuses_without_a_token(client: KernelClient, vaos_home: Path) -> None:
    gate = Governance(client, mode="enforce")
    ran = False
    with pytest.raises(ActionRefused, match="unknown action type 'format_disk'") as refused:
        async with gate.authorize("format_disk", intent="wipe it"):
            ran = True
    assert not ran and refused.value.refusal_id
    assert records(vaos_home, "token_refused")[0]["id"] == refused.value.refusal_id


async def test_enforce_refuses_when_the_kernel_is_down() -> None:
    client = KernelClient(f"127.0.0.1:{free_port()}")
    gate = Governance(client, mode="enforce")
    ran = False
    with pytest.raises(ActionRefused, match="UNAVAILABLE"):
        async with gate.authorize("file_read", intent="read"):
            ran = True
    assert not ran
    await client.close()


async def test_audit_mode_acts_and_records_the_missing_token(client: KernelClient, vaos_home: Path) -> None:
    gate = Governance(client, mode="audit", agent_id="reviewer")
    ran = False
    async with gate.authorize("shell_execute", intent="ls", session_id="s2") as auth:
        ran = True
    assert ran and not auth.granted
    assert auth.missing_reason == "agent 'reviewer' may not take action 'shell_execute'"
    assert auth.audit_error == "no token presented" and auth.refusal_id
    refused = records(vaos_home, "audit_refused")[0]
    assert refused["id"] == auth.refusal_id and refused["agent_id"] == "reviewer"
    assert refused["data"]["context"]["missing_token_reason"] == auth.missing_reason
    assert refused["data"]["context"]["governance_mode"] == "audit"


async def test_audit_mode_acts_when_the_kernel_is_down() -> None:
    client = KernelClient(f"127.0.0.1:{free_port()}")
    gate = Governance(client, mode="audit")
    async with gate.authorize("file_read", intent="read") as auth:
        pass
    assert not auth.granted and auth.audit_error and "UNAVAILABLE" in auth.audit_error
    gate._retries.clear()  # nothing to deliver it to
    await gate.aclose()
    await client.close()


async def test_off_mode_calls_nothing() -> None:
    gate = Governance(None, mode="off")
    async with gate.authorize("format_disk") as auth:
        pass
    assert auth.mode == "off" and not auth.granted and auth.receipt is None
    assert await gate.log_routing(signal={"tier": "elite"}) is None
    assert gate.kernel_status() == "disabled"


# -- routing logs ----------------------------------------------------------------------------


async def test_every_classified_and_routed_message_is_logged(client: KernelClient, vaos_home: Path) -> None:
    bus = EventBus()
    gate = Governance(client, mode="enforce")
    unsubscribe = gate.attach(bus)
    signal = {
        "mode": "build",
        "genre": "direct",
        "type": "request",
        "format": "command",
        "weight": 0.8,
        "confidence": "high",
        "tier": "elite",
        "intent_hash": INTENT,
    }
    await bus.emit("signal_classified", {"signal": signal, "channel": "cli"}, session_id="s3")
    await bus.emit(
        "routing_decided",
        {
            "signal": signal,
            "decision": {
                "tier": "elite",
                "provider": "anthropic",
                "model": "claude",
                "why": ["weight 0.80", "complexity 3"],
            },
        },
        session_id="s3",
        agent_id="vaos",
    )
    await gate.flush()
    unsubscribe()
    logs = sorted(records(vaos_home, "routing_log"), key=lambda r: str(r["data"]["stage"]))
    assert [r["data"]["stage"] for r in logs] == ["classified", "routed"]
    routed = logs[1]
    assert routed["session_id"] == "s3" and routed["intent_hash"] == INTENT
    assert routed["data"]["tier"] == "elite" and routed["data"]["provider"] == "anthropic"
    assert routed["data"]["weight"] == 0.8 and routed["data"]["reason"] == "weight 0.80; complexity 3"
    assert verify(vaos_home).ok


async def test_routing_log_refusal_is_recorded(client: KernelClient, vaos_home: Path) -> None:
    gate = Governance(client, mode="enforce")
    assert await gate.log_routing(signal={"intent_hash": "not-a-hash"}) is None
    assert records(vaos_home, "routing_log_refused")[0]["reason"].startswith("intent_hash must be")


async def test_event_publisher_never_waits_for_the_kernel() -> None:
    silent = socket.socket()
    silent.bind(("127.0.0.1", 0))
    silent.listen()  # a kernel that hangs: every call would wait for its deadline
    client = KernelClient(f"127.0.0.1:{silent.getsockname()[1]}", timeout=5.0)
    gate = Governance(client, mode="enforce")
    bus = EventBus()
    gate.attach(bus)
    started = time.monotonic()
    for _ in range(2000):
        await bus.emit("signal_classified", {"signal": {"tier": "utility"}})
    assert time.monotonic() - started < 2.0
    assert gate.routing_dropped >= 999  # bounded queue: the oldest went
    assert gate._routing_task is not None
    gate._routing_task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await gate._routing_task
    await client.close()
    silent.close()


# -- wiring from the settings ----------------------------------------------------------------


async def test_open_governance_embeds_a_kernel_on_loopback(
    vaos_home: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from vaos.config import get_settings

    monkeypatch.setenv("VAOS_KERNEL__PORT", "0")
    monkeypatch.setenv("VAOS_KERNEL__JWKS_PORT", "0")
    get_settings.cache_clear()
    bus = EventBus()
    async with open_governance(bus=bus) as gate:
        assert gate.mode == "enforce" and gate.kernel_status() == "up"
        async with gate.authorize("llm_call", intent="hello") as auth:
            assert auth.granted
        await bus.emit("signal_classified", {"signal": {"tier": "utility"}})
    kinds = [r["kind"] for r in records(vaos_home)]
    assert kinds[0] == "kernel_started" and "audit_confirmed" in kinds and "routing_log" in kinds


async def test_open_governance_off_and_external(vaos_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vaos.config import get_settings

    monkeypatch.setenv("VAOS_GOVERNANCE__MODE", "off")
    get_settings.cache_clear()
    async with open_governance() as gate:
        assert gate.kernel_status() == "disabled"
    async with KernelServer(vaos_home, port=0, jwks_port=None) as server:
        monkeypatch.setenv("VAOS_GOVERNANCE__MODE", "audit")
        monkeypatch.setenv("VAOS_KERNEL__URL", server.address)
        get_settings.cache_clear()
        async with open_governance() as gate:
            assert gate.mode == "audit"
            async with gate.authorize("file_read", intent="x") as auth:
                assert auth.granted
