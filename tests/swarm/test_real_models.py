"""Swarms on real parts: every pattern once with the embedded local model (the shape of the
result only: a 135M model's words are not judged), and the real agent runtime as a drop-in."""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path

import pytest

from conftest import swarm_settings
from vaos.providers.local import LocalProvider, find_model_file
from vaos.store.swarms import SwarmStore
from vaos.swarm.service import SwarmService
from vaos.swarm.tasks import AgentTask
from vaos.swarm.testing import EchoRuntime

AGENTS = {
    "parallel": [{"role": "researcher"}, {"role": "writer"}],
    "pipeline": [{"role": "researcher"}, {"role": "writer"}],
    "debate": [{"role": "architect"}, {"role": "researcher"}, {"role": "critic"}],
    "review": [{"role": "writer"}, {"role": "reviewer"}],
    "pact": None,
}


@pytest.fixture
def local_model() -> LocalProvider:
    return LocalProvider(model_path=find_model_file())  # the loaded model is shared per process


@pytest.mark.slow
@pytest.mark.parametrize("pattern", list(AGENTS))
async def test_each_pattern_with_the_local_model(
    pattern: str, local_model: LocalProvider, store: SwarmStore
) -> None:
    settings = swarm_settings(max_agents=3, agent_timeout=120)
    runtime = EchoRuntime(settings, max_tokens=24)
    model_for: Callable[[AgentTask], LocalProvider] = lambda task: local_model  # noqa: E731
    service = SwarmService(runtime, settings=settings, store=store, executor="local", model_for=model_for)
    status = await service.run("Name one benefit of unit tests.", pattern, agents=AGENTS[pattern], rounds=1)
    await service.aclose()
    assert status["status"] in ("completed", "failed")  # PACT's gates may stop a tiny model
    assert status["agents"]
    for agent in status["agents"]:
        assert {"role", "agent_id", "task", "result", "status"} <= set(agent)
        assert agent["status"] in ("done", "failed")
        assert agent["provider"] == "local"
    if status["status"] == "completed":
        assert isinstance(status["result"], str) and status["result"].strip()


async def test_the_real_agent_runtime_is_a_drop_in(vaos_home: Path) -> None:
    agent = importlib.import_module("vaos.agent")
    if not hasattr(agent, "open_runtime"):
        pytest.skip("the agent runtime (issue 7) is not in this build")
    from vaos.events import EventBus
    from vaos.governance.ledger import read_records
    from vaos.providers.testing import Reply, ScriptedProvider

    settings = swarm_settings()
    providers: dict[str, ScriptedProvider] = {}

    def model_for(task: AgentTask) -> ScriptedProvider:
        return providers.setdefault(
            task.role, ScriptedProvider(f"fake-{task.role}", [Reply(f"{task.role} answer")])
        )

    async with agent.open_runtime(settings, bus=EventBus(), mcp=False) as runtime:
        service = SwarmService(runtime, settings=settings, model_for=model_for)
        status = await service.run(
            "Design a cache", "review", rounds=1, agents=[{"role": "coder"}, {"role": "reviewer"}]
        )
        await service.aclose()
    assert status["status"] == "completed"
    assert [a["result"] for a in status["agents"]] == ["coder answer", "reviewer answer"]
    records = read_records(vaos_home / "ledger")
    swarm_id = status["swarm_id"]
    assert any(r.get("action_type") == "swarm_launch" and r.get("session_id") == swarm_id for r in records)
    routed = {(r["agent_id"], r["session_id"]) for r in records if r["kind"] == "routing_log"}
    assert ("coder", f"{swarm_id}.i1.work") in routed
    assert ("reviewer", f"{swarm_id}.i1.review") in routed
