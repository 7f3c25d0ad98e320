"""Facts pulled out of conversation text with the patterns of ``vaos/data/vault.toml``.

Used when a session ends: decisions, preferences, facts, lessons, commitments and
relationships the user stated go into the vault. Deterministic (no model call); a value is
cut at the end of its sentence.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

_SENTENCE_END = re.compile(r"(?<=[.!?])\s|[\n\r]")


@dataclass(frozen=True, slots=True)
class Fact:
    category: str
    value: str
    confidence: float


@dataclass(frozen=True, slots=True)
class _Pattern:
    category: str
    regex: re.Pattern[str]
    confidence: float


@lru_cache(maxsize=1)
def _patterns() -> tuple[_Pattern, ...]:
    data = tomllib.loads(resources.files("vaos.data").joinpath("vault.toml").read_text(encoding="utf-8"))
    return tuple(
        _Pattern(
            str(row["category"]), re.compile(str(row["pattern"]), re.IGNORECASE), float(row["confidence"])
        )
        for row in data.get("extract", ())
    )


def _clean(value: str) -> str:
    cut = _SENTENCE_END.split(value, maxsplit=1)[0]
    return cut.strip().rstrip(".,;:!?").strip()


def extract_facts(text: str, *, min_confidence: float = 0.8) -> list[Fact]:
    """The facts in ``text``, best first, one per distinct value."""
    found: dict[str, Fact] = {}
    for pattern in _patterns():
        if pattern.confidence < min_confidence:
            continue
        match = pattern.regex.search(text)
        if match is None:
            continue
        value = _clean(" ".join(g for g in match.groups() if g))
        if len(value) < 3:
            continue
        key = value.lower()
        if key not in found or found[key].confidence < pattern.confidence:
            found[key] = Fact(pattern.category, value, pattern.confidence)
    return sorted(found.values(), key=lambda f: f.confidence, reverse=True)


def extract_from_messages(texts: Iterable[str], *, min_confidence: float = 0.8) -> list[Fact]:
    seen: dict[str, Fact] = {}
    for text in texts:
        for fact in extract_facts(text, min_confidence=min_confidence):
            seen.setdefault(fact.value.lower(), fact)
    return list(seen.values())
