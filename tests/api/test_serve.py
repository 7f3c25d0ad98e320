"""``vaos serve`` as a real process: embedded kernel, the real agent runtime, a model on
loopback (OpenAI wire format); it prints where it listens and stops cleanly on SIGTERM."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import openai
import pytest

from vaos.api.testing import fake_openai_app
from vaos.providers.testing import LoopbackServer

VAOS = str(Path(sys.executable).with_name("vaos"))


@pytest.fixture
def backend() -> Iterator[str]:
    with LoopbackServer(fake_openai_app("The daemon answers through the fake model.")) as server:
        yield server.url


def serve_env(home: Path, backend: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAOS_")}
    env.update(
        {
            "VAOS_HOME": str(home),
            "VAOS_PROVIDERS__FAKE__BASE_URL": backend + "/v1",
            "VAOS_PROVIDERS__FAKE__MODELS__UTILITY": "fake-small",
            "VAOS_PROVIDERS__FAKE__MODELS__SPECIALIST": "fake-medium",
            "VAOS_PROVIDERS__FAKE__MODELS__ELITE": "fake-large",
            "VAOS_ROUTING__DEFAULT_PROVIDER": "fake",
            "VAOS_ROUTING__LOCAL_FALLBACK": "false",
            "VAOS_SIGNAL__LLM_ENABLED": "false",
            "VAOS_KERNEL__PORT": "0",
            "VAOS_KERNEL__JWKS_PORT": "0",
            "VAOS_AMQP__URL": "",
        }
    )
    return env


def start(home: Path, backend: str) -> tuple[subprocess.Popen[str], str]:
    process = subprocess.Popen(
        [VAOS, "serve", "--port", "0"],
        env=serve_env(home, backend),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    match = re.search(r"vaos serving on (http://127\.0\.0\.1:\d+)", line)
    if match is None:
        process.kill()
        _, stderr = process.communicate()
        raise AssertionError(f"no address printed: {line!r} {stderr}")
    return process, match.group(1)


def stop(process: subprocess.Popen[str]) -> str:
    """SIGTERM, wait, and the stderr it wrote."""
    process.send_signal(signal.SIGTERM)
    try:
        _, stderr = process.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise
    return stderr


@pytest.mark.slow
def test_serve_answers_and_stops_cleanly_on_sigterm(tmp_path: Path, backend: str) -> None:
    process, url = start(tmp_path / "home", backend)
    env = serve_env(tmp_path / "home", backend)
    try:
        # GET /api/v1/tools and /api/v1/models are the CLI's --json documents
        cli_tools = json.loads(
            subprocess.run([VAOS, "tools", "--json"], env=env, capture_output=True, check=True).stdout
        )
        api_tools = httpx.get(url + "/api/v1/tools", timeout=10).json()
        assert [t["name"] for t in api_tools["tools"]] == [t["name"] for t in cli_tools["tools"]]
        assert api_tools["tools"][0]["parameters"] == cli_tools["tools"][0]["parameters"]
        cli_models = json.loads(
            subprocess.run([VAOS, "models", "--json"], env=env, capture_output=True, check=True).stdout
        )
        assert httpx.get(url + "/api/v1/models", timeout=10).json() == cli_models
        health = httpx.get(url + "/health", timeout=5).json()
        assert health["kernel"] == "up"
        assert "fake" in health["providers"]
        client = openai.OpenAI(api_key="local", base_url=url + "/v1", max_retries=0, timeout=20)
        done = client.chat.completions.create(
            model="auto", messages=[{"role": "user", "content": "hello daemon"}]
        )
        assert done.choices[0].message.content == "The daemon answers through the fake model."
        assert done.model.startswith("fake-")
        streamed = client.chat.completions.create(
            model="specialist",
            messages=[{"role": "user", "content": "stream it"}],
            stream=True,
            stream_options={"include_usage": True},
        )
        chunks = list(streamed)
        assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == (
            "The daemon answers through the fake model."
        )
        assert chunks[-1].usage is not None and chunks[-1].usage.total_tokens > 0
        agent = httpx.post(
            url + "/api/v1/orchestrate", json={"input": "summarise this: the sky is blue"}, timeout=30
        )
        assert agent.status_code == 200, agent.text
        assert agent.json()["output"]
        time.sleep(0.5)  # routing logs go to the kernel in the background
        records = httpx.get(url + "/api/v1/audit", timeout=5).json()["records"]
        assert any(r.get("kind") == "routing_log" for r in records)
        assert httpx.get(url + "/api/v1/audit/verify", timeout=10).json()["ok"] is True
        launched = httpx.post(
            url + "/api/v1/swarm/launch", json={"task": "list two colours", "pattern": "parallel"}, timeout=10
        )
        assert launched.status_code == 202, launched.text
        swarm_id = launched.json()["swarm_id"]
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            swarm = httpx.get(f"{url}/api/v1/swarm/{swarm_id}", timeout=5).json()
            if swarm["status"] not in ("queued", "planning", "running"):
                break
            time.sleep(0.2)
        assert swarm["status"] == "completed", swarm
        assert swarm["agents"] and all(a["result"] for a in swarm["agents"])
    finally:
        stderr = stop(process)
    assert process.returncode == 0, stderr
    assert "vaos stopped" in stderr
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_serve_refuses_a_port_in_use(tmp_path: Path, backend: str) -> None:
    process, url = start(tmp_path / "home", backend)
    try:
        port = url.rsplit(":", 1)[1]
        second = subprocess.run(
            [VAOS, "serve", "--port", port],
            env=serve_env(tmp_path / "other-home", backend),
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert second.returncode == 1
        assert "cannot listen" in second.stderr
        assert "Traceback" not in second.stderr
    finally:
        stop(process)
