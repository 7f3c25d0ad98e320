"""What the router decided, and why."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from vaos.providers.types import Request
from vaos.tiers import Tier


@dataclass(frozen=True, slots=True)
class Route:
    """One provider and the model to ask it for."""

    provider: str
    model: str

    def to_dict(self) -> dict[str, str]:
        return {"provider": self.provider, "model": self.model}


@dataclass(frozen=True, slots=True)
class RoutingDecision:
    """The tier and the chain of (provider, model) to try in order.

    ``refused`` is set when the budget policy forbids the call; ``skipped`` names providers
    of the configured chain that cannot be used, with the reason; ``unavailable`` the ones
    whose circuit is open right now (they stay in the chain: the breaker decides at call time).
    """

    tier: Tier
    chain: tuple[Route, ...]
    weight: float
    complexity: int
    max_tokens: int
    temperature: float
    reasons: tuple[str, ...] = ()
    skipped: tuple[tuple[str, str], ...] = ()
    unavailable: tuple[str, ...] = ()
    refused: str | None = None
    pinned: bool = False

    @property
    def provider(self) -> str:
        return self.chain[0].provider if self.chain else ""

    @property
    def model(self) -> str:
        return self.chain[0].model if self.chain else ""

    def apply(self, request: Request) -> Request:
        """``request`` with this tier's max tokens and temperature where it set none."""
        if request.max_tokens is not None and request.temperature is not None:
            return request
        return request.replace(
            max_tokens=request.max_tokens if request.max_tokens is not None else self.max_tokens,
            temperature=request.temperature if request.temperature is not None else self.temperature,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "tier": self.tier,
            "provider": self.provider,
            "model": self.model,
            "chain": [r.to_dict() for r in self.chain],
            "weight": self.weight,
            "complexity": self.complexity,
            "max_tokens": self.max_tokens,
            "temperature": self.temperature,
            "why": list(self.reasons),
            "skipped": [{"provider": p, "reason": r} for p, r in self.skipped],
            "unavailable": list(self.unavailable),
            "refused": self.refused,
        }
