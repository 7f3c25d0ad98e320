"""Plans: which agents a swarm runs, in what order, on what part of the task.

A plan comes from one of four places, in this order of precedence: agents given by the
caller, a named configuration of the roster, the LLM planner (one governed agent run of the
``lead`` role that answers a JSON object), or the deterministic fallback, which picks roster
agents whose triggers the task mentions. The caller's ``max_agents`` is enforced on all four.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from vaos.swarm.errors import SwarmInputError
from vaos.swarm.roster import PATTERNS, Configuration, Roster, RosterError, normalize_pattern

STRATEGIES: Final[dict[str, str]] = {
    "parallel": "merge",
    "pipeline": "chain",
    "debate": "vote",
    "review": "chain",
    "pact": "chain",
}
MIN_AGENTS: Final[dict[str, int]] = {"parallel": 1, "pipeline": 1, "debate": 2, "review": 2, "pact": 0}
MAX_TASK_CHARS: Final = 4000
REVIEW_TASK: Final = "Review the work done for this task; approve it only when it is complete and correct:"
_FENCE = re.compile(r"^\s*```(?:json)?\s*(.*?)\s*```\s*$", re.DOTALL)
_OBJECT = re.compile(r"\{.*\}", re.DOTALL)
_NAME = re.compile(r"[^a-z0-9_-]+")


@dataclass(frozen=True)
class PlannedAgent:
    """One member of a swarm: its name in the swarm, role, governed agent id, tier, and task."""

    name: str
    role: str
    agent_id: str
    tier: str
    task: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "role": self.role,
            "agent_id": self.agent_id,
            "tier": self.tier,
            "task": self.task,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> PlannedAgent:
        return cls(
            name=str(data["name"]),
            role=str(data["role"]),
            agent_id=str(data["agent_id"]),
            tier=str(data["tier"]),
            task=str(data["task"]),
        )


@dataclass(frozen=True)
class Plan:
    pattern: str
    agents: tuple[PlannedAgent, ...]
    synthesis_strategy: str
    rationale: str
    source: str
    """``explicit``, ``configuration``, ``llm`` or ``fallback``."""
    configuration: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "agents": [a.to_dict() for a in self.agents],
            "synthesis_strategy": self.synthesis_strategy,
            "rationale": self.rationale,
            "source": self.source,
            "configuration": self.configuration,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Plan:
        return cls(
            pattern=str(data["pattern"]),
            agents=tuple(PlannedAgent.from_dict(a) for a in data.get("agents", ())),
            synthesis_strategy=str(
                data.get("synthesis_strategy") or STRATEGIES.get(str(data["pattern"]), "merge")
            ),
            rationale=str(data.get("rationale") or ""),
            source=str(data.get("source") or "explicit"),
            configuration=data.get("configuration"),
        )


def check_pattern(roster: Roster, name: str) -> tuple[str, Configuration | None]:
    """``(execution pattern, configuration or None)`` for what ``--pattern`` was given."""
    key = normalize_pattern(name or "")
    if key in PATTERNS:
        return key, None
    config = roster.configuration(key)
    if config is not None:
        return config.pattern, config
    raise SwarmInputError(
        f"unknown pattern {name!r}; patterns: {', '.join(PATTERNS)}; "
        f"configurations: {', '.join(sorted(roster.configurations))}"
    )


class MemberNames:
    """Member names unique within one swarm: the role, then ``role-2``, ``role-3``…"""

    def __init__(self, taken: Iterable[str] = ()) -> None:
        self.taken = set(taken)

    def __call__(self, base: str) -> str:
        stem = _NAME.sub("-", base.lower()).strip("-")[:40] or "agent"
        name, n = stem, 1
        while name in self.taken:
            n += 1
            name = f"{stem}-{n}"
        self.taken.add(name)
        return name


def member(
    roster: Roster, *, role: str | None, agent: str | None, task: str, names: MemberNames | None = None
) -> PlannedAgent:
    """A member for a role and/or a named agent (``SwarmInputError`` when unknown)."""
    try:
        role_name, agent_id, tier = roster.resolve(role, agent)
    except RosterError as exc:
        raise SwarmInputError(str(exc)) from None
    name = (names or MemberNames())(agent or role_name)
    return PlannedAgent(name=name, role=role_name, agent_id=agent_id, tier=tier, task=task)


def _fit(pattern: str, agents: list[PlannedAgent], max_agents: int) -> list[PlannedAgent]:
    """Apply ``max_agents`` (and review's two members); debate keeps its judge, the last."""
    limit = min(max_agents, 2) if pattern == "review" else max_agents
    if len(agents) <= limit:
        return agents
    if pattern == "debate" and limit >= 2:
        return [*agents[: limit - 1], agents[-1]]
    return agents[:limit]


def plan_from_entries(
    roster: Roster,
    pattern: str,
    task: str,
    entries: Sequence[Mapping[str, Any]],
    *,
    max_agents: int,
    source: str = "explicit",
    strict: bool = True,
    rationale: str = "",
    synthesis_strategy: str | None = None,
) -> Plan:
    """A plan from ``[{"role"?, "agent"?, "task"?}]``. ``strict``: a bad entry is an error (the
    caller's input); otherwise it is skipped (an LLM's answer)."""
    names = MemberNames()
    agents: list[PlannedAgent] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, Mapping):
            if strict:
                raise SwarmInputError(f"agent {index}: expected an object with role, agent and task")
            continue
        role = entry.get("role")
        agent = entry.get("agent") or entry.get("agent_id")
        sub_task = entry.get("task")
        if sub_task is not None and not isinstance(sub_task, str):
            if strict:
                raise SwarmInputError(f"agent {index}: task must be a string")
            continue
        sub_task = (sub_task or "").strip() or (task if strict else "")
        if not sub_task:
            continue
        try:
            agents.append(
                member(
                    roster,
                    role=str(role) if role else None,
                    agent=str(agent) if agent else None,
                    task=sub_task[:MAX_TASK_CHARS],
                    names=names,
                )
            )
        except SwarmInputError as exc:
            if strict:
                raise SwarmInputError(f"agent {index}: {exc}") from None
    if strict and len(agents) > max_agents:
        raise SwarmInputError(f"{len(agents)} agents given; the limit is {max_agents} (max_agents)")
    agents = _fit(pattern, agents, max_agents)
    need = MIN_AGENTS[pattern]
    if len(agents) < need:
        raise SwarmInputError(f"the {pattern} pattern needs at least {need} agents")
    return Plan(
        pattern=pattern,
        agents=tuple(agents),
        synthesis_strategy=synthesis_strategy or STRATEGIES[pattern],
        rationale=rationale or f"{len(agents)} agents given by the caller",
        source=source,
    )


def plan_from_configuration(roster: Roster, config: Configuration, task: str, *, max_agents: int) -> Plan:
    """The named configuration's agents, in order, each on the task from its own speciality."""
    names = MemberNames()
    agents: list[PlannedAgent] = []
    last = len(config.agents) - 1
    for index, name in enumerate(config.agents):
        named = roster.agent(name)
        if config.pattern == "review" and index == 1:
            sub_task = f"{REVIEW_TASK}\n{task}"
        elif config.pattern == "debate" and index == last:
            sub_task = f"Judge the proposals and give the best answer to:\n{task}"
        else:
            sub_task = f"Work on this task from your speciality ({named.description}):\n{task}"
        agents.append(member(roster, role=None, agent=name, task=sub_task, names=names))
    agents = _fit(config.pattern, agents, max_agents)
    return Plan(
        pattern=config.pattern,
        agents=tuple(agents),
        synthesis_strategy=STRATEGIES[config.pattern],
        rationale=config.description or f"configuration {config.name}",
        source="configuration",
        configuration=config.name,
    )


def fallback_plan(roster: Roster, pattern: str, task: str, *, max_agents: int) -> Plan:
    """A plan without a model: the roster agents the task's words point at, in pattern shape."""
    names = MemberNames()
    picked = roster.select_agents(task, limit=3)

    def m(role: str | None, text: str, agent: str | None = None) -> PlannedAgent:
        return member(roster, role=role, agent=agent, task=text, names=names)

    agents: list[PlannedAgent]
    if pattern == "parallel":
        agents = [
            m(None, f"Work on this task from your speciality ({a.description}):\n{task}", a.name)
            for a in picked
        ]
        if len(agents) < 2:
            agents += [
                m("researcher", f"Research and analyse:\n{task}"),
                m("writer", f"Write a comprehensive response for:\n{task}"),
            ][: 2 - len(agents)]
    elif pattern == "pipeline":
        doer = (
            m(None, f"Do the main work, building on the research:\n{task}", picked[0].name)
            if picked
            else None
        )
        agents = [m("researcher", f"Research and analyse:\n{task}")]
        agents += (
            [doer]
            if doer is not None
            else [m("coder", f"Do the main work, building on the research:\n{task}")]
        )
        agents += [m("writer", f"Turn the work so far into the final answer for:\n{task}")]
    elif pattern == "debate":
        proposers = [a.name for a in picked[:2]] or []
        agents = [m(None, f"Propose your best solution to:\n{task}", name) for name in proposers]
        for role in ("architect", "researcher")[: max(0, 2 - len(agents))]:
            agents.append(m(role, f"Propose your best solution to:\n{task}"))
        agents.append(m("critic", f"Judge the proposals and give the best answer to:\n{task}"))
    elif pattern == "review":
        worker = picked[0].name if picked else None
        agents = [
            m(None if worker else "coder", f"Complete this task:\n{task}", worker),
            m(
                "reviewer",
                f"{REVIEW_TASK}\n{task}",
            ),
        ]
    else:
        raise SwarmInputError(f"no fallback plan for the {pattern} pattern")
    agents = _fit(pattern, agents, max_agents)
    return Plan(
        pattern=pattern,
        agents=tuple(agents),
        synthesis_strategy=STRATEGIES[pattern],
        rationale="Deterministic plan from the roster's triggers (no LLM plan)",
        source="fallback",
    )


_PATTERN_GUIDE: Final[dict[str, str]] = {
    "parallel": "The agents work independently, each on a different aspect; their outputs are merged.",
    "pipeline": "The agents work in order; each starts from the previous agent's output and improves it.",
    "debate": "All agents but the last each propose a solution; the LAST agent is the judge who picks "
    "and improves the best one (give it the role critic or lead).",
    "review": "Exactly two agents: the first does the work, the second reviews it until it approves "
    "(give it the role reviewer).",
}


def planner_prompt(roster: Roster, pattern: str, task: str, *, max_agents: int) -> str:
    roles = "\n".join(
        f"- {name}: {roster.roles[name].prompt.split('.')[0]}." for name in sorted(roster.roles)
    )
    most = min(max_agents, 2) if pattern == "review" else max_agents
    least = MIN_AGENTS.get(pattern, 1)
    return (
        "You are a task decomposition specialist. Split the task below into work for a team of "
        f"agents using the {pattern} pattern. {_PATTERN_GUIDE[pattern]}\n\n"
        f"## Available roles\n{roles}\n\n"
        f"## Rules\n- Between {least} and {most} agents.\n- Each agent gets a role from the list and a "
        "specific, self-contained task.\n- Answer with ONE JSON object and nothing else, of this form:\n"
        '{"agents": [{"role": "researcher", "task": "..."}], "rationale": "one sentence"}\n\n'
        f"## Task\n{task}"
    )


def parse_plan(roster: Roster, pattern: str, task: str, text: str, *, max_agents: int) -> Plan:
    """The LLM planner's answer as a plan; ``ValueError`` when it is unusable."""
    data = _json_object(text)
    entries = data.get("agents")
    if not isinstance(entries, list) or not entries:
        raise ValueError("the plan has no agents")
    strategy = data.get("synthesis_strategy")
    if strategy is not None and strategy not in ("merge", "vote", "chain"):
        strategy = None
    rationale = data.get("rationale")
    try:
        plan = plan_from_entries(
            roster,
            pattern,
            task,
            entries,
            max_agents=max_agents,
            source="llm",
            strict=False,
            rationale=rationale if isinstance(rationale, str) and rationale.strip() else "LLM-generated plan",
            synthesis_strategy=strategy,
        )
    except SwarmInputError as exc:
        raise ValueError(str(exc)) from None
    return plan


def _json_object(text: str) -> dict[str, Any]:
    candidates = [text.strip()]
    fenced = _FENCE.match(text)
    if fenced:
        candidates.insert(0, fenced.group(1))
    found = _OBJECT.search(text)
    if found:
        candidates.append(found.group(0))
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(value, dict):
            return value
    raise ValueError("no JSON object in the planner's answer")
