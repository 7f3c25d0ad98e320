"""The state of one swarm while its pattern runs, and the one way a pattern runs an agent.

``SwarmRun.run(step, member, body)`` builds the agent's prompt (its role, the peer messages
the pattern chose to show, its task), creates the task in the store, and — unless the store
already has its result (a coordinator resumed after a restart) or the budget is spent —
hands it to the executor, at most ``max_parallel`` at a time. Patterns only decide *what*
runs and in which order.
"""

from __future__ import annotations

import asyncio
import inspect
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vaos.swarm.tasks import AgentRun, AgentTask

if TYPE_CHECKING:
    from vaos.store.swarms import SwarmStore
    from vaos.swarm.executor import Executor
    from vaos.swarm.limits import Limits
    from vaos.swarm.mailbox import Mailbox
    from vaos.swarm.plan import PlannedAgent
    from vaos.swarm.roster import Roster

logger = logging.getLogger(__name__)

Progress = Callable[[dict[str, Any]], "Awaitable[None] | None"]
"""Called with ``{"swarm_id", "step", "member", "role", "agent_id", "task", "status", …}`` when
an agent starts (``running``) and when it ends (its status, result, error, cost)."""


@dataclass
class PatternOutcome:
    """What a pattern gives back: every agent's run, in order, and the answer if it has one."""

    agents: list[AgentRun]
    output: str | None = None
    synthesize: bool = False
    """True when the answer is still to be merged from the agents' results (parallel)."""
    error: str | None = None
    """Set when the pattern itself failed (e.g. a PACT quality gate)."""
    meta: dict[str, Any] = field(default_factory=dict)


def compose_prompt(roster: Roster, member: PlannedAgent, body: str, context: str | None = None) -> str:
    role = roster.roles.get(member.role)
    parts = [
        f'You are "{member.name}", the {member.role} in a team of AI agents working on one task together.',
        f"## Your role\n{role.prompt}" if role is not None else "",
        context or "",
        f"## Your task\n{body}",
    ]
    return "\n\n".join(p for p in parts if p)


class SwarmRun:
    def __init__(
        self,
        *,
        swarm_id: str,
        task: str,
        roster: Roster,
        limits: Limits,
        store: SwarmStore,
        executor: Executor,
        mailbox: Mailbox,
        on_progress: Progress | None = None,
        spent: float = 0.0,
    ) -> None:
        self.swarm_id = swarm_id
        self.task = task
        self.roster = roster
        self.limits = limits
        self.store = store
        self.executor = executor
        self.mailbox = mailbox
        self.on_progress = on_progress
        self.spent = spent
        self.runs: dict[str, AgentRun] = {}
        self.limit_hit: str | None = None
        self._seq = 0
        self._slots = asyncio.Semaphore(limits.max_parallel)

    # -- running agents ----------------------------------------------------------------------

    def over_budget(self) -> bool:
        budget = self.limits.budget_usd
        return budget is not None and self.spent >= budget

    async def run(
        self, step: str, member: PlannedAgent, body: str, *, context: str | None = None
    ) -> AgentRun:
        """Run one agent (or take its stored result) and return its run."""
        self._seq += 1
        task = AgentTask(
            swarm_id=self.swarm_id,
            step=step,
            member=member.name,
            role=member.role,
            agent_id=member.agent_id,
            task=member.task,
            prompt=compose_prompt(self.roster, member, body, context),
            tier=member.tier,
            seq=self._seq,
            timeout=self.limits.agent_timeout,
        )
        _, created = await self.store.ensure_task(task.to_dict())
        stored = None if created else await self.store.get_result(task.id)
        if stored is not None:
            run = AgentRun.from_stored(task, stored)
            self._account(run, resumed=True)
            await self._report(task, run)
            return run
        async with self._slots:
            if self.over_budget():
                self.limit_hit = "budget"
                saved, _ = await self.store.record_result(
                    task.id,
                    status="skipped",
                    error=f"not run: the budget of ${self.limits.budget_usd:g} is spent",
                    detail={"member": member.name, "session_id": task.session_id},
                )
                run = AgentRun.from_stored(task, saved)
            else:
                await self._report(task, None)
                run = await self.executor.run(task, fresh=created)
        self._account(run)
        await self._report(task, run)
        return run

    async def run_many(
        self, items: Sequence[tuple[str, PlannedAgent, str]], *, context: str | None = None
    ) -> list[AgentRun]:
        """Several agents at once (bounded by ``max_parallel``), results in the given order."""
        return list(
            await asyncio.gather(*(self.run(step, m, body, context=context) for step, m, body in items))
        )

    def _account(self, run: AgentRun, *, resumed: bool = False) -> None:
        self.runs[run.step] = run
        if not resumed:
            self.spent += run.cost_usd
        if self.over_budget():
            self.limit_hit = self.limit_hit or "budget"

    async def _report(self, task: AgentTask, run: AgentRun | None) -> None:
        if self.on_progress is None:
            return
        event: dict[str, Any] = {
            "swarm_id": self.swarm_id,
            "step": task.step,
            "member": task.member,
            "role": task.role,
            "agent_id": task.agent_id,
            "task": task.task,
            "status": "running" if run is None else run.status,
        }
        if run is not None:
            event.update(
                result=run.result,
                error=run.error,
                cost_usd=run.cost_usd,
                duration_s=round(run.duration_s, 3),
                worker=run.worker,
            )
        try:
            outcome = self.on_progress(event)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception as exc:  # a progress display must never break the swarm
            logger.warning("swarm progress callback failed: %r", exc)

    # -- the mailbox -------------------------------------------------------------------------

    async def post(self, sender: str, message: str, *, to: str | None = None) -> None:
        await self.mailbox.post(sender, message, to=to)

    async def peer_context(self, reader: str, *, senders: set[str] | None = None) -> str | None:
        return await self.mailbox.context(reader, senders=senders)
