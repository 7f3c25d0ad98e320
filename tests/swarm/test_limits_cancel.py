"""Limits (agents, rounds, time, budget, concurrent swarms), cancel, failures and events."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest

from conftest import RoleModels, swarm_settings
from vaos.events import Event
from vaos.providers.testing import Reply
from vaos.store.swarms import SwarmStore
from vaos.swarm.errors import SwarmBusyError, SwarmInputError, SwarmNotFoundError, SwarmStateError
from vaos.swarm.service import SwarmService
from vaos.swarm.testing import EchoRuntime


async def _until(predicate: Callable[[], object], within: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + within
    while not predicate():
        assert asyncio.get_running_loop().time() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


async def test_budget_stops_the_swarm_and_skips_the_rest(make_service: Callable[..., SwarmService]) -> None:
    status = await make_service().run(
        "t",
        "pipeline",
        budget_usd=1.0,
        agents=[{"role": "researcher", "task": f"part {i} [[cost 0.6]]"} for i in range(3)],
    )
    assert status["status"] == "over_budget"
    assert [a["status"] for a in status["agents"]] == ["done", "done", "skipped"]
    assert "budget of $1 is spent" in status["agents"][2]["error"]
    assert status["cost_usd"] == pytest.approx(1.2)
    assert status["details"]["limit_hit"] == "budget"


async def test_budget_counts_parallel_agents_one_slot_at_a_time(
    make_service: Callable[..., SwarmService],
) -> None:
    status = await make_service(max_parallel=1).run(
        "t",
        "parallel",
        budget_usd=0.5,
        agents=[{"role": "coder", "task": f"p{i} [[cost 0.5]]"} for i in range(3)],
    )
    assert [a["status"] for a in status["agents"]] == ["done", "skipped", "skipped"]
    assert status["status"] == "over_budget"


async def test_the_swarm_time_limit_covers_everything(make_service: Callable[..., SwarmService]) -> None:
    status = await make_service().run(
        "t", "parallel", timeout=0.3, agents=[{"role": "coder", "task": "[[sleep 5]]"}]
    )
    assert status["status"] == "timeout"
    assert status["error"] == "the swarm did not finish within 0.3 s"


async def test_an_agent_over_its_time_fails_alone(make_service: Callable[..., SwarmService]) -> None:
    status = await make_service(agent_timeout=0.2).run(
        "t",
        "parallel",
        agents=[{"role": "coder", "task": "slow [[sleep 3]]"}, {"role": "writer", "task": "quick"}],
    )
    assert [a["status"] for a in status["agents"]] == ["failed", "done"]
    assert status["agents"][0]["error"] == "timed out after 0.2 s"
    assert status["status"] == "completed"
    assert status["result"] == "writer: quick"


async def test_failing_agents_are_reported_and_all_failing_fails_the_swarm(
    make_service: Callable[..., SwarmService],
) -> None:
    status = await make_service().run("t", "parallel", agents=[{"role": "coder", "task": "x [[fail]]"}] * 2)
    assert status["status"] == "failed"
    assert status["error"] == "All agents failed to produce results."
    assert {a["error"] for a in status["agents"]} == {"RuntimeError: scripted agent failure"}


async def test_max_agents_and_rounds(make_service: Callable[..., SwarmService]) -> None:
    many = '{"agents": [' + ", ".join(['{"role": "coder", "task": "c"}'] * 6) + "]}"
    models = RoleModels({"lead": [Reply(many), Reply("merged")]})
    status = await make_service(models, planner="llm").run("t", "parallel", max_agents=2)
    assert len(status["agents"]) == 2  # the caller's limit, not a global one
    service = make_service(max_rounds=2)
    with pytest.raises(SwarmInputError, match="rounds must be between 1 and 2"):
        await service.launch("t", "review", rounds=3)
    with pytest.raises(SwarmInputError, match="max_agents must be between 1 and 50"):
        await service.launch("t", "parallel", max_agents=0)
    status = await service.run("t", "review", rounds=1, agents=[{"role": "coder"}, {"role": "reviewer"}])
    assert [a["step"] for a in status["agents"]] == ["i1.work", "i1.review"]


async def test_bad_input_is_refused_before_anything_runs(make_service: Callable[..., SwarmService]) -> None:
    service = make_service()
    for task, pattern, message in (
        ("  ", "parallel", "the task must not be empty"),
        ("t", "swirl", "unknown pattern 'swirl'"),
        ("x" * 100_001, "parallel", "longer than 100000"),
    ):
        with pytest.raises(SwarmInputError, match=message):
            await service.launch(task, pattern)
    assert await service.list_swarms() == []


async def test_cancel_stops_a_running_swarm_and_keeps_its_results(
    make_service: Callable[..., SwarmService], store: SwarmStore
) -> None:
    service = make_service()
    seen: list[dict[str, object]] = []
    swarm_id = await service.launch(
        "t",
        "pipeline",
        agents=[{"role": "researcher", "task": "fast"}, {"role": "coder", "task": "slow [[sleep 30]]"}],
        on_progress=seen.append,
    )
    await _until(lambda: any(e["step"] == "s1" and e["status"] == "running" for e in seen))
    assert await service.cancel(swarm_id) == {"swarm_id": swarm_id, "status": "cancelled"}
    status = await service.status(swarm_id)
    assert status is not None
    assert status["status"] == "cancelled"
    assert status["agents"][0]["result"] == "researcher: fast"
    assert status["agents"][1]["status"] == "running"  # interrupted: no result was stored
    with pytest.raises(SwarmStateError, match="is not running \\(status: cancelled\\)"):
        await service.cancel(swarm_id)
    with pytest.raises(SwarmNotFoundError):
        await service.cancel("swarm_0000")
    assert service.active() == []


async def test_cancel_from_another_process_reaches_the_coordinator(
    make_service: Callable[..., SwarmService], store: SwarmStore
) -> None:
    service = make_service()
    swarm_id = await service.launch("t", "parallel", agents=[{"role": "coder", "task": "[[sleep 30]]"}])
    other = SwarmService(None, settings=swarm_settings(), store=store)  # e.g. `vaos swarm cancel`
    await _until(lambda: service.active() == [swarm_id])
    await asyncio.sleep(0.1)
    await other.cancel(swarm_id)
    final = await service.wait(swarm_id, within=5)
    assert final["status"] == "cancelled"
    assert service.active() == []


async def test_concurrent_swarms_are_limited(make_service: Callable[..., SwarmService]) -> None:
    service = make_service(max_active=1)
    first = await service.launch("t", "parallel", agents=[{"role": "coder", "task": "[[sleep 30]]"}])
    with pytest.raises(SwarmBusyError, match="1 swarms are running; the limit is 1"):
        await service.launch("t", "parallel")
    await service.cancel(first)
    await service.aclose()


async def test_events_carry_the_swarm_id(
    make_service: Callable[..., SwarmService], store: SwarmStore
) -> None:
    runtime = EchoRuntime(swarm_settings())
    events: list[Event] = []

    async def collect(event: Event) -> None:
        events.append(event)

    runtime.bus.subscribe(collect, ("swarm_started", "swarm_finished"))
    service = make_service(runtime=runtime)
    status = await service.run(
        "Plan a trip", "debate", agents=[{"role": "architect"}, {"role": "researcher"}, {"role": "critic"}]
    )
    started, finished = events
    swarm_id = status["swarm_id"]
    assert (started.type, started.session_id, started.agent_id) == ("swarm_started", swarm_id, "vaos")
    assert started.data["swarm_id"] == swarm_id
    assert [a["agent_id"] for a in started.data["agents"]] == ["architect", "researcher", "code-reviewer"]
    assert finished.type == "swarm_finished"
    assert finished.data["swarm_id"] == swarm_id
    assert finished.data["status"] == "completed"
    assert finished.data["agent_count"] == 3
    # every agent ran in a session of the swarm, under its own agent id
    assert [(agent, session) for agent, session, _ in runtime.calls] == [
        ("architect", f"{swarm_id}.r1.p0"),
        ("researcher", f"{swarm_id}.r1.p1"),
        ("code-reviewer", f"{swarm_id}.judge"),
    ]
