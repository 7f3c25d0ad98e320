"""`vaos doctor` says whether telemetry reaches a broker or is spooled."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest


def _doctor(**env: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-m", "vaos", "doctor", "--json"],
        capture_output=True,
        timeout=60,
        env={**os.environ, **env},
    )
    assert done.returncode in (0, 1), done.stderr
    return json.loads(done.stdout)


def _broker(doc: dict[str, object]) -> dict[str, str]:
    checks = doc["checks"]
    assert isinstance(checks, list)
    return next(c for c in checks if c["area"] == "broker")


@pytest.mark.rabbitmq
def test_doctor_reports_an_unreachable_broker_and_the_spool() -> None:
    check = _broker(_doctor(VAOS_AMQP__URL="amqp://guest:guest@127.0.0.1:1/"))
    assert check["level"] == "warn"
    assert "spooled" in check["message"]
    assert check["fix"]


@pytest.mark.rabbitmq
def test_doctor_reports_the_real_broker() -> None:
    check = _broker(_doctor())
    assert check["level"] == "ok"
    assert "answers" in check["message"]
