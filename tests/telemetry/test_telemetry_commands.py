"""Kernel commands: signed ones obeyed (and the paused state survives a restart); every kind of
bad one refused, logged and recorded in the audit ledger; the consumer never stops."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from telemetry_helpers import Broker, wait_until

from vaos.config import Settings
from vaos.events import EventBus
from vaos.governance.commands import (
    COMMAND_TYP,
    CommandController,
    CommandProcessor,
    NonceStore,
    command_body,
    ledger_audit,
    new_command,
    send_command,
)
from vaos.governance.daemon_state import DaemonStateStore
from vaos.governance.keys import KeyStore, b64url
from vaos.governance.ledger import Ledger, read_records
from vaos.governance.telemetry import TelemetryPublisher


@pytest.fixture
def keystore(vaos_home: Path) -> KeyStore:
    return KeyStore.open(vaos_home / "keys")


@pytest.fixture
async def ledger(vaos_home: Path, keystore: KeyStore) -> AsyncIterator[Ledger]:
    opened = Ledger.open(vaos_home / "ledger", keystore)
    yield opened
    await opened.close()


class Calls:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str]] = []

    def callback(self, name: str) -> Any:
        async def record(agent_id: str) -> None:
            self.seen.append((name, agent_id))

        return record


def make_processor(
    home: Path, keystore: KeyStore, ledger: Ledger, calls: Calls | None = None
) -> tuple[CommandProcessor, CommandController]:
    calls = calls or Calls()
    controller = CommandController(
        DaemonStateStore.for_home(home),
        on_pause=calls.callback("pause"),
        on_resume=calls.callback("resume"),
        on_shutdown=calls.callback("shutdown"),
    )
    processor = CommandProcessor(keystore, NonceStore.for_home(home), controller, audit=ledger_audit(ledger))
    return processor, controller


def signed(keystore: KeyStore, payload: dict[str, Any], **clear: Any) -> bytes:
    return orjson.dumps({**clear, "jws": keystore.sign_jws(payload, typ=COMMAND_TYP)})


def payload(kind: str = "pause", *, age: int = 0, ttl: int = 60) -> dict[str, Any]:
    now = int(time.time()) - age
    return {
        "type": kind,
        "agent_id": "*",
        "issued_at": now,
        "exp": now + ttl,
        "nonce": secrets.token_urlsafe(16),
    }


def ledger_kinds(home: Path) -> list[tuple[str, str | None]]:
    return [(r["kind"], r.get("data", {}).get("code")) for r in read_records(home / "ledger")]


async def test_pause_resume_and_a_restart_stays_paused(
    vaos_home: Path, keystore: KeyStore, ledger: Ledger
) -> None:
    calls = Calls()
    processor, controller = make_processor(vaos_home, keystore, ledger, calls)
    assert not controller.paused

    outcome = await processor.handle(command_body(keystore, new_command("pause")), "m1")
    assert outcome.accepted and outcome.effect == "paused *"
    assert controller.paused and controller.is_paused("coder")
    assert calls.seen == [("pause", "*")]

    restarted = CommandController(DaemonStateStore.for_home(vaos_home))
    assert restarted.paused  # persisted before the callbacks ran

    outcome = await processor.handle(command_body(keystore, new_command("resume")), "m2")
    assert outcome.accepted and not controller.paused
    assert not CommandController(DaemonStateStore.for_home(vaos_home)).paused

    await processor.handle(command_body(keystore, new_command("pause", "coder")), "m3")
    assert controller.is_paused("coder") and not controller.is_paused("writer") and not controller.paused
    assert calls.seen == [("pause", "*"), ("resume", "*"), ("pause", "coder")]
    await ledger.close()
    assert [k for k, _ in ledger_kinds(vaos_home)] == ["command_obeyed"] * 3


async def test_shutdown_sets_the_event(vaos_home: Path, keystore: KeyStore, ledger: Ledger) -> None:
    processor, controller = make_processor(vaos_home, keystore, ledger)
    outcome = await processor.handle(command_body(keystore, new_command("shutdown")))
    assert outcome.accepted
    await asyncio.wait_for(controller.wait_for_shutdown(), 1)


def _tampered(keystore: KeyStore) -> bytes:
    token = keystore.sign_jws(payload("resume"), typ=COMMAND_TYP)
    header, _, sig = token.split(".")
    forged = b64url(orjson.dumps(payload("shutdown")))
    return orjson.dumps({"jws": f"{header}.{forged}.{sig}"})


def _alg_none(_: KeyStore) -> bytes:
    header = b64url(orjson.dumps({"alg": "none", "typ": COMMAND_TYP, "kid": "x"}))
    return orjson.dumps({"jws": f"{header}.{b64url(orjson.dumps(payload()))}."})


BAD: dict[str, Any] = {
    "malformed": lambda ks: b"{not json",
    "not_an_object": lambda ks: b"[1, 2]",
    "unsigned": lambda ks: orjson.dumps(payload()),
    "bad_signature": _tampered,
    "wrong_key": lambda ks: signed(KeyStore.open(ks.directory.parent / "other-keys"), payload()),
    "expired": lambda ks: signed(ks, payload(age=120, ttl=60)),
    "unknown_type": lambda ks: signed(ks, payload("reboot")),
    "alg_none": _alg_none,
    "wrong_typ": lambda ks: orjson.dumps({"jws": ks.sign_jws(payload(), typ="JWT")}),
    "too_long_lived": lambda ks: signed(ks, payload(ttl=3600)),
    "clear_fields_differ": lambda ks: signed(ks, payload("pause"), type="resume"),
    "extra_field": lambda ks: signed(ks, {**payload(), "shell": "rm -rf /"}),
    "targeted_shutdown": lambda ks: signed(ks, {**payload("shutdown"), "agent_id": "coder"}),
    "too_large": lambda ks: orjson.dumps({"jws": "x" * 20_000}),
}
CODES = {
    "malformed": "malformed",
    "not_an_object": "malformed",
    "unsigned": "unsigned",
    "bad_signature": "bad_signature",
    "wrong_key": "unknown_key",
    "expired": "expired",
    "unknown_type": "unknown_type",
    "alg_none": "bad_algorithm",
    "wrong_typ": "wrong_type",
    "too_long_lived": "invalid",
    "clear_fields_differ": "mismatch",
    "extra_field": "invalid",
    "targeted_shutdown": "invalid",
    "too_large": "too_large",
}


@pytest.mark.parametrize("case", sorted(BAD))
async def test_bad_command_is_refused_logged_and_recorded(
    case: str, vaos_home: Path, keystore: KeyStore, ledger: Ledger, caplog: pytest.LogCaptureFixture
) -> None:
    calls = Calls()
    processor, controller = make_processor(vaos_home, keystore, ledger, calls)
    outcome = await processor.handle(BAD[case](keystore), f"msg-{case}")
    assert not outcome.accepted
    assert outcome.code == CODES[case], outcome.reason
    assert calls.seen == [] and not controller.paused and not controller.shutdown_requested.is_set()
    assert f"kernel command refused ({CODES[case]})" in caplog.text
    await ledger.close()
    (record,) = read_records(vaos_home / "ledger")
    assert (record["kind"], record["outcome"], record["data"]["code"]) == (
        "command_refused",
        "refused",
        CODES[case],
    )
    assert record["data"]["message_id"] == f"msg-{case}"


async def test_a_replay_is_refused_even_after_a_restart(
    vaos_home: Path, keystore: KeyStore, ledger: Ledger
) -> None:
    body = command_body(keystore, new_command("pause"))
    processor, _ = make_processor(vaos_home, keystore, ledger)
    assert (await processor.handle(body)).accepted
    assert (await processor.handle(body)).code == "replayed"
    processor.nonces.close()
    restarted, _ = make_processor(vaos_home, keystore, ledger)
    assert (await restarted.handle(body)).code == "replayed"
    await ledger.close()
    assert ledger_kinds(vaos_home) == [
        ("command_obeyed", None),
        ("command_refused", "replayed"),
        ("command_refused", "replayed"),
    ]


async def test_a_key_rotated_meanwhile_still_verifies(
    vaos_home: Path, keystore: KeyStore, ledger: Ledger
) -> None:
    processor, _ = make_processor(vaos_home, keystore, ledger)
    body = command_body(keystore, new_command("pause"))  # signed by the key about to retire
    KeyStore.open(vaos_home / "keys").rotate()  # another process (vaos kernel rotate-key)
    assert (await processor.handle(body)).accepted
    fresh = command_body(KeyStore.open(vaos_home / "keys"), new_command("resume"))
    assert (await processor.handle(fresh)).accepted  # the new key is picked up


@pytest.mark.rabbitmq
async def test_commands_over_the_queue(
    broker: Broker, vaos_home: Path, keystore: KeyStore, ledger: Ledger
) -> None:
    """Signed pause and resume obeyed through the broker; garbage on the queue refused, and the
    consumer keeps going."""
    calls = Calls()
    processor, controller = make_processor(vaos_home, keystore, ledger, calls)
    bus = EventBus()
    publisher = TelemetryPublisher(broker.settings(), vaos_home / "spool", bus=bus)
    publisher.consume_commands(processor.handle)
    await publisher.start()
    settings = Settings(amqp=broker.settings())
    try:
        await wait_until(lambda: publisher.connected)
        await broker.publish_raw(b"\x00\xff not json at all")
        await broker.publish_raw(b'{"type": "shutdown", "agent_id": "*"}')  # unsigned
        await broker.publish_raw(b"")
        pause = new_command("pause")
        await send_command(settings, pause, command_body(keystore, pause))
        await wait_until(lambda: controller.paused)
        resume = new_command("resume")
        await send_command(settings, resume, command_body(keystore, resume))
        await wait_until(lambda: not controller.paused)
        assert processor.refused == 3 and processor.obeyed == 2
        assert not controller.shutdown_requested.is_set()
        assert publisher.connected
    finally:
        await publisher.stop()
    assert calls.seen == [("pause", "*"), ("resume", "*")]
    assert await broker.count(broker.topology.commands_queue) == 0  # all acked
    await ledger.close()
    assert ledger_kinds(vaos_home) == [
        ("command_refused", "malformed"),
        ("command_refused", "unsigned"),
        ("command_refused", "malformed"),
        ("command_obeyed", None),
        ("command_obeyed", None),
    ]
