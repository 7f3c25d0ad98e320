"""PACT: Plan, Act, Coordinate, Test — four phases, each behind a quality gate.

A planner splits the task into subtasks; up to five action agents (their roles read from the
subtasks) do them in parallel; a coordinator integrates their outputs; a tester scores the
result. After each phase a gate scores it from 0 to 1, and the workflow stops at the first
gate below the threshold (0.7). Unlike the original, a failed gate keeps every phase that
completed before it (and names them as rolled back, which is informational: nothing is
undone), and the answer is the coordinated deliverable, not the test report.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from vaos.swarm.execution import PatternOutcome
from vaos.swarm.plan import MemberNames, member

if TYPE_CHECKING:
    from vaos.swarm.execution import SwarmRun
    from vaos.swarm.plan import PlannedAgent
    from vaos.swarm.tasks import AgentRun

PACT_THRESHOLD: Final = 0.7
MAX_ACTION_AGENTS: Final = 5
PHASES: Final = ("planning", "action", "coordination", "testing")
CRITERIA: Final[dict[str, tuple[str, ...]]] = {
    "planning": ("Output received", "Subtasks identified", "Roles assigned"),
    "action": ("At least one agent succeeded", "Outputs non-empty"),
    "coordination": ("Conflicts resolved", "Output synthesized"),
    "testing": ("Quality score above threshold", "No critical issues"),
}
_PLAN_MARKERS: Final = ("subtask", "task", "step", "1.", "- ")
_PLAN_ROLES: Final = ("researcher", "coder", "reviewer", "architect", "tester")
_SPLIT: Final = re.compile(
    r"\n(?=[ \t]*(?:\d+[.)]\s|#{1,3}\s|[-*]\s+\*{0,2}(?:subtask|task|step)\b))", re.IGNORECASE
)
_MARKER: Final = re.compile(
    r"^[ \t]*(?:\d+[.)]\s|#{1,3}\s|[-*]\s+\*{0,2}(?:subtask|task|step)\b)", re.IGNORECASE
)
_ROLE_FIELD: Final = re.compile(r"\brole\s*\**\s*[:=-]\s*\**\s*([a-z_ -]{2,30})", re.IGNORECASE)
_SCORE: Final = re.compile(r"QUALITY_SCORE\s*:\s*\**\s*([0-9]*\.?[0-9]+)?", re.IGNORECASE)
# Words of a subtask that say which role should do it (first match in the text wins).
ROLE_WORDS: Final[dict[str, str]] = {
    "architect": "architect",
    "architecture": "architect",
    "design": "architect",
    "backend": "backend",
    "frontend": "frontend",
    "database": "data",
    "data": "data",
    "schema": "data",
    "devops": "infra",
    "infra": "infra",
    "infrastructure": "infra",
    "deploy": "infra",
    "document": "writer",
    "documentation": "writer",
    "docs": "writer",
    "write": "writer",
    "writer": "writer",
    "implement": "coder",
    "code": "coder",
    "coder": "coder",
    "qa": "qa",
    "research": "researcher",
    "researcher": "researcher",
    "investigate": "researcher",
    "review": "reviewer",
    "reviewer": "reviewer",
    "security": "red_team",
    "test": "tester",
    "tests": "tester",
    "tester": "tester",
    "testing": "tester",
}
_ROLE_WORD: Final = re.compile(
    r"\b(" + "|".join(sorted(ROLE_WORDS, key=len, reverse=True)) + r")\b", re.IGNORECASE
)


@dataclass(frozen=True)
class Gate:
    phase: str
    score: float
    threshold: float

    @property
    def passed(self) -> bool:
        return self.score >= self.threshold

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": f"{self.phase}_gate",
            "phase": self.phase,
            "score": round(self.score, 4),
            "threshold": self.threshold,
            "passed": self.passed,
            "criteria": list(CRITERIA[self.phase]),
        }


# -- scores ------------------------------------------------------------------------------------


def planning_score(output: str | None) -> float:
    if output is None:
        return 0.0
    lowered = output.lower()
    score = 0.6 if len(output) > 50 else 0.3
    if any(marker in lowered for marker in _PLAN_MARKERS):
        score += 0.2
    if any(role in lowered for role in _PLAN_ROLES):
        score += 0.2
    return min(score, 1.0)


def action_score(succeeded: int, total: int) -> float:
    if total == 0:
        return 0.3
    return 0.5 + 0.5 * (succeeded / total)


def coordination_score(output: str | None) -> float:
    if output is None:
        return 0.0
    return 0.8 if len(output) > 100 else 0.5


def testing_score(output: str | None) -> float:
    """``QUALITY_SCORE: x`` clamped to [0, 1]; 0.7 when the number is unreadable; without the
    line, 0.75 for a substantial report (over 100 characters), else 0.5."""
    if output is None:
        return 0.0
    found = _SCORE.search(output)
    if found is None:
        return 0.75 if len(output) > 100 else 0.5
    if not found.group(1):
        return 0.7
    try:
        value = float(found.group(1))
    except ValueError:
        return 0.7
    return min(max(value, 0.0), 1.0)


# -- action subtasks ---------------------------------------------------------------------------


def split_subtasks(plan: str, *, limit: int = MAX_ACTION_AGENTS) -> list[str]:
    """The planner's subtasks: numbered items, headings or "- Subtask" bullets (a preamble before
    the first one is dropped), at most ``limit``."""
    sections = [s.strip() for s in _SPLIT.split("\n" + plan.strip())]
    sections = [s for s in sections if s]
    if len(sections) > 1 and not _MARKER.match(sections[0]):
        sections = sections[1:]
    return sections[:limit]


def role_for_subtask(text: str, known_roles: Sequence[str]) -> str:
    """The role a subtask asks for: its ``role:`` field when known, else the first role word."""
    known = set(known_roles)
    field = _ROLE_FIELD.search(text)
    if field:
        value = field.group(1).strip().lower().replace(" ", "_").replace("-", "_")
        for candidate in (value, value.split("_")[0], ROLE_WORDS.get(value.split("_")[0], "")):
            if candidate in known:
                return candidate
    for match in _ROLE_WORD.finditer(text):
        role = ROLE_WORDS[match.group(1).lower()]
        if role in known:
            return role
    return "coder"


# -- the workflow ------------------------------------------------------------------------------


async def pact(
    swarm: SwarmRun, members: Sequence[PlannedAgent], rounds: int = 1, *, threshold: float = PACT_THRESHOLD
) -> PatternOutcome:
    """Run PACT. ``members``, when given, are the action agents (instead of the planner's split)."""
    roster, task = swarm.roster, swarm.task
    names = MemberNames(m.name for m in members)
    runs: list[AgentRun] = []
    gates: list[Gate] = []
    limit = max(1, min(MAX_ACTION_AGENTS, swarm.limits.max_agents))

    def finish(output: str | None, failed: str | None) -> PatternOutcome:
        passed = [g.phase for g in gates if g.passed]
        meta: dict[str, Any] = {
            "threshold": threshold,
            "phases": [g.to_dict() for g in gates],
            "phases_completed": passed,
        }
        if failed is not None:
            gate = gates[-1]
            meta.update(failed_phase=failed, rolled_back=passed)
            error = f"PACT quality gate '{failed}' failed: score {gate.score:.2f} < {threshold:g}"
            return PatternOutcome(runs, output=None, error=error, meta=meta)
        meta["quality_score"] = round(gates[-1].score, 4)
        return PatternOutcome(runs, output=output, meta=meta)

    # Plan
    planner = member(roster, role="planner", agent=None, task=f"Plan the work for: {task}", names=names)
    plan_run = await swarm.run(
        "pact.plan",
        planner,
        "You are the PLANNING agent of a PACT workflow (Plan, Act, Coordinate, Test). Break the task "
        f"below into 2 to {limit} subtasks, numbered 1., 2., … Give each a title, a description, a role "
        "(one of researcher, coder, reviewer, architect, tester, writer), a complexity from 1 to 10 and "
        f"its dependencies.\n\n## Task\n{task}",
    )
    runs.append(plan_run)
    plan_text = plan_run.result if plan_run.ok else None
    gates.append(Gate("planning", planning_score(plan_text), threshold))
    if not gates[-1].passed:
        return finish(None, "planning")

    # Act
    assert plan_text is not None
    actors: list[tuple[PlannedAgent, str]] = []
    if members:
        actors = [(m, m.task) for m in list(members)[:limit]]
    else:
        sections = split_subtasks(plan_text, limit=limit)
        if len(sections) >= 2:
            for section in sections:
                role = role_for_subtask(section, list(roster.roles))
                actors.append((member(roster, role=role, agent=None, task=section, names=names), section))
        else:
            actors = [
                (member(roster, role="researcher", agent=None, task=f"Research: {task}", names=names), ""),
                (member(roster, role="coder", agent=None, task=f"Implement: {task}", names=names), ""),
            ]
    items = []
    for i, (m, section) in enumerate(actors):
        subtask = section or m.task
        items.append(
            (
                f"pact.act{i}",
                m,
                f"## Context from the planning phase\n{plan_text}\n\n## Your subtask\n{subtask}\n\n"
                "Complete this subtask thoroughly; your output goes to the coordination agent.",
            )
        )
    acted = await swarm.run_many(items)
    runs.extend(acted)
    succeeded = sum(1 for r in acted if r.ok)
    action_output = "\n\n---\n\n".join(
        f"## Agent ({r.member}, {r.role}) [{'ok' if r.ok else 'failed'}]\n{r.result or r.error or ''}"
        for r in acted
    )
    gates.append(Gate("action", action_score(succeeded, len(acted)) if succeeded else 0.0, threshold))
    if not gates[-1].passed:
        return finish(None, "action")

    # Coordinate
    lead = member(roster, role="lead", agent=None, task=f"Integrate the work on: {task}", names=names)
    coordinated = await swarm.run(
        "pact.coord",
        lead,
        "You are the COORDINATION agent of a PACT workflow. Integrate the action agents' outputs into one "
        "coherent deliverable for the original task: resolve conflicts, fill gaps, remove duplication.\n\n"
        f"## Original task\n{task}\n\n## Action outputs\n{action_output}",
    )
    runs.append(coordinated)
    deliverable = coordinated.result if coordinated.ok else None
    gates.append(Gate("coordination", coordination_score(deliverable), threshold))
    if not gates[-1].passed:
        return finish(None, "coordination")

    # Test
    tester = member(roster, role="tester", agent=None, task=f"Test the deliverable for: {task}", names=names)
    tested = await swarm.run(
        "pact.test",
        tester,
        "You are the TESTING agent of a PACT workflow. Check the deliverable against the task: "
        "correctness, completeness, risks. Begin your answer with the line `QUALITY_SCORE: <0.0 to 1.0>`, "
        "then list the issues, CRITICAL ones first.\n\n"
        f"## Original task\n{task}\n\n## Deliverable\n{deliverable}",
    )
    runs.append(tested)
    gates.append(Gate("testing", testing_score(tested.result if tested.ok else None), threshold))
    if not gates[-1].passed:
        return finish(None, "testing")
    return finish(deliverable, None)
