"""The routing decision: signal weight + task complexity -> tier -> chain of providers.

``Router.decide`` is pure and fast (no I/O, no model call): everything that depends only
on configuration is computed once in the constructor.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from vaos.providers.catalog import AUTO_MODEL
from vaos.providers.registry import ProviderRegistry, UnknownProviderError
from vaos.routing.budget import BudgetTracker
from vaos.routing.complexity import complexity_score
from vaos.routing.decision import Route, RoutingDecision
from vaos.routing.tiers import PROFILES, choose_tier
from vaos.signal.models import Signal
from vaos.tiers import TIERS, Tier

if TYPE_CHECKING:
    from vaos.config import Settings

LOCAL = "local"


class RoutingInputError(ValueError):
    """An override names something that does not exist or cannot be used (exit 2)."""


class UnknownModelError(RoutingInputError):
    def __init__(self, model: str, known: Sequence[str], provider: str | None = None) -> None:
        where = f" for provider {provider}" if provider else ""
        super().__init__(f"unknown model {model!r}{where}; known models: {', '.join(known)}")
        self.model = model
        self.known = tuple(known)


class NotConfiguredError(RoutingInputError):
    pass


class UnknownTierError(RoutingInputError):
    pass


class Router:
    def __init__(
        self,
        registry: ProviderRegistry,
        *,
        default_provider: str | None = None,
        chain: Sequence[str] = (),
        local_fallback: bool = True,
        budget: BudgetTracker | None = None,
    ) -> None:
        self.registry = registry
        self.budget = budget
        for name in (default_provider, *chain):
            if name is not None and name not in registry.statuses:
                raise UnknownProviderError(name, registry.names)
        skipped: dict[str, str] = {}
        order: list[str] = []
        wanted = [default_provider] if default_provider else []
        wanted += list(chain) if chain else self._auto_chain()
        for name in wanted:
            if name is None or name in order or name in skipped:
                continue
            status = registry.statuses[name]
            if status.configured:
                order.append(name)
            else:
                skipped[name] = status.missing or "not configured"
        self.default_reason = (
            f"default provider {default_provider}"
            if default_provider and default_provider in order
            else (f"first configured provider {order[0]}" if order else "")
        )
        local_ok = LOCAL in registry.statuses and registry.statuses[LOCAL].configured
        if (local_fallback or not order) and LOCAL not in order and local_ok:
            if not order:
                self.default_reason = "no other provider is configured: the embedded model"
            order.append(LOCAL)
        elif not local_ok and LOCAL in registry.statuses and LOCAL not in skipped:
            skipped[LOCAL] = registry.statuses[LOCAL].missing or "not available"
        self.order: tuple[str, ...] = tuple(order)
        self.skipped: tuple[tuple[str, str], ...] = tuple(skipped.items())
        self._chains: dict[Tier, tuple[Route, ...]] = {
            tier: tuple(Route(name, registry.model_for(name, tier)) for name in self.order) for tier in TIERS
        }

    @classmethod
    def from_settings(
        cls, settings: Settings, registry: ProviderRegistry | None = None, budget: BudgetTracker | None = None
    ) -> Router:
        registry = registry or ProviderRegistry(settings)
        routing = settings.routing
        return cls(
            registry,
            default_provider=routing.default_provider,
            chain=routing.chain,
            local_fallback=getattr(routing, "local_fallback", True),
            budget=budget,
        )

    def _auto_chain(self) -> list[str]:
        """Providers that have a key, in table order (keyless ones only when named)."""
        return [
            name
            for name, status in self.registry.statuses.items()
            if status.spec.auto_chain and status.spec.key_required and status.api_key
        ]

    def chain_for(self, tier: Tier) -> tuple[Route, ...]:
        return self._chains[tier]

    # -- the decision ---------------------------------------------------------------------

    def decide(
        self,
        signal: Signal | None = None,
        text: str = "",
        *,
        weight: float | None = None,
        tier: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        session_id: str | None = None,
    ) -> RoutingDecision:
        """Tier and chain for one message; raises ``RoutingInputError`` for bad overrides."""
        if weight is None:
            weight = signal.weight if signal is not None else 0.5
        complexity = complexity_score(text) if text else 1
        reasons: list[str] = []
        if tier is not None:
            if tier not in PROFILES:
                raise UnknownTierError(f"unknown tier {tier!r}; known tiers: {', '.join(TIERS)}")
            chosen: Tier = tier
            reasons.append(f"tier {tier} requested")
        else:
            chosen, why = choose_tier(weight, complexity)
            reasons.append(why)
        refused: str | None = None
        if self.budget is not None:
            over = self.budget.over(session_id)
            if over is not None:
                if self.budget.policy == "refuse":
                    refused = over
                    reasons.append(f"{over}: refused")
                elif chosen != "utility":
                    reasons.append(f"{over}: {chosen} downgraded to utility")
                    chosen = "utility"
                else:
                    reasons.append(f"{over}: already at utility")
        pinned = provider is not None or model is not None
        chain: tuple[Route, ...]
        if pinned:
            chain = (self._pinned(chosen, provider, model, reasons),)
        else:
            chain = self._chains[chosen]
            if self.default_reason:
                reasons.append(self.default_reason)
        unavailable = tuple(r.provider for r in chain if not self.registry.breakers[r.provider].available())
        profile = PROFILES[chosen]
        return RoutingDecision(
            tier=chosen,
            chain=chain,
            weight=weight,
            complexity=complexity,
            max_tokens=profile.max_tokens,
            temperature=profile.temperature,
            reasons=tuple(reasons),
            skipped=self.skipped,
            unavailable=unavailable,
            refused=refused,
            pinned=pinned,
        )

    def _pinned(self, tier: Tier, provider: str | None, model: str | None, reasons: list[str]) -> Route:
        registry = self.registry
        if provider is not None:
            status = registry.status(provider)  # raises UnknownProviderError
            if not status.configured:
                raise NotConfiguredError(f"provider {provider} is not configured: {status.missing}")
            if model is None:
                reasons.append(f"provider {provider} requested")
                return Route(provider, registry.model_for(provider, tier))
            known = registry.known_models(provider)
            if model not in known and not status.spec.open_models:
                raise UnknownModelError(model, known, provider)
            reasons.append(f"provider {provider}, model {model} requested")
            return Route(provider, model)
        assert model is not None
        serving = [
            name
            for name, s in registry.statuses.items()
            if model in registry.known_models(name) or (model != AUTO_MODEL and model in s.models.values())
        ]
        if not serving:
            everything = sorted({m for name in registry.names for m in registry.known_models(name)})
            raise UnknownModelError(model, everything)
        ready = [name for name in self.order if name in serving] or [
            name for name in serving if registry.statuses[name].configured
        ]
        if not ready:
            hints = "; ".join(f"{name}: {registry.statuses[name].missing}" for name in serving)
            raise NotConfiguredError(f"model {model} needs a provider that is not configured ({hints})")
        reasons.append(f"model {model} requested, served by {ready[0]}")
        return Route(ready[0], model)
