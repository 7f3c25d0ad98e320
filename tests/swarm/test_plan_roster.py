"""The roster as data (and its agreement with the kernel policy), plans and the planner."""

from __future__ import annotations

import tomllib
from collections.abc import Callable
from importlib import resources

import pytest

from conftest import RoleModels
from vaos.providers.testing import Reply
from vaos.swarm.errors import SwarmInputError
from vaos.swarm.plan import check_pattern, fallback_plan, parse_plan, plan_from_entries
from vaos.swarm.roster import PATTERNS, RosterError, load_roster, parse_roster
from vaos.swarm.service import SwarmService


def test_roster_loads_roles_agents_and_configurations() -> None:
    roster = load_roster()
    assert len(roster.roles) == 18
    assert len(roster.agents) == 31
    assert roster.pattern_names()[:5] == list(PATTERNS)
    for config in roster.configurations.values():
        assert config.pattern in PATTERNS
        assert all(a in roster.agents for a in config.agents)


def test_every_roster_agent_is_granted_its_tools_by_the_kernel_policy() -> None:
    policy = tomllib.loads(resources.files("vaos.data").joinpath("kernel_policy.toml").read_text())
    granted = {name: set(entry["actions"]) for name, entry in policy["agents"].items() if name != "vaos"}
    roster = load_roster()
    assert set(granted) == set(roster.agents)
    for agent in roster.agents.values():
        assert granted[agent.name] == {"llm_call", *agent.tools}, agent.name


def test_an_inconsistent_roster_is_refused() -> None:
    data = {
        "roles": {"coder": {"tier": "specialist", "agent": "nobody", "prompt": "p"}},
        "agents": {},
        "configurations": {"x": {"pattern": "swirl", "agents": ["ghost"]}},
    }
    with pytest.raises(RosterError) as caught:
        parse_roster(data)
    message = str(caught.value)
    assert "unknown agent 'nobody'" in message and "unknown pattern 'swirl'" in message


def test_pattern_names_aliases_and_unknown_ones() -> None:
    roster = load_roster()
    assert check_pattern(roster, "review_loop") == ("review", None)
    assert check_pattern(roster, "PIPELINE_CHAIN")[0] == "pipeline"
    kind, config = check_pattern(roster, "security-audit")
    assert kind == "parallel" and config is not None
    with pytest.raises(SwarmInputError, match="unknown pattern 'swirl'; patterns: parallel, pipeline"):
        check_pattern(roster, "swirl")


def test_explicit_agents_are_validated_and_max_agents_is_enforced() -> None:
    roster = load_roster()
    plan = plan_from_entries(
        roster, "parallel", "t", [{"agent": "red-team"}, {"role": "coder", "task": "x"}], max_agents=5
    )
    assert [(a.name, a.role, a.agent_id, a.task) for a in plan.agents] == [
        ("red-team", "red_team", "red-team", "t"),
        ("coder", "coder", "coder", "x"),
    ]
    with pytest.raises(SwarmInputError, match="agent 0: unknown role 'wizard'"):
        plan_from_entries(roster, "parallel", "t", [{"role": "wizard"}], max_agents=5)
    with pytest.raises(SwarmInputError, match="3 agents given; the limit is 2"):
        plan_from_entries(roster, "parallel", "t", [{"role": "coder"}] * 3, max_agents=2)
    with pytest.raises(SwarmInputError, match="the debate pattern needs at least 2 agents"):
        plan_from_entries(roster, "debate", "t", [{"role": "coder"}], max_agents=5)
    names = [
        a.name
        for a in plan_from_entries(roster, "parallel", "t", [{"role": "coder"}] * 3, max_agents=3).agents
    ]
    assert names == ["coder", "coder-2", "coder-3"]


def test_llm_plan_parsing_tolerates_fences_and_prose() -> None:
    roster = load_roster()
    answer = (
        "Sure! Here it is:\n```json\n"
        '{"agents": [{"role": "researcher", "task": "dig"}, {"role": "wizard", "task": "x"},'
        ' {"role": "writer", "task": "write"}, {"role": "coder", "task": "code"}], "rationale": "why"}\n```'
    )
    plan = parse_plan(roster, "parallel", "t", answer, max_agents=2)
    assert [a.role for a in plan.agents] == ["researcher", "writer"]  # unknown role skipped, then capped
    assert (plan.source, plan.rationale, plan.synthesis_strategy) == ("llm", "why", "merge")
    with pytest.raises(ValueError, match="no JSON object"):
        parse_plan(roster, "parallel", "t", "no plan here", max_agents=3)


def test_fallback_plans_follow_the_pattern_and_the_task_words() -> None:
    roster = load_roster()
    task = "Find the SQL injection in the login query"
    parallel = fallback_plan(roster, "parallel", task, max_agents=8)
    assert {a.agent_id for a in parallel.agents} >= {"database", "security-auditor"}
    debate = fallback_plan(roster, "debate", task, max_agents=8)
    assert debate.agents[-1].role == "critic"
    review = fallback_plan(roster, "review", "write a poem", max_agents=8)
    assert [a.role for a in review.agents] == ["writer", "reviewer"]
    assert len(fallback_plan(roster, "pipeline", task, max_agents=2).agents) == 2
    assert fallback_plan(roster, "parallel", "hello", max_agents=8).source == "fallback"


async def test_llm_planner_decides_the_agents(make_service: Callable[..., SwarmService]) -> None:
    plan = '{"agents": [{"role": "researcher", "task": "look up"}, {"role": "writer", "task": "summarise"}]}'
    models = RoleModels({"lead": [Reply(plan), Reply("merged")]})  # the planner, then the synthesiser
    service = make_service(models, planner="llm")
    status = await service.run("Summarise the news", "parallel")
    assert status["plan_source"] == "llm"
    assert [(a["role"], a["task"]) for a in status["agents"]] == [
        ("researcher", "look up"),
        ("writer", "summarise"),
    ]
    assert status["planner"]["agent_id"] == "master-orchestrator"
    assert "Available roles" in models.prompts("lead")[0]


async def test_llm_planner_falls_back_when_its_answer_is_unusable(
    make_service: Callable[..., SwarmService],
) -> None:
    models = RoleModels({"lead": "I would rather not."})
    status = await make_service(models, planner="llm").run("write a poem about queues", "review")
    assert status["plan_source"] == "fallback"
    assert [a["role"] for a in status["planned"]] == ["writer", "reviewer"]
