"""``vaos kernel command`` end to end: a real daemon process obeys a signed shutdown (drains,
exits 0) and stays paused across a restart; the command's bad input and failures."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from telemetry_helpers import Broker

from vaos.governance.keys import KeyStore
from vaos.governance.ledger import read_records

pytestmark = pytest.mark.rabbitmq

ROOT = Path(__file__).resolve().parents[2]
VAOS = ROOT / ".venv" / "bin" / "vaos"
STUB = Path(__file__).with_name("daemon_stub.py")


def env_for(broker: Broker, home: Path, url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAOS_")}
    env.update(
        VAOS_HOME=str(home),
        VAOS_AMQP__URL=url or broker.url,
        VAOS_AMQP__NAME_PREFIX=broker.prefix,
        VAOS_AMQP__FLUSH_INTERVAL="0.2",
    )
    return env


def vaos(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(VAOS), *args], env=env, capture_output=True, text=True, timeout=60)


class Daemon:
    def __init__(self, env: dict[str, str]) -> None:
        self.process = subprocess.Popen(
            [sys.executable, str(STUB)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        assert self.process.stdout is not None
        self.first_line = self.process.stdout.readline().strip()
        if not self.first_line.startswith("ready"):
            self.process.kill()
            _, err = self.process.communicate()
            pytest.fail(f"the daemon did not start: {err}")

    def wait(self) -> tuple[int, str, str]:
        try:
            out, err = self.process.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            out, err = self.process.communicate()
            pytest.fail(f"the daemon did not exit after shutdown: {err}")
        return self.process.returncode, out, err

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()


@pytest.mark.slow
def test_signed_shutdown_drains_and_exits_zero_and_pause_survives_restart(
    broker: Broker, vaos_home: Path
) -> None:
    env = env_for(broker, vaos_home)
    KeyStore.open(vaos_home / "keys")  # the kernel key exists before the daemon starts
    daemon = Daemon(env)
    try:
        assert daemon.first_line == "ready"
        paused = vaos("kernel", "command", "pause", "--json", env=env)
        assert paused.returncode == 0, paused.stderr
        sent = json.loads(paused.stdout)
        assert sent["type"] == "pause" and sent["agent_id"] == "*" and sent["sent"] is True
        done = vaos("kernel", "command", "shutdown", env=env)
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("sent shutdown for * to amqp://guest:***@127.0.0.1:5672/")
        code, out, err = daemon.wait()
    finally:
        daemon.kill()
    assert code == 0, err
    assert out.startswith("drained ")
    stats = json.loads(out.split(" ", 1)[1])
    assert stats["dropped"] == 0 and stats["spool_pending"] == 0 and stats["buffered"] == 0

    records = read_records(vaos_home / "ledger")
    obeyed = [r["data"]["command_type"] for r in records if r["kind"] == "command_obeyed"]
    assert obeyed == ["pause", "shutdown"]
    received = asyncio.run(broker.collect(broker.topology.events_queue, 3, within=10))
    events = {r.body["type"] for r in received}
    assert "agent_response" in events  # the last event was drained before the exit

    again = Daemon(env)  # a restart stays paused
    try:
        assert again.first_line == "ready paused"
        assert vaos("kernel", "command", "resume", env=env).returncode == 0
        assert vaos("kernel", "command", "shutdown", env=env).returncode == 0
        code, _, err = again.wait()
    finally:
        again.kill()
    assert code == 0, err
    state = json.loads((vaos_home / "state" / "daemon.json").read_text())
    assert state["paused_all"] is False


def test_command_cli_bad_input_exits_2(broker: Broker, vaos_home: Path) -> None:
    env = env_for(broker, vaos_home)
    for args, message in [
        (["reboot"], "reboot"),
        (["pause", "--ttl", "0"], "--ttl must be between 1 and 300"),
        (["shutdown", "--agent", "coder"], "shutdown applies to the whole daemon"),
        (["pause", "--agent", "no spaces please"], "invalid --agent"),
    ]:
        done = vaos("kernel", "command", *args, env=env)
        assert done.returncode == 2, (args, done.stderr)
        assert message in done.stderr
        assert "Traceback" not in done.stderr


def test_command_cli_failures_exit_1(broker: Broker, vaos_home: Path, unreachable_url: str) -> None:
    env = env_for(broker, vaos_home)
    no_keys = vaos("kernel", "command", "pause", env=env)
    assert no_keys.returncode == 1
    assert (
        no_keys.stderr.startswith("vaos: cannot sign with the kernel key")
        and "Traceback" not in no_keys.stderr
    )
    KeyStore.open(vaos_home / "keys")
    down = vaos("kernel", "command", "pause", env=env_for(broker, vaos_home, unreachable_url))
    assert down.returncode == 1
    assert down.stderr.startswith("vaos: cannot deliver to the broker at amqp://guest:***@127.0.0.1:")
    assert len(down.stderr.strip().splitlines()) == 1
