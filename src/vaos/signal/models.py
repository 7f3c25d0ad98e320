"""The signal: what a message is, and how much compute it deserves.

Plain frozen dataclasses so that the deterministic path stays fast and import-light;
pydantic validates them at the edges (``pydantic.TypeAdapter(Signal)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

Mode = Literal["execute", "build", "analyze", "maintain", "assist"]
Genre = Literal["direct", "inform", "commit", "decide", "express"]
SignalType = Literal["question", "request", "issue", "scheduling", "summary", "report", "general"]
Format = Literal["command", "message", "notification", "document"]
Confidence = Literal["high", "medium", "low"]
Tier = Literal["utility", "specialist", "elite"]
NoiseVerdictName = Literal["pass", "filtered", "clarify"]
ClassifierName = Literal["deterministic", "llm"]

MODES: tuple[Mode, ...] = get_args(Mode)
GENRES: tuple[Genre, ...] = get_args(Genre)
TYPES: tuple[SignalType, ...] = get_args(SignalType)
FORMATS: tuple[Format, ...] = get_args(Format)
CONFIDENCES: tuple[Confidence, ...] = get_args(Confidence)
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


@dataclass(frozen=True, slots=True)
class NoiseVerdict:
    """``pass``, or ``filtered`` / ``clarify`` with the short reply to send instead."""

    verdict: NoiseVerdictName
    reply: str | None = None

    @property
    def passed(self) -> bool:
        return self.verdict == "pass"


PASS = NoiseVerdict("pass")


@dataclass(frozen=True, slots=True)
class Signal:
    """The classified message (INTERFACES.md section 4)."""

    mode: Mode
    genre: Genre
    type: SignalType
    format: Format
    weight: float
    confidence: Confidence
    tier: Tier
    noise: NoiseVerdict
    intent_hash: str
    classifier: ClassifierName = "deterministic"

    def to_dict(self) -> dict[str, Any]:
        return {
            "mode": self.mode,
            "genre": self.genre,
            "type": self.type,
            "format": self.format,
            "weight": self.weight,
            "confidence": self.confidence,
            "tier": self.tier,
            "noise": {"verdict": self.noise.verdict, "reply": self.noise.reply},
            "intent_hash": self.intent_hash,
            "classifier": self.classifier,
        }
