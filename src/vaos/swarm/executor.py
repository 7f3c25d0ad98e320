"""Where agent tasks run: in this process (``LocalExecutor``) or on workers (``vaos.swarm.queue``).

Both end in ``execute_agent_task``: the task goes through the governed agent loop as its
own agent id (``runtime.agent(agent_id).run(prompt, session_id=…, tier=…, channel="swarm")``),
and its result is stored once per task id. The runtime is anything shaped like
``vaos.agent.AgentRuntime``; ``load_runtime_factory`` finds it from ``VAOS_SWARM__RUNTIME``.
"""

from __future__ import annotations

import asyncio
import importlib
import logging
import os
import socket
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

from vaos.store.swarms import FINISHED_SWARM
from vaos.swarm.errors import SwarmUnavailableError
from vaos.swarm.tasks import AgentRun, AgentTask

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.events import EventBus
    from vaos.providers.base import Provider
    from vaos.store.swarms import SwarmStore

logger = logging.getLogger(__name__)

ModelFor = Callable[[AgentTask], "Provider | None"]
"""Picks a model for a task instead of the routed chain (tests: a scripted model per role)."""

RuntimeFactory = Callable[["Settings", "EventBus"], AbstractAsyncContextManager[Any]]


class Executor(Protocol):
    """Runs one agent task to its stored result (a redelivered or repeated task: the first)."""

    name: str

    async def run(self, task: AgentTask, *, fresh: bool = True) -> AgentRun:
        """``fresh``: the task was just created (no worker can have seen it yet)."""
        ...

    async def aclose(self) -> None: ...


def worker_name() -> str:
    """This process, as it appears in results: ``host:pid``."""
    return f"{socket.gethostname()}:{os.getpid()}"


def load_runtime_factory(spec: str) -> RuntimeFactory:
    """The ``module:callable`` that opens an agent runtime as ``factory(settings, bus=bus)``."""
    module_name, _, attr = spec.partition(":")
    if not module_name or not attr:
        raise SwarmUnavailableError(f"VAOS_SWARM__RUNTIME must be module:callable, not {spec!r}")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise SwarmUnavailableError(f"the agent runtime {spec!r} cannot be imported: {exc}") from None
    factory = getattr(module, attr, None)
    if factory is None:
        raise SwarmUnavailableError(f"the agent runtime {spec!r} is not available in this build")

    def open_runtime(settings: Settings, bus: EventBus) -> AbstractAsyncContextManager[Any]:
        manager: AbstractAsyncContextManager[Any] = factory(settings, bus=bus)
        return manager

    return open_runtime


def _usage(value: Any) -> dict[str, int]:
    if isinstance(value, dict):
        return {str(k): int(v) for k, v in value.items() if isinstance(v, (int, float))}
    to_dict = getattr(value, "to_dict", None)
    return _usage(to_dict()) if callable(to_dict) else {}


async def run_agent(
    runtime: Any, task: AgentTask, *, model_override: Provider | None = None
) -> tuple[str, dict[str, Any], float]:
    """``(output, facts, cost)`` of one governed agent run; raises what the loop raises."""
    agent = (
        runtime.agent(task.agent_id, model_override=model_override)
        if model_override is not None
        else runtime.agent(task.agent_id)
    )
    result = await agent.run(task.prompt, session_id=task.session_id, tier=task.tier, channel="swarm")
    calls = getattr(result, "tool_calls", None) or []
    facts = {
        "usage": _usage(getattr(result, "usage", None)),
        "provider": getattr(result, "provider", None),
        "model": getattr(result, "model", None),
        "iterations": int(getattr(result, "iterations", 0) or 0),
        "tool_calls": len(calls) if isinstance(calls, (list, tuple)) else 0,
    }
    cost = float(getattr(result, "cost_usd", 0.0) or 0.0)
    return str(getattr(result, "output", "") or ""), facts, cost


async def execute_agent_task(
    runtime: Any,
    store: SwarmStore,
    task: AgentTask,
    *,
    worker: str,
    model_override: Provider | None = None,
) -> tuple[AgentRun, bool]:
    """Run the task unless it already has a result, and store the result once.

    ``(the stored run, whether this call stored it)``. A task of a swarm that has finished
    (cancelled, timed out…) is not run: it is recorded as ``cancelled``. ``CancelledError``
    propagates without storing anything (the task is then redelivered or abandoned).
    """
    stored, _, swarm_status = await store.begin_task(task.id, worker)
    if stored is not None:
        return AgentRun.from_stored(task, stored), False
    run = AgentRun(
        step=task.step,
        member=task.member,
        role=task.role,
        agent_id=task.agent_id,
        task=task.task,
        status="failed",
        worker=worker,
        session_id=task.session_id,
    )
    started = time.perf_counter()
    if swarm_status is None or swarm_status in FINISHED_SWARM:
        run.status, run.error = "cancelled", f"the swarm is {swarm_status or 'gone'}"
    else:
        try:
            async with asyncio.timeout(task.timeout):
                output, facts, cost = await run_agent(runtime, task, model_override=model_override)
        except TimeoutError:
            run.error = f"timed out after {task.timeout:g} s"
        except Exception as exc:
            run.error = f"{type(exc).__name__}: {exc}"[:2000]
        else:
            run.result, run.cost_usd = output, cost
            run.usage, run.provider, run.model = facts["usage"], facts["provider"], facts["model"]
            run.iterations, run.tool_calls = facts["iterations"], facts["tool_calls"]
            run.status = "done" if output.strip() else "failed"
            if not output.strip():
                run.error = "the agent produced no output"
    run.duration_s = time.perf_counter() - started
    saved, inserted = await store.record_result(
        task.id,
        status=run.status,
        output=run.result,
        error=run.error,
        cost_usd=run.cost_usd,
        worker=worker,
        detail=run.detail(),
        post_as=task.member if run.status == "done" else None,
    )
    return AgentRun.from_stored(task, saved), inserted


class LocalExecutor:
    """Agent tasks in this process, on the given runtime."""

    name = "local"

    def __init__(self, runtime: Any, store: SwarmStore, *, model_for: ModelFor | None = None) -> None:
        self.runtime = runtime
        self.store = store
        self.model_for = model_for
        self.worker = worker_name()

    async def run(self, task: AgentTask, *, fresh: bool = True) -> AgentRun:
        override = self.model_for(task) if self.model_for is not None else None
        run, _ = await execute_agent_task(
            self.runtime, self.store, task, worker=self.worker, model_override=override
        )
        return run

    async def aclose(self) -> None:
        return None
