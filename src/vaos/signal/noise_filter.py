"""The noise filter: messages that need no model get a short reply instead.

Tier 1 matches the whole trimmed message against the patterns of
``vaos/data/noise_filter.toml``. Tier 2 uses the signal weight, and only for messages with
no detectable intent: a short clear question has a low weight (it needs little compute)
but deserves an answer, so the weight alone never filters it.
"""

from __future__ import annotations

import re
import zlib
from dataclasses import dataclass
from functools import lru_cache

from vaos.signal.lexicon import compile_any, load_data_file
from vaos.signal.models import PASS, NoiseVerdict

# Tier 2 asks for clarification only of short fragments; longer text without a detected
# intent is passed on (the model can make sense of it).
CLARIFY_MAX_WORDS = 6


@dataclass(frozen=True, slots=True)
class NoiseThresholds:
    likely_noise: float = 0.20
    uncertain: float = 0.60


class NoiseFilter:
    def __init__(self, thresholds: NoiseThresholds | None = None) -> None:
        data = load_data_file("noise_filter.toml")
        self.thresholds = thresholds or NoiseThresholds()
        self._noise = compile_any(data["tier1"]["patterns"])
        self._confused = compile_any(data["tier1"]["clarify_patterns"])
        self._acks = [
            (re.compile(group["pattern"]), tuple(group["replies"]))
            for group in data["acknowledgments"].values()
        ]
        self._clarify = str(data["clarify"]["prompt"])
        self._agreement = re.compile(data["tier2"]["agreement"])

    def check(
        self,
        message: str,
        weight: float | None = None,
        *,
        has_intent: bool = False,
        words: int = 0,
        social: bool = False,
    ) -> NoiseVerdict:
        """Tier 1, then (when a weight is given) tier 2."""
        verdict = self.check_patterns(message)
        if verdict.passed and weight is not None:
            return self.check_weight(message, weight, has_intent=has_intent, words=words, social=social)
        return verdict

    def check_patterns(self, message: str) -> NoiseVerdict:
        trimmed = message.strip()
        if not trimmed:
            return NoiseVerdict("filtered", "")
        if len(trimmed) > 64 or trimmed.count(" ") > 5:
            return PASS  # every noise pattern is a few words at most
        if self._confused.match(trimmed):
            return NoiseVerdict("clarify", self.clarification(trimmed))
        if self._noise.match(trimmed):
            return NoiseVerdict("filtered", self.acknowledgment(trimmed))
        return PASS

    def check_weight(
        self, message: str, weight: float, *, has_intent: bool, words: int, social: bool = False
    ) -> NoiseVerdict:
        """Tier 2: agreement and small talk under ``likely_noise`` are acknowledged; other
        short fragments under ``uncertain`` get a clarifying question."""
        if has_intent:
            return PASS
        trimmed = message.strip()
        settled = social or bool(self._agreement.match(trimmed))
        if weight < self.thresholds.likely_noise and settled:
            return NoiseVerdict("filtered", self.acknowledgment(trimmed))
        if weight < self.thresholds.uncertain and words <= CLARIFY_MAX_WORDS and not settled:
            return NoiseVerdict("clarify", self.clarification(trimmed))
        return PASS

    def acknowledgment(self, trimmed: str) -> str:
        """A short reply, chosen deterministically from the message."""
        for pattern, replies in self._acks:
            if pattern.search(trimmed):
                reply: str = replies[zlib.crc32(trimmed.encode("utf-8", "replace")) % len(replies)]
                return reply
        return "OK."

    def clarification(self, trimmed: str) -> str:
        return self._clarify.format(message=trimmed[:200])


@lru_cache(maxsize=1)
def get_noise_filter() -> NoiseFilter:
    return NoiseFilter()
