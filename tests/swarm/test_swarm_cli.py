"""``vaos swarm …`` and ``vaos worker`` as a user runs them (real processes)."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

ECHO = "vaos.swarm.testing:open_echo_runtime"


def vaos(*args: str, home: Path, timeout: float = 60, **env: str) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("VAOS_")}
    base.update(
        VAOS_HOME=str(home),
        VAOS_SWARM__RUNTIME=ECHO,
        VAOS_SWARM__EXECUTOR="local",
        VAOS_SWARM__PLANNER="fallback",
        VAOS_GOVERNANCE__MODE="off",
    )
    base.update(env)
    return subprocess.run(
        [sys.executable, "-m", "vaos", *args], capture_output=True, text=True, timeout=timeout, env=base
    )


def test_swarm_run_json_then_status(tmp_path: Path) -> None:
    done = vaos(
        "swarm", "run", "--pattern", "pipeline", "--json", "Design a cache for the API", home=tmp_path
    )
    assert done.returncode == 0, done.stderr
    status = json.loads(done.stdout)
    assert status["status"] == "completed"
    assert status["pattern"] == "pipeline"
    assert status["agents"][0]["role"] == "researcher"
    assert all(a["status"] == "done" and a["result"] for a in status["agents"])
    shown = vaos("swarm", "status", "--json", status["swarm_id"], home=tmp_path)
    assert shown.returncode == 0, shown.stderr
    assert json.loads(shown.stdout)["result"] == status["result"]
    listed = vaos("swarm", "list", "--json", home=tmp_path)
    assert [row["swarm_id"] for row in json.loads(listed.stdout)] == [status["swarm_id"]]
    again = vaos("swarm", "cancel", status["swarm_id"], home=tmp_path)
    assert again.returncode == 1
    assert "is not running (status: completed)" in again.stderr


def test_swarm_run_prints_the_answer_and_progress(tmp_path: Path) -> None:
    done = vaos("swarm", "run", "-p", "review", "--rounds", "1", "write a haiku", home=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("writer: Complete this task:")
    assert "✓ done" in done.stderr and "(reviewer)" in done.stderr
    assert "completed — 2/2 agents done" in done.stderr


def test_swarm_run_bad_input_and_failure_exit_codes(tmp_path: Path) -> None:
    bad = vaos("swarm", "run", "--pattern", "swirl", "t", home=tmp_path)
    assert bad.returncode == 2
    assert bad.stderr.startswith("vaos: unknown pattern 'swirl'; patterns: parallel, pipeline")
    assert len(bad.stderr.strip().splitlines()) == 1
    assert vaos("swarm", "run", "--rounds", "99", "t", home=tmp_path).returncode == 2
    failed = vaos("swarm", "run", "--json", "x [[fail]]", home=tmp_path)
    assert failed.returncode == 1
    assert json.loads(failed.stdout)["status"] == "failed"
    missing = vaos("swarm", "run", "t", home=tmp_path, VAOS_SWARM__RUNTIME="nowhere:open")
    assert missing.returncode == 1
    assert "cannot be imported" in missing.stderr


def test_swarm_patterns_lists_configurations(tmp_path: Path) -> None:
    done = vaos("swarm", "patterns", "--json", home=tmp_path)
    rows = json.loads(done.stdout)
    assert [r["name"] for r in rows][:5] == ["parallel", "pipeline", "debate", "review", "pact"]
    assert {"name": "review-cycle", "pattern": "review"}.items() <= next(
        r for r in rows if r["name"] == "review-cycle"
    ).items()


def test_worker_without_a_broker_exits_1(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    done = vaos(
        "worker",
        home=tmp_path,
        timeout=60,
        VAOS_AMQP__URL=f"amqp://guest:guest@127.0.0.1:{port}/",
        VAOS_AMQP__CONNECT_TIMEOUT="1",
    )
    assert done.returncode == 1
    assert "is unreachable" in done.stderr
    assert "Traceback" not in done.stderr
