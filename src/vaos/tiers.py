"""The compute tiers and the weight scale that selects them (DESIGN.md decision 3).

Kept at the bottom of the package so that the signal layer, the store and routing all
speak of tiers the same way.
"""

from __future__ import annotations

from typing import Literal, get_args

Tier = Literal["utility", "specialist", "elite"]
TIERS: tuple[Tier, ...] = get_args(Tier)

ELITE_THRESHOLD = 0.65
SPECIALIST_THRESHOLD = 0.35


def tier_for_weight(weight: float) -> Tier:
    """The tier a weight asks for: >= 0.65 elite, >= 0.35 specialist, else utility."""
    if weight >= ELITE_THRESHOLD:
        return "elite"
    if weight >= SPECIALIST_THRESHOLD:
        return "specialist"
    return "utility"
