"""The signal: what a message is, and how much compute it deserves.

Plain frozen dataclasses so that the deterministic path stays fast and import-light;
pydantic validates them at the edges (``pydantic.TypeAdapter(Signal)``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal, get_args

from vaos.tiers import TIERS as TIERS
from vaos.tiers import Tier as Tier
from vaos.tiers import tier_for_weight as tier_for_weight

Mode = Literal["execute", "build", "analyze", "maintain", "assist"]
Genre = Literal["direct", "inform", "commit", "decide", "express"]
SignalType = Literal["question", "request", "issue", "scheduling", "summary", "report", "general"]
Format = Literal["command", "message", "notification", "document"]
Confidence = Literal["high", "medium", "low"]
NoiseVerdictName = Literal["pass", "filtered", "clarify"]
ClassifierName = Literal["deterministic", "llm"]

MODES: tuple[Mode, ...] = get_args(Mode)
GENRES: tuple[Genre, ...] = get_args(Genre)
TYPES: tuple[SignalType, ...] = get_args(SignalType)
FORMATS: tuple[Format, ...] = get_args(Format)
CONFIDENCES: tuple[Confidence, ...] = get_args(Confidence)


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
