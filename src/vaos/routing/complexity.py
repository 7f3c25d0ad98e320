"""How complex a task looks, 1-10, without a model (reference section 5.3a, with whole-word
matching: "latest" is not "test", "capital" is not "api", "useful" is not "full").

One regex pass finds every cue word; a second looks for a numbered list. This runs on
every routed message, so it is kept to a few microseconds for ordinary messages.
"""

from __future__ import annotations

import re

_CUES = re.compile(
    r"\b(frontend|backend|database|apis?|deploy\w*|test\w*|migrat\w*|refactor\w*|integrat\w*|infrastructure"
    r"|comprehensive|full|overhaul|rewrite|architecture|first|then|finally|after)\b"
)
_NUMBERED = re.compile(r"(?m)^\s*\d+[.)]\s")
_HEAVY = frozenset({"comprehensive", "full", "overhaul", "migration", "rewrite", "architecture"})
_STEPS = frozenset({"first", "then", "finally", "after"})
_STEMS = (
    ("deploy", "deploy"),
    ("test", "test"),
    ("migrat", "migrate"),
    ("refactor", "refactor"),
    ("integrat", "integrate"),
)


def _domain(word: str) -> str:
    for prefix, stem in _STEMS:
        if word.startswith(prefix):
            return stem
    return "api" if word == "apis" else word


def complexity_score(text: str) -> int:
    """Length + distinct domains (max 4) + step markers (max 3) + 2 x heavy words (max 4), in 1..10."""
    words = len(text.split())
    length = 4 if words > 200 else 3 if words > 100 else 2 if words > 50 else 1
    lower = text.lower()
    domains: set[str] = set()
    steps: set[str] = set()
    heavy: set[str] = set()
    for word in _CUES.findall(lower):
        if word in _STEPS:
            steps.add(word)
        elif word in _HEAVY:
            heavy.add(word)
            if word == "migration":
                domains.add("migrate")
        else:
            domains.add(_domain(word))
    step_score = len(steps) + (1 if "." in text and _NUMBERED.search(text) else 0)
    score = length + min(len(domains), 4) + min(step_score, 3) + min(2 * len(heavy), 4)
    return max(1, min(10, score))
