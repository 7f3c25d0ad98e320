"""Routing: how much compute a message deserves, and which models give it.

``Router.decide(signal, text)`` -> ``RoutingDecision`` (tier + chain of provider/model);
``CallRunner.stream(request, decision)`` / ``complete`` run the call with circuit breakers,
retries, fallback, budgets and cost. ``build_routing(settings)`` wires both from settings.
"""

from vaos.routing.budget import BudgetTracker, CallRecord
from vaos.routing.complexity import complexity_score
from vaos.routing.decision import Route, RoutingDecision
from vaos.routing.retry import RetryPolicy
from vaos.routing.router import (
    NotConfiguredError,
    Router,
    RoutingInputError,
    UnknownModelError,
    UnknownTierError,
)
from vaos.routing.runner import (
    Attempt,
    BudgetExceededError,
    CallResult,
    CallRunner,
    Finished,
    RoutingError,
    RunEvent,
    StreamFailed,
    StreamInterruptedError,
)
from vaos.routing.tiers import PROFILES, TierProfile, choose_tier
from vaos.routing.wiring import Routing, build_routing

__all__ = [
    "PROFILES",
    "Attempt",
    "BudgetExceededError",
    "BudgetTracker",
    "CallRecord",
    "CallResult",
    "CallRunner",
    "Finished",
    "NotConfiguredError",
    "RetryPolicy",
    "Route",
    "Router",
    "Routing",
    "RoutingDecision",
    "RoutingError",
    "RoutingInputError",
    "RunEvent",
    "StreamFailed",
    "StreamInterruptedError",
    "TierProfile",
    "UnknownModelError",
    "UnknownTierError",
    "build_routing",
    "choose_tier",
    "complexity_score",
]
