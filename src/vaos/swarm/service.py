"""``SwarmService``: launch, watch, cancel and list swarms — what the CLI and the HTTP API call.

    async with open_runtime(settings, bus=bus) as runtime:
        service = SwarmService(runtime, settings=settings)
        swarm_id = await service.launch("Compare three queue designs", "debate")
        status = await service.wait(swarm_id)          # or poll service.status(swarm_id)
        await service.aclose()

``launch`` is authorised as the ``swarm_launch`` action of the launching agent (``vaos``) and
returns at once; the swarm runs in the background of this process (its agents in-process or
on ``vaos worker`` processes, see ``VAOS_SWARM__EXECUTOR``), or, with ``coordinate="queue"``,
is handed whole to a worker. Its state lives in the store, so any process that shares the
database answers ``status``, ``results`` and ``cancel``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from typing import TYPE_CHECKING, Any, Final, Literal

from vaos.store.models import utcnow
from vaos.store.swarms import FINISHED_SWARM, SwarmStore
from vaos.swarm.coordinator import ACTIVE, Coordinator
from vaos.swarm.errors import (
    SwarmBusyError,
    SwarmInputError,
    SwarmNotFoundError,
    SwarmRefusedError,
    SwarmStateError,
    SwarmUnavailableError,
)
from vaos.swarm.executor import LocalExecutor, ModelFor, worker_name
from vaos.swarm.limits import Limits
from vaos.swarm.plan import Plan, check_pattern, plan_from_configuration, plan_from_entries
from vaos.swarm.roster import PATTERNS, Roster, load_roster
from vaos.swarm.tasks import AgentRun

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from vaos.config import Settings
    from vaos.events import EventBus
    from vaos.store.database import Database
    from vaos.swarm.execution import Progress
    from vaos.swarm.executor import Executor
    from vaos.swarm.queue import QueueExecutor, WorkQueue

logger = logging.getLogger(__name__)

MAX_TASK_CHARS: Final = 100_000
SPECIAL_STEPS: Final = ("planner", "synth")
BROKER_RETRY_SECONDS: Final = 30.0
ExecutorMode = Literal["auto", "local", "queue"]


def new_swarm_id() -> str:
    return f"swarm_{secrets.token_hex(8)}"


class SwarmService:
    """Swarms for one process. ``runtime`` is the agent runtime (``vaos.agent.open_runtime``);
    ``store`` defaults to the runtime's database; ``model_for`` picks a model per agent task
    for in-process runs (tests)."""

    def __init__(
        self,
        runtime: Any,
        *,
        settings: Settings | None = None,
        store: SwarmStore | None = None,
        roster: Roster | None = None,
        bus: EventBus | None = None,
        executor: ExecutorMode | None = None,
        coordinate: Literal["local", "queue"] = "local",
        model_for: ModelFor | None = None,
        launched_by: str = "vaos",
    ) -> None:
        from vaos.config import get_settings

        self.runtime = runtime
        self.settings = settings or getattr(runtime, "settings", None) or get_settings()
        db: Database | None = getattr(runtime, "db", None)
        if store is None and db is None:
            raise SwarmUnavailableError("no store: pass store= or a runtime with a database")
        self.store = store or SwarmStore(db)  # type: ignore[arg-type]
        self.roster = roster or load_roster()
        self.bus = bus if bus is not None else getattr(runtime, "bus", None)
        self.executor_mode: ExecutorMode = executor or self.settings.swarm.executor
        self.coordinate = coordinate
        self.model_for = model_for
        self.launched_by = launched_by
        self._active: dict[str, asyncio.Task[dict[str, Any]]] = {}
        self._local: LocalExecutor | None = None
        self._queue_executor: QueueExecutor | None = None
        self._work: WorkQueue | None = None
        self._broker_down_until = 0.0
        self._closed = False

    # -- the public API ----------------------------------------------------------------------

    def patterns(self) -> list[dict[str, Any]]:
        """What ``pattern`` accepts: the five patterns, then the named configurations."""
        out: list[dict[str, Any]] = [
            {"name": name, "pattern": name, "description": _PATTERN_DESCRIPTIONS[name], "agents": []}
            for name in PATTERNS
        ]
        for config in sorted(self.roster.configurations.values(), key=lambda c: c.name):
            out.append(
                {
                    "name": config.name,
                    "pattern": config.pattern,
                    "description": config.description,
                    "agents": list(config.agents),
                }
            )
        return out

    async def launch(
        self,
        task: str,
        pattern: str = "parallel",
        *,
        agents: Sequence[Mapping[str, Any]] | None = None,
        max_agents: int | None = None,
        rounds: int | None = None,
        timeout: float | None = None,  # noqa: ASYNC109 (the swarm's time limit, not a wait)
        budget_usd: float | None = None,
        on_progress: Progress | None = None,
    ) -> str:
        """Start a swarm and return its id at once.

        ``pattern``: parallel, pipeline, debate, review, pact, or a named configuration.
        ``agents``: ``[{"role"?, "agent"?, "task"?}]`` instead of planning. Limits not given come
        from ``VAOS_SWARM__*``. Raises ``SwarmInputError`` (bad input), ``SwarmBusyError``,
        ``SwarmRefusedError`` (governance), ``SwarmUnavailableError``.
        """
        if self._closed:
            raise SwarmUnavailableError("the swarm service is closed")
        if not isinstance(task, str) or not task.strip():
            raise SwarmInputError("the task must not be empty")
        if len(task) > MAX_TASK_CHARS:
            raise SwarmInputError(f"the task is longer than {MAX_TASK_CHARS} characters")
        task = task.strip()
        kind, config = check_pattern(self.roster, pattern)
        limits = Limits.from_settings(
            self.settings.swarm, max_agents=max_agents, timeout=timeout, budget_usd=budget_usd
        )
        if rounds is not None and not 1 <= rounds <= limits.max_rounds:
            raise SwarmInputError(f"rounds must be between 1 and {limits.max_rounds} (max_rounds)")
        plan: Plan | None = None
        if agents is not None:
            plan = plan_from_entries(self.roster, kind, task, list(agents), max_agents=limits.max_agents)
        elif config is not None:
            plan = plan_from_configuration(self.roster, config, task, max_agents=limits.max_agents)
        self._prune()
        if self.coordinate == "local" and len(self._active) >= self.settings.swarm.max_active:
            raise SwarmBusyError(
                f"{len(self._active)} swarms are running; the limit is {self.settings.swarm.max_active}"
            )
        swarm_id = new_swarm_id()
        await self._authorize_and_store(
            swarm_id, task, kind, config.name if config else None, limits, plan, rounds
        )
        if self.coordinate == "queue":
            work = await self._work_queue()
            await work.publish_swarm(swarm_id)
            return swarm_id
        executor = await self.executor()
        coordinator = Coordinator(
            store=self.store,
            executor=executor,
            settings=self.settings.swarm,
            roster=self.roster,
            bus=self.bus,
            governance=getattr(self.runtime, "governance", None),
            on_progress=on_progress,
            name=worker_name(),
        )
        self._active[swarm_id] = asyncio.create_task(coordinator.run(swarm_id), name=f"vaos-swarm-{swarm_id}")
        return swarm_id

    async def run(self, task: str, pattern: str = "parallel", **options: Any) -> dict[str, Any]:
        """``launch`` and ``wait``: the finished swarm's status."""
        swarm_id = await self.launch(task, pattern, **options)
        return await self.wait(swarm_id)

    async def wait(self, swarm_id: str, *, within: float | None = None) -> dict[str, Any]:
        """Wait until the swarm has finished (any status), or ``within`` seconds have passed, and
        return its status."""
        task = self._active.get(swarm_id)
        if task is not None:
            await asyncio.wait([task], timeout=within)
        else:
            deadline = None if within is None else time.monotonic() + within
            while True:
                status = await self.store.swarm_status(swarm_id)
                if status is None:
                    raise SwarmNotFoundError(f"no swarm {swarm_id!r}")
                if status in FINISHED_SWARM or (deadline is not None and time.monotonic() >= deadline):
                    break
                await asyncio.sleep(min(0.5, self.settings.swarm.result_poll))
        found = await self.status(swarm_id)
        if found is None:
            raise SwarmNotFoundError(f"no swarm {swarm_id!r}")
        return found

    async def status(self, swarm_id: str) -> dict[str, Any] | None:
        """The swarm, its agents (role, task, result, status…), answer and error; None if unknown."""
        record = await self.store.get_swarm(swarm_id)
        if record is None:
            return None
        tasks = await self.store.tasks(swarm_id)
        stored = {r["task_id"]: r for r in await self.store.results(swarm_id)}
        agents: list[dict[str, Any]] = []
        special: dict[str, dict[str, Any] | None] = {"planner": None, "synth": None}
        for task in tasks:
            result = stored.get(task["id"])
            if result is not None:
                entry = AgentRun.from_stored(task, result).to_dict()
            else:
                entry = {
                    "role": task["role"],
                    "agent_id": task["agent_id"],
                    "task": task["task"],
                    "result": None,
                    "status": task["status"],
                    "step": task["step"],
                    "worker": task["worker"],
                }
            entry["attempts"] = task["attempts"]
            if task["step"] in SPECIAL_STEPS:
                special[task["step"]] = entry
            else:
                agents.append(entry)
        plan = record["plan"] or {}
        return {
            "swarm_id": swarm_id,
            "status": record["status"],
            "task": record["task"],
            "pattern": record["pattern"],
            "configuration": record["configuration"],
            "launched_by": record["launched_by"],
            "coordinator": record["coordinator"],
            "agent_count": len(agents),
            "agents": agents,
            "planned": [
                {"name": a["name"], "role": a["role"], "agent_id": a["agent_id"], "task": a["task"]}
                for a in plan.get("agents", [])
            ],
            "plan_source": plan.get("source"),
            "planner": special["planner"],
            "synthesis": special["synth"],
            "result": record["result"],
            "error": record["error"],
            "cost_usd": record["cost_usd"],
            "limits": record["limits"],
            "created_at": record["created_at"],
            "started_at": record["started_at"],
            "finished_at": record["finished_at"],
            "details": record["meta"],
        }

    async def results(self, swarm_id: str) -> list[dict[str, Any]] | None:
        """Each agent's role, task, result and status (finished ones), in order; None if unknown."""
        found = await self.status(swarm_id)
        if found is None:
            return None
        return [a for a in found["agents"] if a["status"] in ("done", "failed", "cancelled", "skipped")]

    async def cancel(self, swarm_id: str) -> dict[str, Any]:
        """Stop a queued or running swarm (its results so far are kept).

        Raises ``SwarmNotFoundError``, or ``SwarmStateError`` when it has already finished."""
        record = await self.store.get_swarm(swarm_id)
        if record is None:
            raise SwarmNotFoundError(f"no swarm {swarm_id!r}")
        changed = await self.store.update_swarm(
            swarm_id, only_from=ACTIVE, status="cancelled", error="cancelled", finished_at=utcnow()
        )
        if not changed:
            current = await self.store.swarm_status(swarm_id)
            raise SwarmStateError(f"swarm {swarm_id} is not running (status: {current})")
        task = self._active.get(swarm_id)
        if task is not None and not task.done():
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        return {"swarm_id": swarm_id, "status": "cancelled"}

    async def list_swarms(self, *, limit: int = 50, status: str | None = None) -> list[dict[str, Any]]:
        """The latest swarms (newest first), without their agents."""
        rows = await self.store.list_swarms(limit=limit, status=status)
        return [
            {
                k: r[k]
                for k in (
                    "swarm_id",
                    "status",
                    "task",
                    "pattern",
                    "configuration",
                    "cost_usd",
                    "created_at",
                    "finished_at",
                )
            }
            for r in rows
        ]

    def active(self) -> list[str]:
        """Swarms this process is coordinating now."""
        self._prune()
        return list(self._active)

    async def aclose(self) -> None:
        """Stop the swarms this process coordinates (recorded as failed: interrupted)."""
        self._closed = True
        for swarm_id, task in list(self._active.items()):
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
                with contextlib.suppress(Exception):
                    await self.store.update_swarm(
                        swarm_id,
                        only_from=ACTIVE,
                        status="failed",
                        error="interrupted: the coordinating process stopped",
                        finished_at=utcnow(),
                    )
        self._active.clear()
        await self.store.drain()
        if self._queue_executor is not None:
            await self._queue_executor.aclose()
        if self._work is not None:
            await self._work.aclose()
            self._work = None

    async def __aenter__(self) -> SwarmService:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- internals ---------------------------------------------------------------------------

    async def executor(self) -> Executor:
        """Where this process sends agent tasks now: the work queue when the mode is ``queue``,
        or ``auto`` and a worker listens; in-process otherwise."""
        if self.executor_mode != "local" and (
            self.executor_mode == "queue" or time.monotonic() >= self._broker_down_until
        ):
            try:
                work = await self._work_queue()
                if self.executor_mode == "queue" or await work.consumers() > 0:
                    if self._queue_executor is None:
                        from vaos.swarm.queue import QueueExecutor

                        self._queue_executor = QueueExecutor(
                            work, self.store, poll=self.settings.swarm.result_poll
                        )
                    return self._queue_executor
            except SwarmUnavailableError:
                if self.executor_mode == "queue":
                    raise
                self._broker_down_until = time.monotonic() + BROKER_RETRY_SECONDS
                logger.info("no broker: swarm agents run in this process")
        if self._local is None:
            self._local = LocalExecutor(self.runtime, self.store, model_for=self.model_for)
        return self._local

    async def _work_queue(self) -> WorkQueue:
        if self._work is None:
            from vaos.swarm.queue import WorkQueue

            self._work = await WorkQueue.open(self.settings, name="vaos-swarm")
        return self._work

    def _prune(self) -> None:
        for swarm_id, task in list(self._active.items()):
            if task.done():
                del self._active[swarm_id]
                if not task.cancelled() and task.exception() is not None:
                    logger.error("swarm %s coordinator failed: %r", swarm_id, task.exception())

    async def _authorize_and_store(
        self,
        swarm_id: str,
        task: str,
        pattern: str,
        configuration: str | None,
        limits: Limits,
        plan: Plan | None,
        rounds: int | None,
    ) -> None:
        async def create() -> None:
            await self.store.create_swarm(
                swarm_id,
                task=task,
                pattern=pattern,
                configuration=configuration,
                launched_by=self.launched_by,
                limits=limits.to_dict(),
                plan=plan.to_dict() if plan is not None else None,
                meta={"rounds": rounds} if rounds else {},
            )

        governance = getattr(self.runtime, "governance", None)
        if governance is None:
            await create()
            return
        from vaos.governance.errors import ActionRefused

        try:
            async with governance.authorize(
                "swarm_launch",
                intent=task,
                args={"pattern": pattern, "configuration": configuration, "limits": limits.to_dict()},
                agent_id=self.launched_by,
                session_id=swarm_id,
                metadata={"swarm_id": swarm_id},
            ) as auth:
                auth.note("swarm_id", swarm_id)
                auth.note("pattern", configuration or pattern)
                await create()
        except ActionRefused as exc:
            raise SwarmRefusedError(f"swarm launch refused by governance: {exc}") from None


_PATTERN_DESCRIPTIONS: Final[dict[str, str]] = {
    "parallel": "Independent agents on different aspects at once; their outputs are merged.",
    "pipeline": "Agents in order, each building on the previous output.",
    "debate": "Proposers (optionally over several rounds), then a judge gives the answer.",
    "review": "A worker and a reviewer iterate until the reviewer approves (or rounds run out).",
    "pact": "Plan, Act, Coordinate, Test, with a quality gate (0.7) after each phase.",
}
