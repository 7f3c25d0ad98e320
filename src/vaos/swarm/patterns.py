"""The execution patterns: parallel, pipeline, debate, review (PACT is in ``pact.py``).

Each takes the plan's members and a ``SwarmRun`` and returns a ``PatternOutcome``: every
agent's role, task, result and status in order, plus the answer when the pattern has one.
Step names are deterministic (``a0``, ``s1``, ``r2.p0``, ``i3.work``…), so a resumed
coordinator finds the results it already has.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable, Sequence
from typing import TYPE_CHECKING, Final

from vaos.swarm.execution import PatternOutcome

if TYPE_CHECKING:
    from vaos.swarm.execution import SwarmRun
    from vaos.swarm.plan import PlannedAgent
    from vaos.swarm.tasks import AgentRun

PatternFn = Callable[["SwarmRun", Sequence["PlannedAgent"], int], Awaitable[PatternOutcome]]
_APPROVED: Final = re.compile(r"^[\s*_#>`\"'\[(-]*APPROVED\b", re.IGNORECASE)


def is_approved(review: str | None) -> bool:
    """A review approves when its first word is APPROVED (markdown emphasis allowed)."""
    return bool(review) and bool(_APPROVED.match(review or ""))


def _text(run: AgentRun) -> str:
    return (run.result or "") if run.ok else "(failed: no output)"


def _last_ok(runs: Sequence[AgentRun]) -> str | None:
    for run in reversed(runs):
        if run.ok:
            return run.result
    return None


async def parallel(swarm: SwarmRun, members: Sequence[PlannedAgent], rounds: int = 1) -> PatternOutcome:
    """Every member on its own task at once; the answer is merged afterwards (synthesis)."""
    runs = await swarm.run_many([(f"a{i}", m, m.task) for i, m in enumerate(members)])
    return PatternOutcome(runs, synthesize=True)


async def pipeline(swarm: SwarmRun, members: Sequence[PlannedAgent], rounds: int = 1) -> PatternOutcome:
    """Members in order, each starting from the last good output before it."""
    runs: list[AgentRun] = []
    previous: str | None = None
    for i, m in enumerate(members):
        body = (
            m.task
            if previous is None
            else f"## Previous agent output (start from it)\n{previous}\n\n## Your part\n{m.task}"
        )
        run = await swarm.run(f"s{i}", m, body)
        runs.append(run)
        if run.ok:
            previous = run.result
    return PatternOutcome(runs, output=_last_ok(runs), meta={"stages": len(members)})


async def debate(swarm: SwarmRun, members: Sequence[PlannedAgent], rounds: int = 1) -> PatternOutcome:
    """All members but the last propose; from round 2 each revises after reading the others'
    proposals in the mailbox; the last member judges and gives the answer."""
    if len(members) < 2:
        outcome = await parallel(swarm, members)
        outcome.meta["note"] = "fewer than 2 agents: ran as parallel"
        return outcome
    proposers, judge = list(members[:-1]), members[-1]
    runs: list[AgentRun] = []
    latest: dict[str, AgentRun] = {}
    names = {m.name for m in proposers}
    rounds = max(1, rounds)
    done_rounds = 0
    for r in range(1, rounds + 1):
        done_rounds = r
        if r == 1:
            batch = await swarm.run_many([(f"r1.p{i}", m, m.task) for i, m in enumerate(proposers)])
        else:
            items = []
            for i, m in enumerate(proposers):
                context = await swarm.peer_context(m.name, senders=names)
                own = latest[m.name].result if m.name in latest and latest[m.name].ok else None
                body = (
                    f"{m.task}\n\nThis is round {r} of the debate. Read the other proposals in your mailbox, "
                    "then give your improved proposal: keep what is right, fix what the others showed wrong."
                )
                if own:
                    body = f"## Your previous proposal\n{own}\n\n{body}"
                items.append((f"r{r}.p{i}", m, body, context))
            batch = list(
                await _gather([swarm.run(step, m, body, context=context) for step, m, body, context in items])
            )
        runs.extend(batch)
        for m, run in zip(proposers, batch, strict=True):
            latest[m.name] = run
        if swarm.limit_hit:
            break
    proposals = "\n\n".join(
        f"### Proposal {i} ({m.name}, {m.role})\n{_text(latest[m.name])}" for i, m in enumerate(proposers, 1)
    )
    body = (
        "## Your role in this debate\nYou are the judge. Weigh the proposals below, decide which is best "
        "and why, and give the final answer, improved with the good points of the others.\n\n"
        f"## The task\n{judge.task}\n\n## Proposals\n\n{proposals}"
    )
    verdict = await swarm.run("judge", judge, body)
    runs.append(verdict)
    return PatternOutcome(
        runs,
        output=verdict.result if verdict.ok else None,
        synthesize=not verdict.ok,
        meta={"rounds": done_rounds, "judge": judge.name},
    )


async def review(swarm: SwarmRun, members: Sequence[PlannedAgent], rounds: int = 3) -> PatternOutcome:
    """The first member works, the second reviews; the worker revises with the feedback (read
    from the mailbox: the reviewer's outputs) until the reviewer answers APPROVED or ``rounds`` run out. The
    answer is the worker's latest output."""
    if len(members) < 2:
        outcome = await parallel(swarm, members)
        outcome.meta["note"] = "fewer than 2 agents: ran as parallel"
        return outcome
    worker, reviewer = members[0], members[1]
    runs: list[AgentRun] = []
    work: str | None = None
    approved = False
    iterations = 0
    for i in range(1, max(1, rounds) + 1):
        iterations = i
        if i == 1:
            body = worker.task
            context = None
        else:
            context = await swarm.peer_context(worker.name, senders={reviewer.name})
            body = (
                "## Your previous work\n"
                f"{work}\n\n## Your original task\n{worker.task}\n\n"
                "Revise your work: address every point of the reviewer's feedback in your mailbox."
            )
        made = await swarm.run(f"i{i}.work", worker, body, context=context)
        runs.append(made)
        if not made.ok:
            break
        work = made.result
        checked = await swarm.run(
            f"i{i}.review",
            reviewer,
            f"## Work to review (iteration {i})\n{work}\n\n## Review criteria\n{reviewer.task}\n\n"
            "## Instructions\nIf the work fully meets the criteria, start your answer with the word "
            "APPROVED. Otherwise list exactly what must change.",
        )
        runs.append(checked)
        if not checked.ok:
            break
        if is_approved(checked.result):
            approved = True
            break
        if swarm.limit_hit:
            break
    return PatternOutcome(
        runs,
        output=work,
        meta={"approved": approved, "iterations": iterations, "max_rounds": rounds},
    )


async def _gather(coroutines: list[Awaitable[AgentRun]]) -> list[AgentRun]:
    import asyncio

    return list(await asyncio.gather(*coroutines))


PATTERN_FUNCTIONS: Final[dict[str, PatternFn]] = {
    "parallel": parallel,
    "pipeline": pipeline,
    "debate": debate,
    "review": review,
}
