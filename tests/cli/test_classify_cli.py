"""``vaos classify`` as a user runs it: a real process, real stdin and exit codes."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

VAOS = [sys.executable, "-m", "vaos"]


def run(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([*VAOS, *args], input=stdin, capture_output=True, timeout=60, env=os.environ.copy())


def test_json_single_message_matches_contract() -> None:
    r = run("classify", "--json", "Build a REST API")
    assert r.returncode == 0, r.stderr
    obj = json.loads(r.stdout)
    assert obj["intent_hash"] == "6d8aa9b978c32673fa41ed872aa08b495e5a384c5c6b69d44c012b968d34be7c"
    assert set(obj) == {
        "mode",
        "genre",
        "type",
        "format",
        "weight",
        "confidence",
        "tier",
        "noise",
        "intent_hash",
        "classifier",
    }
    assert obj["classifier"] == "deterministic"
    assert r.stderr == b""


def test_table_for_people() -> None:
    r = run("classify", "restart nginx on prod")
    assert r.returncode == 0
    assert b"execute" in r.stdout and b"intent hash" in r.stdout


def test_batch_keeps_order_one_object_per_line() -> None:
    lines = ["hi", "deploy the api to staging now", "why is the build red?", "ok", "¿qué hora es?"]
    r = run("classify", "--json", "-", stdin=("\n".join(lines) + "\n").encode())
    assert r.returncode == 0, r.stderr
    out = [json.loads(x) for x in r.stdout.splitlines()]
    assert len(out) == len(lines)
    assert out[0]["noise"]["verdict"] == "filtered"
    assert out[1]["mode"] == "execute"
    assert out[2]["type"] == "question"


def test_batch_of_ten_thousand_lines() -> None:
    lines = [f"deploy service-{i} to staging and check the logs for errors" for i in range(10_000)]
    r = run("classify", "--json", "-", stdin="\n".join(lines).encode())
    assert r.returncode == 0
    assert len(r.stdout.splitlines()) == 10_000


@pytest.mark.parametrize(
    ("args", "stdin", "needle"),
    [
        (["classify", "--json", ""], None, b"empty"),
        (["classify", "--json", "   "], None, b"empty"),
        (["classify", "--json", "-"], b"ok\n\nmore\n", b"line 2"),
        (["classify", "--json", "-"], b"ok\n\xff\xfe\n", b"line 2: not valid UTF-8"),
        (["classify", "--json", "-"], b"", b"no input"),
        (["classify", "--json", "-"], b"x" * 1_000_001 + b"\n", b"over the limit of 1000000 bytes"),
        (["classify"], None, b"Missing argument"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: list[str], stdin: bytes | None, needle: bytes) -> None:
    r = run(*args, stdin=stdin)
    assert r.returncode == 2
    assert needle in r.stderr
    assert b"Traceback" not in r.stderr
    assert r.stdout == b""


def test_limit_comes_from_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAOS_SIGNAL__MAX_MESSAGE_BYTES", "10")
    r = run("classify", "--json", "this message is longer than ten bytes")
    assert r.returncode == 2
    assert b"limit of 10 bytes" in r.stderr


def test_save_stores_signals_in_sqlite(vaos_home: Path) -> None:
    r = run("classify", "--json", "--save", "-", stdin=b"restart nginx on prod\nwhy is the build red?\n")
    assert r.returncode == 0, r.stderr
    with sqlite3.connect(vaos_home / "vaos.db") as conn:
        rows = conn.execute("select mode, intent_hash, input_preview from signals order by id").fetchall()
    assert [row[0] for row in rows] == ["execute", "analyze"]
    assert rows[0][2] == "restart nginx on prod"


def test_llm_flag_without_a_model_says_so() -> None:
    r = run("classify", "--json", "--llm", "restart nginx")
    assert r.returncode == 0
    assert json.loads(r.stdout)["classifier"] in {"deterministic", "llm"}


def test_help_and_version() -> None:
    assert run("--help").returncode == 0
    assert run("classify", "--help").returncode == 0
    r = run("--version")
    assert r.returncode == 0 and r.stdout.startswith(b"vaos ")
