"""The limits of one swarm: agents, rounds, time and budget."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import TYPE_CHECKING, Any

from vaos.swarm.errors import SwarmInputError

if TYPE_CHECKING:
    from vaos.config import SwarmSettings

HARD_MAX_AGENTS = 50


@dataclass(frozen=True)
class Limits:
    """``max_agents`` members in a plan; ``max_rounds`` debate rounds or review iterations;
    ``timeout`` seconds for the whole swarm and ``agent_timeout`` for one agent task;
    ``budget_usd`` of model spend (None: no limit) — checked before each agent starts, so the
    last agent may overshoot it by its own cost; ``max_parallel`` agents at a time."""

    max_agents: int = 8
    max_rounds: int = 3
    timeout: float = 600.0
    agent_timeout: float = 300.0
    budget_usd: float | None = None
    max_parallel: int = 4

    @classmethod
    def from_settings(cls, settings: SwarmSettings, **overrides: Any) -> Limits:
        base = cls(
            max_agents=settings.max_agents,
            max_rounds=settings.max_rounds,
            timeout=settings.timeout,
            agent_timeout=settings.agent_timeout,
            budget_usd=settings.budget_usd,
            max_parallel=settings.max_parallel,
        )
        return base.with_overrides(**overrides)

    def with_overrides(self, **overrides: Any) -> Limits:
        """A copy with the given limits (``None`` values leave a limit as it is), checked."""
        changes = {k: v for k, v in overrides.items() if v is not None}
        unknown = set(changes) - set(asdict(self))
        if unknown:
            raise SwarmInputError(f"unknown limits: {', '.join(sorted(unknown))}")
        limits = replace(self, **changes)
        limits.check()
        return limits

    def check(self) -> None:
        if not 1 <= self.max_agents <= HARD_MAX_AGENTS:
            raise SwarmInputError(f"max_agents must be between 1 and {HARD_MAX_AGENTS}")
        if not 1 <= self.max_rounds <= 20:
            raise SwarmInputError("max_rounds must be between 1 and 20")
        for name in ("timeout", "agent_timeout"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
                raise SwarmInputError(f"{name} must be a positive number of seconds")
        if self.budget_usd is not None and not (math.isfinite(self.budget_usd) and self.budget_usd >= 0):
            raise SwarmInputError("budget_usd must be zero or more")
        if not 1 <= self.max_parallel <= 64:
            raise SwarmInputError("max_parallel must be between 1 and 64")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Limits:
        known = {k: v for k, v in data.items() if k in cls.__dataclass_fields__}
        return cls(**known)
