"""``vaos kernel ...`` and ``vaos audit ...`` as a user runs them (real processes)."""

from __future__ import annotations

import asyncio
import json
import re
import signal
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from kernel_helpers import INTENT, run_vaos

from vaos.governance.client import KernelClient
from vaos.governance.keys import KeyStore
from vaos.governance.ledger import LedgerWriter

SERVE = [sys.executable, "-c", "from vaos.cli.app import main; main()", "kernel", "serve"]


def test_audit_show_json_on_a_fresh_home_is_an_empty_list(vaos_home: Path) -> None:
    result = run_vaos("audit", "show", "--json")
    assert result.returncode == 0, result.stderr
    assert result.stdout == "[]\n" and json.loads(result.stdout) == []
    assert run_vaos("audit", "show").returncode == 0
    verified = run_vaos("audit", "verify")
    assert verified.returncode == 0 and verified.stdout.startswith("intact: 0 records")
    assert list(vaos_home.iterdir()) == []  # reading created nothing


def test_help_for_every_command() -> None:
    for args in (
        ["kernel"],
        ["kernel", "serve"],
        ["kernel", "rotate-key"],
        ["audit"],
        ["audit", "verify"],
        ["audit", "show"],
        ["audit", "export"],
    ):
        result = run_vaos(*args, "--help")
        assert result.returncode == 0 and "Usage" in result.stdout, args


def test_bad_input_exits_2_with_one_line() -> None:
    for args in (["audit", "verify", "--ledger", "/nonexistent"], ["audit", "show", "--limit", "-1"]):
        result = run_vaos(*args)
        assert result.returncode == 2, args
        assert "Traceback" not in result.stderr


def test_rotate_key(vaos_home: Path) -> None:
    first = run_vaos("kernel", "rotate-key", "--json")
    assert first.returncode == 0, first.stderr
    doc = json.loads(first.stdout)
    assert doc["keys"] == 2 and doc["active_kid"] != doc["previous_kid"]
    assert KeyStore.open(vaos_home / "keys").active.kid == doc["active_kid"]
    for path in (vaos_home / "keys").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600


def start_serve(*extra: str) -> tuple[subprocess.Popen[str], str]:
    proc = subprocess.Popen(
        [*SERVE, "--port", "0", "--jwks-port", "0", *extra], stderr=subprocess.PIPE, text=True
    )
    assert proc.stderr is not None
    for _ in range(200):
        line = proc.stderr.readline()
        match = re.search(r"listening on (\S+) ", line)
        if match:
            return proc, match.group(1)
        if not line:
            break
    proc.kill()
    proc.wait()
    raise AssertionError("kernel serve did not start")


@pytest.mark.slow
def test_kernel_serve_runs_alone_and_stops_on_sigterm(vaos_home: Path) -> None:
    proc, address = start_serve("--token-ttl", "30")
    try:

        async def use() -> int:
            async with KernelClient(address) as client:
                token = await client.request_token("vaos", INTENT, "file_read")
                await client.confirm_audit(
                    agent_id="vaos", action_id="a", intent_hash=INTENT, jwt_token=token.token
                )
                return token.expires_at

        asyncio.run(use())
        second = subprocess.run(
            [*SERVE, "--port", "0", "--jwks-port", "0"], capture_output=True, text=True, timeout=60
        )
        assert second.returncode == 1 and f"in use by pid {proc.pid}" in second.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    assert "stopped" in err
    shown = json.loads(run_vaos("audit", "show", "--json", "--limit", "0").stdout)
    assert [r["kind"] for r in shown] == ["kernel_started", "tokens_issued", "audit_confirmed"]
    assert shown[0]["data"]["token_ttl"] == 30
    assert run_vaos("audit", "verify", "--full").returncode == 0


def test_kernel_serve_refuses_a_bad_policy(vaos_home: Path, tmp_path: Path) -> None:
    bad = tmp_path / "policy.toml"
    bad.write_text("version = 9\n")
    result = subprocess.run([*SERVE, "--policy", str(bad)], capture_output=True, text=True, timeout=60)
    assert result.returncode == 2 and "unsupported policy version" in result.stderr
    assert result.stderr.count("\n") == 1


def test_export_bundle_verifies_without_vaos(vaos_home: Path, tmp_path: Path) -> None:
    writer = LedgerWriter.open(vaos_home / "ledger", KeyStore.open(vaos_home / "keys"))
    for i in range(20):
        writer.append_many([{"kind": "routing_log", "outcome": "recorded", "data": {"i": i}}])
    writer.close()
    KeyStore.open(vaos_home / "keys").rotate()
    writer = LedgerWriter.open(vaos_home / "ledger", KeyStore.open(vaos_home / "keys"))
    writer.append_many([{"kind": "routing_log", "outcome": "recorded", "data": {"i": 20}}])
    writer.close()

    out = tmp_path / "bundle.tar.gz"
    result = run_vaos("audit", "export", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    manifest = json.loads(result.stdout)
    assert manifest["records"] == 21 and manifest["intact_at_export"] is True
    with tarfile.open(out) as tar:
        tar.extractall(tmp_path / "x", filter="data")
    (bundle,) = (tmp_path / "x").iterdir()
    assert sorted(p.name for p in bundle.iterdir()) == [
        "README.txt",
        "checkpoints.jsonl",
        "jwks.json",
        "manifest.json",
        "records.jsonl",
        "verify.py",
    ]
    assert len(json.loads((bundle / "jwks.json").read_text())["keys"]) == 2

    def standalone(*args: str) -> subprocess.CompletedProcess[str]:
        """verify.py in an isolated interpreter where importing vaos fails."""
        code = (
            "import runpy, sys; sys.modules['vaos'] = None; "
            f"sys.argv = ['verify.py', *{list(args)!r}]; runpy.run_path('verify.py', run_name='__main__')"
        )
        return subprocess.run([sys.executable, "-I", "-c", code], cwd=bundle, capture_output=True, text=True)

    ok = standalone(".", "--full")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("intact: 21 records")
    records = (bundle / "records.jsonl").read_bytes().replace(b'"i":7', b'"i":8', 1)
    (bundle / "records.jsonl").write_bytes(records)
    bad = standalone(".")
    assert bad.returncode == 1 and "TAMPERED: record seq 8" in bad.stdout
    # The CLI verifies a bundle directory too, with the bundle's keys.
    assert run_vaos("audit", "verify", "--ledger", str(bundle)).returncode == 1
