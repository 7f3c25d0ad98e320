"""Fixtures for the telemetry tests: the real RabbitMQ at 127.0.0.1:5672, names of our own.

``scripts/ensure-rabbitmq`` starts the broker (installing Debian's package when needed); when
it cannot, every test that needs the broker fails with its reason, never skips. Each test
gets exchange and queue names under a prefix of its own, deleted afterwards, so tests do not
see each other's messages and the suite can run twice. Tests that stop the broker start it
again in a ``finally``.
"""

from __future__ import annotations

import subprocess
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from telemetry_helpers import BROKER_URL, Broker, closed_port

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="session")
def rabbitmq() -> str:
    """The broker URL, once ``scripts/ensure-rabbitmq`` says it answers (fails otherwise)."""
    try:
        done = subprocess.run(
            [str(ROOT / "scripts" / "ensure-rabbitmq")], capture_output=True, text=True, timeout=180
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"RabbitMQ is needed at 127.0.0.1:5672 and scripts/ensure-rabbitmq failed: {exc}")
    if done.returncode != 0:
        pytest.fail(
            "RabbitMQ is needed at 127.0.0.1:5672 and scripts/ensure-rabbitmq could not start it: "
            + (done.stderr.strip() or f"exit {done.returncode}")
        )
    return BROKER_URL


@pytest.fixture
def unreachable_url() -> str:
    return f"amqp://guest:guest@127.0.0.1:{closed_port()}/"


@pytest.fixture
async def broker(rabbitmq: str) -> AsyncIterator[Broker]:
    b = Broker(rabbitmq, f"vaos-test-{uuid.uuid4().hex[:10]}.")
    yield b
    await b.delete_names()
