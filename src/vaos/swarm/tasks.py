"""One agent's piece of a swarm: the task sent to an executor, and the run that comes back.

An ``AgentTask`` is plain JSON data, so the same task runs in-process or on a ``vaos worker``
on another machine. Its id is ``<swarm_id>/<step>``: deterministic, so a coordinator that
restarts finds the results it already has, and a redelivered task is stored once.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Final, Literal

AgentStatus = Literal["done", "failed", "cancelled", "skipped"]
AGENT_STATUSES: Final[tuple[str, ...]] = ("done", "failed", "cancelled", "skipped")


def task_id_for(swarm_id: str, step: str) -> str:
    return f"{swarm_id}/{step}"


def session_id_for(swarm_id: str, step: str) -> str:
    """The session an agent task runs in: its records in the ledger and its events carry it."""
    return f"{swarm_id}.{step}"


@dataclass(frozen=True)
class AgentTask:
    """What an executor runs: ``prompt`` through the governed agent loop as ``agent_id``."""

    swarm_id: str
    step: str
    member: str
    role: str
    agent_id: str
    task: str
    prompt: str
    tier: str | None = None
    seq: int = 0
    timeout: float = 300.0

    @property
    def id(self) -> str:
        return task_id_for(self.swarm_id, self.step)

    @property
    def session_id(self) -> str:
        return session_id_for(self.swarm_id, self.step)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["id"] = self.id
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> AgentTask:
        return cls(
            swarm_id=str(data["swarm_id"]),
            step=str(data["step"]),
            member=str(data["member"]),
            role=str(data["role"]),
            agent_id=str(data["agent_id"]),
            task=str(data["task"]),
            prompt=str(data["prompt"]),
            tier=str(data["tier"]) if data.get("tier") else None,
            seq=int(data.get("seq", 0)),
            timeout=float(data.get("timeout", 300.0)),
        )


@dataclass
class AgentRun:
    """One agent's part in the result: role, task, result, status (what every pattern returns),
    and what it took."""

    step: str
    member: str
    role: str
    agent_id: str
    task: str
    status: AgentStatus
    result: str | None = None
    error: str | None = None
    cost_usd: float = 0.0
    usage: dict[str, int] = field(default_factory=dict)
    provider: str | None = None
    model: str | None = None
    iterations: int = 0
    tool_calls: int = 0
    duration_s: float = 0.0
    worker: str | None = None
    session_id: str | None = None

    @property
    def ok(self) -> bool:
        return self.status == "done" and bool(self.result)

    def to_dict(self) -> dict[str, Any]:
        return {
            "role": self.role,
            "agent_id": self.agent_id,
            "task": self.task,
            "result": self.result,
            "status": self.status,
            "step": self.step,
            "member": self.member,
            "error": self.error,
            "cost_usd": self.cost_usd,
            "usage": dict(self.usage),
            "provider": self.provider,
            "model": self.model,
            "iterations": self.iterations,
            "tool_calls": self.tool_calls,
            "duration_s": round(self.duration_s, 4),
            "worker": self.worker,
            "session_id": self.session_id,
        }

    @classmethod
    def from_stored(cls, task: AgentTask | dict[str, Any], stored: dict[str, Any]) -> AgentRun:
        """A run from the store's result row (and the task it answers)."""
        t = task.to_dict() if isinstance(task, AgentTask) else task
        detail = dict(stored.get("detail") or {})
        status = str(stored.get("status") or "failed")
        return cls(
            step=str(t["step"]),
            member=str(detail.get("member") or t.get("member") or t["role"]),
            role=str(t["role"]),
            agent_id=str(t["agent_id"]),
            task=str(t["task"]),
            status=status if status in AGENT_STATUSES else "failed",  # type: ignore[arg-type]
            result=stored.get("output"),
            error=stored.get("error"),
            cost_usd=float(stored.get("cost_usd") or 0.0),
            usage={k: int(v) for k, v in dict(detail.get("usage") or {}).items() if isinstance(v, int)},
            provider=detail.get("provider"),
            model=detail.get("model"),
            iterations=int(detail.get("iterations") or 0),
            tool_calls=int(detail.get("tool_calls") or 0),
            duration_s=float(detail.get("duration_s") or 0.0),
            worker=stored.get("worker"),
            session_id=detail.get("session_id"),
        )

    def to_stored(self) -> dict[str, Any]:
        """The result as the store returns it (what ``from_stored`` reads)."""
        return {
            "status": self.status,
            "output": self.result,
            "error": self.error,
            "cost_usd": self.cost_usd,
            "worker": self.worker,
            "detail": self.detail(),
        }

    def detail(self) -> dict[str, Any]:
        """What the store keeps beside output, error and cost."""
        return {
            "member": self.member,
            "usage": dict(self.usage),
            "provider": self.provider,
            "model": self.model,
            "iterations": self.iterations,
            "tool_calls": self.tool_calls,
            "duration_s": round(self.duration_s, 4),
            "session_id": self.session_id,
        }
