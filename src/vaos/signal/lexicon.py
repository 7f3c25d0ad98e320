"""The classifier's knowledge, loaded once from ``vaos/data/signal_rules.toml``.

Turns the word and phrase lists into one dictionary lookup per token: ``resolve(token)``
gives the cues a token belongs to (with English inflections at reduced strength), and
``phrases_at(token)`` the multi-word phrases that start with it.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any

# Strength of an inflected English match ("deploying" for "deploy"): weaker evidence.
INFLECTED = 0.6
_CACHE_LIMIT = 200_000

Hit = tuple[int, float, bool]  # (cue index, strength, past tense)
Phrase = tuple[tuple[str, ...], int]  # (its words, cue index)
# What the tokenizer's output is: a word, a sentence boundary, or a word that may stand
# before the word that opens a sentence.
WORD, BOUNDARY, LEAD_SKIP = 0, 1, 2
# (cues, phrases starting here, opens an imperative sentence, kind)
Entry = tuple[tuple[Hit, ...], tuple[Phrase, ...], bool, int]
# Sentence-opening words weigh this much more for verbs, decisions and requests.
LEAD_BONUS = 2.0
_LEAD_BOOSTED = ("mode.", "decide", "commit", "polite", "summary", "scheduling")
# Cues whose words, opening a sentence, make it an instruction (besides the mode verbs).
_IMPERATIVE_CUES = frozenset({"summary", "scheduling", "extraction", "math", "decide"})


def load_data_file(name: str) -> dict[str, Any]:
    """A TOML file from ``vaos/data``."""
    text = resources.files("vaos.data").joinpath(name).read_text(encoding="utf-8")
    return tomllib.loads(text)


@dataclass(slots=True)
class Patterns:
    """Line shapes; the line patterns are used with ``match`` at the start of a line."""

    notification: re.Pattern[str]
    field_line: re.Pattern[str]
    stack_trace: re.Pattern[str]
    log_line: re.Pattern[str]
    code_line: re.Pattern[str]
    structure_line: re.Pattern[str]
    math_expression: re.Pattern[str]
    slash_command: re.Pattern[str]
    email_signoff: re.Pattern[str]
    email_header: re.Pattern[str]


@dataclass(slots=True)
class Lexicon:
    cues: tuple[str, ...]
    words: dict[str, tuple[Hit, ...]]
    phrases: dict[str, tuple[tuple[tuple[str, ...], int], ...]]
    injection: re.Pattern[str]
    patterns: Patterns
    weights: dict[str, float]
    mode_cues: frozenset[int]
    imperative_cues: frozenset[int]
    lead_skip: frozenset[str]
    noun_markers: frozenset[str]
    injection_gate: frozenset[str]
    lead_bonus: list[float]
    entries: dict[str, Entry] = field(default_factory=dict)
    _resolved: dict[str, tuple[Hit, ...]] = field(default_factory=dict)
    _index: dict[str, int] = field(default_factory=dict)
    question_lead: int = 0
    report: int = 0
    problem: int = 0
    alert_source: int = 0
    math: int = 0

    def index(self, cue: str) -> int:
        return self._index[cue]

    def __post_init__(self) -> None:
        self._index = {name: i for i, name in enumerate(self.cues)}
        self.question_lead = self._index["question_lead"]
        self.report = self._index["report"]
        self.problem = self._index["problem"]
        self.alert_source = self._index["alert_source"]
        self.math = self._index["math"]

    def entry(self, token: str) -> Entry:
        """Everything the token loop needs to know about ``token``, computed once."""
        if token[0] in ".!?;\n":
            found: Entry = ((), (), False, BOUNDARY)
        else:
            hits = self.resolve(token)
            kind = LEAD_SKIP if token in self.lead_skip else WORD
            found = (hits, self.phrases.get(token, ()), kind == WORD and self._opens(hits), kind)
        if len(self.entries) >= _CACHE_LIMIT:
            self.entries.clear()
        self.entries[token] = found
        return found

    def _opens(self, hits: tuple[Hit, ...]) -> bool:
        """A verb in its base form that makes its sentence an instruction."""
        if any(cue == self.question_lead for cue, _, _ in hits):
            return False
        return any(cue in self.imperative_cues and strength >= 1.0 for cue, strength, _ in hits)

    def resolve(self, token: str) -> tuple[Hit, ...]:
        """Cues of ``token``: exact words first, else an English inflection of one."""
        hits = self._resolved.get(token)
        if hits is None:
            hits = self.words.get(token) or self._inflected(token)
            if len(self._resolved) >= _CACHE_LIMIT:
                self._resolved.clear()
            self._resolved[token] = hits
        return hits

    def _inflected(self, token: str) -> tuple[Hit, ...]:
        for base, past in _stems(token):
            hits = self.words.get(base)
            if hits:
                return tuple((cue, strength * INFLECTED, past) for cue, strength, _ in hits)
        return ()


def _stems(token: str) -> list[tuple[str, bool]]:
    """Candidate base forms of an English word, and whether the form is a past tense."""
    n = len(token)
    out: list[tuple[str, bool]] = []
    if n > 5 and token.endswith("ing"):
        stem = token[:-3]
        out += [(stem, False), (stem + "e", False)]
        if len(stem) > 2 and stem[-1] == stem[-2]:
            out.append((stem[:-1], False))
    elif n > 4 and token.endswith("ed"):
        stem = token[:-2]
        out += [(stem, True), (token[:-1], True)]
        if len(stem) > 2 and stem[-1] == stem[-2]:
            out.append((stem[:-1], True))
        if stem.endswith("i"):
            out.append((stem[:-1] + "y", True))
    elif n > 4 and token.endswith("ies"):
        out.append((token[:-3] + "y", False))
    elif n > 3 and token.endswith("es"):
        out += [(token[:-2], False), (token[:-1], False)]
    elif n > 3 and token.endswith("s") and not token.endswith("ss"):
        out.append((token[:-1], False))
    return out


def compile_any(patterns: list[str], flags: int = 0) -> re.Pattern[str]:
    """One regular expression matching any of ``patterns`` (leading ``(?i)`` kept local)."""
    return re.compile("|".join(_group(p) for p in patterns), flags)


_LEADING_FLAGS = re.compile(r"^\(\?([imsx]+)\)")


def _group(pattern: str) -> str:
    flags = _LEADING_FLAGS.match(pattern)
    if flags:
        return f"(?{flags.group(1)}:{pattern[flags.end() :]})"
    return f"(?:{pattern})"


def _build(data: dict[str, Any]) -> Lexicon:
    cue_table: dict[str, dict[str, list[str]]] = data["cue"]
    cues = tuple(name for name in cue_table if name != "injection")
    words: dict[str, list[Hit]] = {}
    phrases: dict[str, list[tuple[tuple[str, ...], int]]] = {}
    for index, name in enumerate(cues):
        entries = cue_table[name].get("words", []) + cue_table[name].get("phrases", [])
        for entry in dict.fromkeys(e.lower().replace("’", "'") for e in entries):
            tokens = tuple(entry.split())
            if len(tokens) == 1:
                bucket = words.setdefault(tokens[0], [])
                if all(cue != index for cue, _, _ in bucket):
                    bucket.append((index, 1.0, False))
            else:
                phrases.setdefault(tokens[0], []).append((tokens, index))
    injection = cue_table["injection"]["phrases"]
    raw = data["patterns"]
    patterns = Patterns(
        notification=compile_any(raw["notification"]),
        field_line=re.compile(raw["field_line"]),
        stack_trace=compile_any(raw["stack_trace"]),
        log_line=compile_any(raw["log_line"]),
        code_line=compile_any(raw["code_line"]),
        structure_line=re.compile(raw["structure_line"]),
        math_expression=re.compile(raw["math_expression"]),
        slash_command=re.compile(raw["slash_command"], re.IGNORECASE),
        email_signoff=re.compile(raw["email_signoff"]),
        email_header=re.compile(raw["email_header"]),
    )
    # An injected clause runs from its trigger phrase to the end of its sentence.
    trigger = "|".join(re.escape(p) for p in sorted(injection, key=len, reverse=True))
    return Lexicon(
        cues=cues,
        words={w: tuple(hits) for w, hits in words.items()},
        phrases={w: tuple(ps) for w, ps in phrases.items()},
        injection=re.compile(rf"(?i)(?<![\w'])(?:{trigger})(?:[^.!?\n]|\.(?=\S))*[.!?]*"),
        patterns=patterns,
        weights={k: float(v) for k, v in data["weight"].items()},
        mode_cues=frozenset(i for i, name in enumerate(cues) if name.startswith("mode.")),
        imperative_cues=frozenset(
            i for i, name in enumerate(cues) if name.startswith("mode.") or name in _IMPERATIVE_CUES
        ),
        lead_skip=frozenset(data["lists"]["lead_skip"]),
        noun_markers=frozenset(data["lists"]["noun_markers"]),
        lead_bonus=[LEAD_BONUS if name.startswith(_LEAD_BOOSTED) else 1.0 for name in cues],
        injection_gate=frozenset(data["lists"]["injection_gate"]),
    )


@lru_cache(maxsize=1)
def get_lexicon() -> Lexicon:
    """The lexicon of the bundled rules, built once per process."""
    return _build(load_data_file("signal_rules.toml"))
