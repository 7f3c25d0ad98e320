"""The three tiers and what each one gets."""

from __future__ import annotations

from dataclasses import dataclass

from vaos.tiers import TIERS, Tier, tier_for_weight

TIER_RANK: dict[Tier, int] = {tier: rank for rank, tier in enumerate(TIERS)}


@dataclass(frozen=True, slots=True)
class TierProfile:
    tier: Tier
    max_tokens: int
    temperature: float


PROFILES: dict[Tier, TierProfile] = {
    "utility": TierProfile("utility", 2000, 0.2),
    "specialist": TierProfile("specialist", 4000, 0.4),
    "elite": TierProfile("elite", 8000, 0.5),
}


def tier_for_complexity(score: int) -> Tier:
    """1-3 utility, 4-6 specialist, 7+ elite."""
    if score <= 3:
        return "utility"
    if score <= 6:
        return "specialist"
    return "elite"


def step_up(tier: Tier) -> Tier:
    return TIERS[min(TIER_RANK[tier] + 1, len(TIERS) - 1)]


def choose_tier(weight: float, complexity: int) -> tuple[Tier, str]:
    """The tier the weight asks for, raised one step when the task looks more complex.

    Complexity only raises: a short urgent message keeps the tier its weight earned.
    """
    base = tier_for_weight(weight)
    wanted = tier_for_complexity(complexity)
    if TIER_RANK[wanted] > TIER_RANK[base]:
        raised = step_up(base)
        return raised, f"weight {weight:.2f} -> {base}, complexity {complexity}/10 raises it to {raised}"
    return base, f"weight {weight:.2f} -> {base} (complexity {complexity}/10)"
