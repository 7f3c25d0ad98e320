"""Registry + router + runner + budget, built from the settings in one call."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vaos.providers.registry import ProviderRegistry
from vaos.routing.budget import BudgetTracker
from vaos.routing.retry import RetryPolicy
from vaos.routing.router import Router
from vaos.routing.runner import CallRunner

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.events import EventBus

CALL_LOG = "calls.jsonl"


@dataclass
class Routing:
    registry: ProviderRegistry
    router: Router
    runner: CallRunner
    budget: BudgetTracker

    async def aclose(self) -> None:
        await self.registry.aclose()


def build_routing(
    settings: Settings,
    *,
    bus: EventBus | None = None,
    registry: ProviderRegistry | None = None,
    record_calls: bool = True,
) -> Routing:
    """Everything a command needs to route and run model calls.

    With ``record_calls`` each call is appended to ``$VAOS_HOME/calls.jsonl`` (the budgets
    read it back); raises ``UnknownProviderError`` for an unknown name in the routing settings.
    """
    r = settings.routing
    registry = registry or ProviderRegistry(settings)
    budget = BudgetTracker(
        session_limit_usd=r.budget_session_usd,
        daily_limit_usd=r.budget_daily_usd,
        policy=r.over_budget,
        path=settings.path(CALL_LOG) if record_calls else None,
    )
    router = Router.from_settings(settings, registry, budget)
    runner = CallRunner(
        registry,
        retry=RetryPolicy(max_attempts=r.max_attempts, base_delay=r.backoff_base, max_delay=r.backoff_max),
        bus=bus,
        budget=budget,
        first_token_timeout=r.first_token_timeout,
        idle_timeout=r.idle_timeout,
    )
    return Routing(registry, router, runner, budget)
