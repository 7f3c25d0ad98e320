"""Each pattern with a scripted model per role: deterministic roles, answers and shapes."""

from __future__ import annotations

from collections.abc import Callable

from conftest import RoleModels
from vaos.providers.testing import Reply
from vaos.swarm.service import SwarmService

AGENT_KEYS = {"role", "agent_id", "task", "result", "status"}


def _shape(status: dict[str, object]) -> list[dict[str, object]]:
    agents = status["agents"]
    assert isinstance(agents, list)
    for agent in agents:
        assert set(agent) >= AGENT_KEYS
    return agents


async def test_parallel_runs_every_agent_and_merges(make_service: Callable[..., SwarmService]) -> None:
    models = RoleModels(
        {"researcher": "The facts: queues decouple.", "writer": "A clear draft.", "lead": "MERGED ANSWER"}
    )
    service = make_service(models)
    status = await service.run(
        "Explain message queues",
        "parallel",
        agents=[{"role": "researcher", "task": "find facts"}, {"role": "writer", "task": "draft"}],
    )
    agents = _shape(status)
    assert status["status"] == "completed"
    assert [(a["role"], a["agent_id"], a["task"], a["result"], a["status"]) for a in agents] == [
        ("researcher", "researcher", "find facts", "The facts: queues decouple.", "done"),
        ("writer", "writer", "draft", "A clear draft.", "done"),
    ]
    assert status["result"] == "MERGED ANSWER"
    assert status["synthesis"]["agent_id"] == "master-orchestrator"
    merge_prompt = models.prompts("lead")[0]
    assert "The facts: queues decouple." in merge_prompt
    assert "A clear draft." in merge_prompt


async def test_parallel_without_a_synthesiser_merges_by_heading(
    make_service: Callable[..., SwarmService],
) -> None:
    models = RoleModels({"researcher": "R", "writer": "W", "lead": [Reply("")]})
    status = await make_service(models).run(
        "t", "parallel", agents=[{"role": "researcher"}, {"role": "writer"}]
    )
    assert status["status"] == "completed"
    assert status["result"] == "## researcher (researcher)\nR\n\n---\n\n## writer (writer)\nW"


async def test_pipeline_hands_each_output_to_the_next(make_service: Callable[..., SwarmService]) -> None:
    models = RoleModels({"researcher": "step one", "coder": "step two", "writer": "final text"})
    service = make_service(models)
    status = await service.run(
        "Build it",
        "pipeline",
        agents=[
            {"role": "researcher", "task": "research"},
            {"role": "coder", "task": "build"},
            {"role": "writer", "task": "write"},
        ],
    )
    assert status["status"] == "completed"
    assert [a["result"] for a in _shape(status)] == ["step one", "step two", "final text"]
    assert status["result"] == "final text"
    assert "step one" in models.prompts("coder")[0]
    assert "step two" in models.prompts("writer")[0]
    assert status["synthesis"] is None


async def test_pipeline_passes_the_last_good_output_over_a_failed_stage(
    make_service: Callable[..., SwarmService],
) -> None:
    models = RoleModels({"researcher": "facts", "coder": [Reply("")], "writer": "done"})
    status = await make_service(models).run(
        "t", "pipeline", agents=[{"role": "researcher"}, {"role": "coder"}, {"role": "writer"}]
    )
    assert [a["status"] for a in status["agents"]] == ["done", "failed", "done"]
    assert "facts" in models.prompts("writer")[0]
    assert status["status"] == "completed"


async def test_debate_judge_sees_every_proposal(make_service: Callable[..., SwarmService]) -> None:
    models = RoleModels({"architect": "Use Kafka", "researcher": "Use RabbitMQ", "critic": "RabbitMQ wins"})
    status = await make_service(models).run(
        "Pick a broker",
        "debate",
        agents=[{"role": "architect"}, {"role": "researcher"}, {"role": "critic"}],
    )
    agents = _shape(status)
    assert [(a["step"], a["role"], a["result"]) for a in agents] == [
        ("r1.p0", "architect", "Use Kafka"),
        ("r1.p1", "researcher", "Use RabbitMQ"),
        ("judge", "critic", "RabbitMQ wins"),
    ]
    judge_prompt = models.prompts("critic")[0]
    assert "Use Kafka" in judge_prompt and "Use RabbitMQ" in judge_prompt
    assert status["result"] == "RabbitMQ wins"
    assert status["details"]["rounds"] == 1


async def test_debate_second_round_reads_the_mailbox(make_service: Callable[..., SwarmService]) -> None:
    models = RoleModels(
        {
            "architect": [Reply("Kafka v1"), Reply("Kafka v2")],
            "researcher": [Reply("Rabbit v1"), Reply("Rabbit v2")],
            "critic": "verdict",
        }
    )
    status = await make_service(models).run(
        "Pick", "debate", rounds=2, agents=[{"role": "architect"}, {"role": "researcher"}, {"role": "critic"}]
    )
    assert [a["step"] for a in status["agents"]] == ["r1.p0", "r1.p1", "r2.p0", "r2.p1", "judge"]
    second = models.prompts("architect")[1]
    assert "## Messages from your team (mailbox)" in second
    assert "[researcher]: Rabbit v1" in second
    assert "Kafka v1" in second  # its own previous proposal, not from the mailbox
    assert "[architect]" not in second
    judge = models.prompts("critic")[0]
    assert "Kafka v2" in judge and "Rabbit v2" in judge and "Kafka v1" not in judge


async def test_review_loop_until_approved(make_service: Callable[..., SwarmService]) -> None:
    models = RoleModels(
        {
            "coder": [Reply("draft 1"), Reply("draft 2")],
            "reviewer": [Reply("Needs tests."), Reply("**APPROVED** — good.")],
        }
    )
    status = await make_service(models).run(
        "Write code", "review", agents=[{"role": "coder"}, {"role": "reviewer"}]
    )
    agents = _shape(status)
    assert [(a["step"], a["role"], a["result"]) for a in agents] == [
        ("i1.work", "coder", "draft 1"),
        ("i1.review", "reviewer", "Needs tests."),
        ("i2.work", "coder", "draft 2"),
        ("i2.review", "reviewer", "**APPROVED** — good."),
    ]
    assert status["result"] == "draft 2"
    assert status["details"]["approved"] is True
    revision = models.prompts("coder")[1]
    assert "Needs tests." in revision and "draft 1" in revision


async def test_review_without_approval_answers_the_last_work(
    make_service: Callable[..., SwarmService],
) -> None:
    models = RoleModels(
        {"coder": [Reply("v1"), Reply("v2"), Reply("v3")], "reviewer": "Not yet: approved parts only."}
    )
    status = await make_service(models, max_rounds=3).run(
        "t", "review", agents=[{"role": "coder"}, {"role": "reviewer"}]
    )
    assert len(status["agents"]) == 6
    assert status["result"] == "v3"  # the original reported the first output
    assert status["details"] == {"approved": False, "iterations": 3, "max_rounds": 3}
    assert status["status"] == "completed"


PLAN = (
    "Here is the plan.\n"
    "1. Research the options. Role: researcher. Complexity 3.\n"
    "2. Implement the queue consumer. Role: coder. Complexity 5.\n"
    "3. Write the tests for it. Role: tester. Complexity 4."
)
DELIVERABLE = "The integrated deliverable: " + "a consumer with acks, retries and a dead-letter queue. " * 3


async def test_pact_passes_every_gate(make_service: Callable[..., SwarmService]) -> None:
    models = RoleModels(
        {
            "planner": PLAN,
            "researcher": "options compared",
            "coder": "consumer written",
            "lead": DELIVERABLE,
            "tester": "QUALITY_SCORE: 0.9\nNo critical issues.",
        }
    )
    status = await make_service(models).run("Build a queue consumer", "pact")
    agents = _shape(status)
    assert [(a["step"], a["role"]) for a in agents] == [
        ("pact.plan", "planner"),
        ("pact.act0", "researcher"),
        ("pact.act1", "coder"),
        ("pact.act2", "tester"),
        ("pact.coord", "lead"),
        ("pact.test", "tester"),
    ]
    assert status["status"] == "completed"
    assert status["result"] == DELIVERABLE
    details = status["details"]
    assert details["threshold"] == 0.7
    assert [(g["phase"], g["passed"]) for g in details["phases"]] == [
        ("planning", True),
        ("action", True),
        ("coordination", True),
        ("testing", True),
    ]
    assert details["quality_score"] == 0.9


async def test_pact_stops_at_a_gate_below_0_7_and_keeps_the_completed_phases(
    make_service: Callable[..., SwarmService],
) -> None:
    models = RoleModels(
        {"planner": PLAN, "lead": DELIVERABLE, "tester": "QUALITY_SCORE: 0.4\nCRITICAL: no retries."}
    )
    status = await make_service(models).run("Build it", "pact")
    assert status["status"] == "failed"
    assert status["error"] == "PACT quality gate 'testing' failed: score 0.40 < 0.7"
    details = status["details"]
    assert details["failed_phase"] == "testing"
    assert details["rolled_back"] == ["planning", "action", "coordination"]
    assert len(status["agents"]) == 6  # every agent that ran is reported
    assert status["result"] is None


async def test_pact_fails_at_planning_with_a_thin_plan(make_service: Callable[..., SwarmService]) -> None:
    status = await make_service(RoleModels({"planner": "ok"})).run("t", "pact")
    assert status["status"] == "failed"
    assert status["details"]["failed_phase"] == "planning"
    assert status["details"]["phases"][0]["score"] == 0.3
    assert [a["step"] for a in status["agents"]] == ["pact.plan"]


async def test_named_configuration_runs_its_agents(make_service: Callable[..., SwarmService]) -> None:
    status = await make_service(RoleModels({"lead": "merged"})).run("Audit login.py", "code-analysis")
    assert status["configuration"] == "code-analysis"
    assert status["pattern"] == "parallel"
    assert [a["agent_id"] for a in status["agents"]] == [
        "security-auditor",
        "code-reviewer",
        "test-automator",
    ]
    assert [a["result"] for a in status["agents"]] == ["red_team says ok", "critic says ok", "qa says ok"]
