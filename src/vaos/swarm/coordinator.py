"""The coordinator: runs one stored swarm from plan to answer.

It claims the swarm, plans it (unless the plan is stored already), runs the pattern through
an executor (in-process or the work queue), merges the answer when the pattern needs it,
stores the outcome and emits ``swarm_started`` / ``swarm_finished`` (``swarm_id`` in the data;
the session id of both is the swarm id, and each agent runs in session ``<swarm_id>.<step>``).
The swarm's whole time limit — planning and synthesis included — is enforced here, and a
cancel written to the store by any process stops it.

A coordinator may be restarted on the same swarm (a worker died while coordinating): the
plan and every stored result are taken as they are, so only the missing agents run.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Final

from vaos.store.models import utcnow
from vaos.store.swarms import FINISHED_SWARM
from vaos.swarm.errors import SwarmNotFoundError
from vaos.swarm.execution import PatternOutcome, SwarmRun
from vaos.swarm.limits import Limits
from vaos.swarm.mailbox import Mailbox
from vaos.swarm.pact import pact
from vaos.swarm.patterns import PATTERN_FUNCTIONS
from vaos.swarm.plan import (
    STRATEGIES,
    MemberNames,
    Plan,
    fallback_plan,
    member,
    parse_plan,
    planner_prompt,
)
from vaos.swarm.roster import Roster, load_roster
from vaos.swarm.tasks import AgentRun

if TYPE_CHECKING:
    from vaos.config import SwarmSettings
    from vaos.events import EventBus
    from vaos.store.swarms import SwarmStore
    from vaos.swarm.execution import Progress
    from vaos.swarm.executor import Executor

logger = logging.getLogger(__name__)

ACTIVE: Final = ("queued", "planning", "running")
PREVIEW_CHARS: Final = 200
NO_RESULTS: Final = "All agents failed to produce results."


def _preview(text: str | None, n: int = PREVIEW_CHARS) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= n else text[: n - 1] + "…"


def merge_outputs(runs: list[AgentRun]) -> str:
    """The answer without a synthesiser: each good output under its member's heading."""
    return "\n\n---\n\n".join(f"## {r.member} ({r.role})\n{r.result}" for r in runs if r.ok)


class Coordinator:
    def __init__(
        self,
        *,
        store: SwarmStore,
        executor: Executor,
        settings: SwarmSettings,
        roster: Roster | None = None,
        bus: EventBus | None = None,
        governance: Any = None,
        on_progress: Progress | None = None,
        name: str = "coordinator",
    ) -> None:
        self.store = store
        self.executor = executor
        self.settings = settings
        self.roster = roster or load_roster()
        self.bus = bus
        self.governance = governance
        self.on_progress = on_progress
        self.name = name

    async def run(self, swarm_id: str) -> dict[str, Any]:
        """Run the swarm to its end; returns the stored swarm record."""
        record = await self.store.get_swarm(swarm_id)
        if record is None:
            raise SwarmNotFoundError(f"no swarm {swarm_id!r}")
        if record["status"] in FINISHED_SWARM:
            return record
        first_start = record["started_at"] is None
        started_at = utcnow()
        claimed = await self.store.update_swarm(
            swarm_id,
            only_from=ACTIVE,
            coordinator=self.name,
            status="running" if record["plan"] else "planning",
            **({"started_at": started_at} if first_start else {}),
        )
        if not claimed:
            return await self._record(swarm_id)
        if not first_start:
            started_at = datetime.fromisoformat(record["started_at"])
        limits = Limits.from_dict(record["limits"])
        swarm = SwarmRun(
            swarm_id=swarm_id,
            task=record["task"],
            roster=self.roster,
            limits=limits,
            store=self.store,
            executor=self.executor,
            mailbox=Mailbox(self.store, swarm_id, max_chars=self.settings.mailbox_chars),
            on_progress=self.on_progress,
            spent=await self.store.spent(swarm_id),
        )
        remaining = limits.timeout - (utcnow() - started_at).total_seconds()
        clock = time.perf_counter()
        work = asyncio.current_task()
        watcher = asyncio.create_task(self._watch(swarm_id, work), name=f"vaos-swarm-watch-{swarm_id}")
        status, error, answer = "failed", None, None
        plan: Plan | None = None
        outcome: PatternOutcome | None = None
        synthesis: AgentRun | None = None
        try:
            async with asyncio.timeout(max(remaining, 0.001)):
                plan = await self._plan(swarm, record)
                await self._emit_started(record, plan, resumed=not first_start)
                outcome = await self._execute(swarm, plan, record)
                answer, synthesis = await self._answer(swarm, plan, outcome)
            status, error = self._verdict(swarm, outcome, answer)
        except TimeoutError:
            status, error = "timeout", f"the swarm did not finish within {limits.timeout:g} s"
        except asyncio.CancelledError:
            status, error = "cancelled", "cancelled"
            current = await self._status_or_none(swarm_id)
            if current != "cancelled":  # not a cancel of the swarm: this process is stopping
                raise
        except Exception as exc:
            logger.exception("swarm %s failed", swarm_id)
            status, error = "failed", f"{type(exc).__name__}: {exc}"
        finally:
            watcher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await watcher
        meta = dict(record["meta"])
        if outcome is not None:
            meta.update(outcome.meta)
        if synthesis is not None:
            meta["synthesis_step"] = synthesis.step
        if swarm.limit_hit:
            meta["limit_hit"] = swarm.limit_hit
        fields: dict[str, Any] = {
            "status": status,
            "result": answer,
            "error": error,
            "cost_usd": round(swarm.spent, 8),
            "finished_at": utcnow(),
            "meta": meta,
        }
        if plan is not None:
            fields["plan"] = plan.to_dict()
        changed = await self.store.update_swarm(swarm_id, only_from=ACTIVE, **fields)
        if not changed and status != "cancelled":  # cancelled meanwhile: keep the answer we have
            await self.store.update_swarm(
                swarm_id,
                result=answer,
                cost_usd=fields["cost_usd"],
                finished_at=fields["finished_at"],
                meta=meta,
            )
        final = await self._record(swarm_id)
        await self._emit_finished(final, swarm, time.perf_counter() - clock)
        if status == "cancelled":
            raise asyncio.CancelledError
        return final

    # -- steps -------------------------------------------------------------------------------

    async def _plan(self, swarm: SwarmRun, record: Mapping[str, Any]) -> Plan:
        if record["plan"]:
            return Plan.from_dict(record["plan"])
        pattern, task, max_agents = record["pattern"], record["task"], swarm.limits.max_agents
        if pattern == "pact":
            plan = Plan("pact", (), STRATEGIES["pact"], "PACT plans in its own planning phase", "pact")
        elif self.settings.planner == "llm":
            planner = member(
                self.roster, role="lead", agent=None, task=f"Plan the team for: {_preview(task)}"
            )
            prompt = planner_prompt(self.roster, pattern, task, max_agents=max_agents)
            run = await swarm.run("planner", planner, prompt)
            try:
                if not run.ok:
                    raise ValueError(run.error or "no answer")
                plan = parse_plan(self.roster, pattern, task, run.result or "", max_agents=max_agents)
            except ValueError as exc:
                logger.info("swarm %s: LLM plan unusable (%s); deterministic plan", swarm.swarm_id, exc)
                plan = fallback_plan(self.roster, pattern, task, max_agents=max_agents)
        else:
            plan = fallback_plan(self.roster, pattern, task, max_agents=max_agents)
        await self.store.update_swarm(swarm.swarm_id, plan=plan.to_dict(), status="running", only_from=ACTIVE)
        return plan

    async def _execute(self, swarm: SwarmRun, plan: Plan, record: Mapping[str, Any]) -> PatternOutcome:
        rounds = int(record["meta"].get("rounds") or 0)
        if plan.pattern == "pact":
            return await pact(swarm, plan.agents)
        if plan.pattern == "review":
            rounds = rounds or swarm.limits.max_rounds
        rounds = max(1, min(rounds or 1, swarm.limits.max_rounds))
        return await PATTERN_FUNCTIONS[plan.pattern](swarm, plan.agents, rounds)

    async def _answer(
        self, swarm: SwarmRun, plan: Plan, outcome: PatternOutcome
    ) -> tuple[str | None, AgentRun | None]:
        good = [r for r in outcome.agents if r.ok]
        if outcome.error is not None:
            return None, None
        if not outcome.synthesize:
            return outcome.output, None
        if not good:
            return None, None
        if len(good) == 1:
            return good[0].result, None
        names = MemberNames(r.member for r in outcome.agents)
        lead = member(self.roster, role="lead", agent=None, task="Synthesise the team's outputs", names=names)
        blocks = "\n\n---\n\n".join(
            f"### Agent {i} ({r.member}, {r.role})\nTask: {r.task}\n\nOutput:\n{r.result}"
            for i, r in enumerate(good, 1)
        )
        body = (
            "Combine the outputs of the agents below into the single best answer to the original task. "
            "Merge what agrees, resolve contradictions with reasons, keep every important point, and do not "
            f"mention the agents or the team.\n\n## Original task\n{swarm.task}\n\n"
            f"## Pattern\n{plan.pattern} (synthesis: {plan.synthesis_strategy})\n\n## Outputs\n\n{blocks}"
        )
        run = await swarm.run("synth", lead, body)
        return (run.result if run.ok else merge_outputs(good)), run

    def _verdict(
        self, swarm: SwarmRun, outcome: PatternOutcome | None, answer: str | None
    ) -> tuple[str, str | None]:
        if outcome is not None and outcome.error is not None:
            return "failed", outcome.error
        if swarm.limit_hit == "budget":
            return "over_budget", f"the budget of ${swarm.limits.budget_usd:g} was spent (${swarm.spent:.6f})"
        if not answer:
            return "failed", NO_RESULTS
        return "completed", None

    async def _watch(self, swarm_id: str, work: asyncio.Task[Any] | None) -> None:
        """Cancel ``work`` when another process marks the swarm cancelled in the store."""
        while True:
            await asyncio.sleep(self.settings.result_poll)
            try:
                status = await self.store.swarm_status(swarm_id)
            except Exception as exc:  # the store may blink; the next poll tries again
                logger.debug("swarm %s: status poll failed: %r", swarm_id, exc)
                continue
            if status == "cancelled" and work is not None:
                work.cancel()
                return

    async def _status_or_none(self, swarm_id: str) -> str | None:
        try:
            return await asyncio.shield(self.store.swarm_status(swarm_id))
        except Exception:
            return None

    async def _record(self, swarm_id: str) -> dict[str, Any]:
        record = await self.store.get_swarm(swarm_id)
        if record is None:
            raise SwarmNotFoundError(f"no swarm {swarm_id!r}")
        return record

    # -- events and the ledger ---------------------------------------------------------------

    async def _emit_started(self, record: Mapping[str, Any], plan: Plan, *, resumed: bool) -> None:
        if self.bus is None:
            return
        await self.bus.emit(
            "swarm_started",
            {
                "swarm_id": record["swarm_id"],
                "task": _preview(record["task"]),
                "pattern": plan.pattern,
                "configuration": record["configuration"],
                "plan_source": plan.source,
                "agents": [
                    {"name": a.name, "role": a.role, "agent_id": a.agent_id, "task": _preview(a.task)}
                    for a in plan.agents
                ],
                "executor": self.executor.name,
                "coordinator": self.name,
                "limits": dict(record["limits"]),
                "resumed": resumed,
            },
            session_id=record["swarm_id"],
            agent_id=record["launched_by"],
        )

    async def _emit_finished(self, record: Mapping[str, Any], swarm: SwarmRun, seconds: float) -> None:
        runs = list(swarm.runs.values())
        done = sum(1 for r in runs if r.status == "done")
        failed = sum(1 for r in runs if r.status == "failed")
        data = {
            "swarm_id": record["swarm_id"],
            "status": record["status"],
            "pattern": record["pattern"],
            "agent_count": len(runs),
            "agents_done": done,
            "agents_failed": failed,
            "cost_usd": record["cost_usd"],
            "duration_ms": round(seconds * 1000),
            "error": record["error"],
            "result": _preview(record["result"], 500) if record["result"] else None,
        }
        if self.bus is not None:
            await self.bus.emit(
                "swarm_finished", data, session_id=record["swarm_id"], agent_id=record["launched_by"]
            )
        await self._ledger(record, runs, done, failed)

    async def _ledger(self, record: Mapping[str, Any], runs: list[AgentRun], done: int, failed: int) -> None:
        """The swarm's outcome as a telemetry record in the audit ledger (never raises)."""
        client = getattr(self.governance, "client", None)
        if client is None or getattr(self.governance, "mode", "off") == "off":
            return
        tokens = sum(int(r.usage.get("total_tokens", 0)) for r in runs)
        durations = [r.duration_s for r in runs if r.duration_s]
        try:
            await client.submit_telemetry(
                agent_id=record["launched_by"],
                status=f"swarm_{record['status']}",
                tasks_completed=done,
                tasks_failed=failed,
                avg_task_duration=sum(durations) / len(durations) if durations else 0.0,
                tokens_used=tokens,
                cost_estimate=float(record["cost_usd"] or 0.0),
                custom_metrics={
                    "event": "swarm_finished",
                    "swarm_id": record["swarm_id"],
                    "pattern": record["pattern"],
                    "agents": ",".join(sorted({r.agent_id for r in runs}))[:4000],
                },
            )
        except Exception as exc:
            logger.warning("swarm %s: outcome not recorded in the ledger: %r", record["swarm_id"], exc)
