"""Swarms: several governed agents on one task, on one machine or many.

Patterns ``parallel``, ``pipeline``, ``debate``, ``review`` and ``pact``; a planner (LLM with
a deterministic fallback); the roster of named agents and configurations
(``src/vaos/data/swarm_roster.toml``); a mailbox; limits on agents, rounds, time and budget;
and RabbitMQ work queues so ``vaos worker`` processes anywhere run a swarm's agents.

Public names are imported lazily (``import vaos.swarm`` loads nothing heavy):

- ``SwarmService`` (``service``): launch, wait, status, results, cancel, list — the HTTP API's seam.
- ``Coordinator`` (``coordinator``), ``Worker`` (``worker``), ``WorkQueue`` / ``QueueExecutor``
  (``queue``), ``LocalExecutor`` / ``execute_agent_task`` (``executor``).
- ``Roster`` / ``load_roster`` (``roster``), ``Plan`` / ``PlannedAgent`` (``plan``), ``Limits``,
  ``Mailbox``, ``AgentTask`` / ``AgentRun`` (``tasks``), ``PACT_THRESHOLD`` (``pact``).
- the errors (``errors``); ``EchoRuntime`` / ``open_echo_runtime`` (``testing``): a fake runtime.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "SwarmService": "service",
    "Coordinator": "coordinator",
    "Worker": "worker",
    "WorkQueue": "queue",
    "QueueExecutor": "queue",
    "LocalExecutor": "executor",
    "execute_agent_task": "executor",
    "Roster": "roster",
    "load_roster": "roster",
    "PATTERNS": "roster",
    "Plan": "plan",
    "PlannedAgent": "plan",
    "Limits": "limits",
    "Mailbox": "mailbox",
    "AgentTask": "tasks",
    "AgentRun": "tasks",
    "PACT_THRESHOLD": "pact",
    "SwarmError": "errors",
    "SwarmInputError": "errors",
    "SwarmNotFoundError": "errors",
    "SwarmStateError": "errors",
    "SwarmBusyError": "errors",
    "SwarmRefusedError": "errors",
    "SwarmUnavailableError": "errors",
    "EchoRuntime": "testing",
    "open_echo_runtime": "testing",
}

__all__ = [
    "PACT_THRESHOLD",
    "PATTERNS",
    "AgentRun",
    "AgentTask",
    "Coordinator",
    "EchoRuntime",
    "Limits",
    "LocalExecutor",
    "Mailbox",
    "Plan",
    "PlannedAgent",
    "QueueExecutor",
    "Roster",
    "SwarmBusyError",
    "SwarmError",
    "SwarmInputError",
    "SwarmNotFoundError",
    "SwarmRefusedError",
    "SwarmService",
    "SwarmStateError",
    "SwarmUnavailableError",
    "WorkQueue",
    "Worker",
    "execute_agent_task",
    "load_roster",
    "open_echo_runtime",
]

if TYPE_CHECKING:
    from vaos.swarm.coordinator import Coordinator
    from vaos.swarm.errors import (
        SwarmBusyError,
        SwarmError,
        SwarmInputError,
        SwarmNotFoundError,
        SwarmRefusedError,
        SwarmStateError,
        SwarmUnavailableError,
    )
    from vaos.swarm.executor import LocalExecutor, execute_agent_task
    from vaos.swarm.limits import Limits
    from vaos.swarm.mailbox import Mailbox
    from vaos.swarm.pact import PACT_THRESHOLD
    from vaos.swarm.plan import Plan, PlannedAgent
    from vaos.swarm.queue import QueueExecutor, WorkQueue
    from vaos.swarm.roster import PATTERNS, Roster, load_roster
    from vaos.swarm.service import SwarmService
    from vaos.swarm.tasks import AgentRun, AgentTask
    from vaos.swarm.testing import EchoRuntime, open_echo_runtime
    from vaos.swarm.worker import Worker


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"vaos.swarm.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
