"""Features of a message, measured in one pass over its tokens plus a few line checks.

Everything the deterministic classifier decides comes from ``Features``. Latency is
bounded: words are read from the first ``TOKEN_WINDOW`` characters and lines from the first
``LINE_WINDOW`` lines; length itself is always counted over the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vaos.signal.lexicon import Hit, Lexicon, get_lexicon

TOKEN_WINDOW = 4000
LINE_WINDOW = 200
LEAD_BONUS = 2.0
PHRASE_STRENGTH = 1.2
PAST_TENSE_REPORT = 0.5

_TOKEN = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*|[.!?;\n]+")
_MATH_GATE = re.compile(r"[\d\\$∑∫√π≤≥≠±∞∂∆²³^]")
_CODE_GATE_CHARS = "`(=<{$|&:"
_NOTIFY_GATE_CHARS = "[:=#|—-*✅❌⚠🔴🟢🟡🚨🔥❗"
_WORDS_IN = re.compile(r"\S+")


@dataclass(slots=True)
class Features:
    """What the classifier knows about one message."""

    text: str  # the message with injected clauses removed
    scores: list[float]
    lead_cues: frozenset[int]
    imperative_leads: int
    word_count: int
    char_count: int
    line_count: int
    sentences: int
    question_marks: int
    exclamations: int
    inverted_question: bool
    ends_with_question: bool
    slash_command: bool
    notification: bool
    email: bool
    code_fence: bool
    code_lines: int
    code_inline: int
    stack_lines: int
    log_lines: int
    markdown_lines: int
    numbered_lines: int
    bullet_lines: int
    math_inline: int
    injection_removed: bool


def strip_injection(text: str, lexicon: Lexicon | None = None) -> tuple[str, bool]:
    """Remove clauses that address the classifier ("classify this as elite", …)."""
    lex = lexicon or get_lexicon()
    cleaned, count = lex.injection.subn(" ", text)
    return (cleaned, True) if count else (text, False)


def extract(text: str, lexicon: Lexicon | None = None) -> Features:
    lex = lexicon or get_lexicon()
    low = text[:TOKEN_WINDOW].lower().replace("’", "'")
    tokens = _TOKEN.findall(low)
    injected = False
    if not lex.injection_gate.isdisjoint(tokens):
        text, injected = strip_injection(text, lex)
        if injected:
            low = text[:TOKEN_WINDOW].lower().replace("’", "'")
            tokens = _TOKEN.findall(low)
    scores, lead_cues, imperatives, words, sentences = _score_tokens(tokens, lex)
    if len(text) > TOKEN_WINDOW:
        words = len(_WORDS_IN.findall(text))
    stripped = text.strip()
    features = Features(
        text=text,
        scores=scores,
        lead_cues=lead_cues,
        imperative_leads=imperatives,
        word_count=words,
        char_count=len(stripped),
        line_count=stripped.count("\n") + 1 if stripped else 0,
        sentences=max(sentences, 1 if words else 0),
        question_marks=low.count("?"),
        exclamations=low.count("!"),
        inverted_question="¿" in low,
        ends_with_question=stripped.endswith("?"),
        slash_command=bool(lex.patterns.slash_command.match(stripped)),
        notification=False,
        email=False,
        code_fence="```" in text or "~~~" in text,
        code_lines=0,
        code_inline=0,
        stack_lines=0,
        log_lines=0,
        markdown_lines=0,
        numbered_lines=0,
        bullet_lines=0,
        math_inline=0,
        injection_removed=injected,
    )
    _measure_shape(stripped, features, lex)
    return features


def _score_tokens(tokens: list[str], lex: Lexicon) -> tuple[list[float], frozenset[int], int, int, int]:
    """Cue scores, the cues of sentence-opening words, how many sentences open with an
    imperative, the word count and the sentence count."""
    scores = [0.0] * len(lex.cues)
    question_lead = lex.index("question_lead")
    report = lex.index("report")
    mode_cues = lex.mode_cues
    imperative_cues = lex.imperative_cues
    lead_bonus = _lead_bonus(lex)
    lead_skip = lex.lead_skip
    lead_cues: set[int] = set()
    imperatives = 0
    at_lead = True
    words = 0
    sentences = 0
    resolve = lex.resolve
    phrases = lex.phrases
    for i, token in enumerate(tokens):
        if token[0] in ".!?;\n":
            if not at_lead:
                sentences += 1
            at_lead = True
            continue
        words += 1
        hits = resolve(token)
        imperatives_here = False
        if at_lead and token not in lead_skip and _opens_imperative(hits, question_lead, imperative_cues):
            imperatives += 1
            imperatives_here = True
        for cue, strength, past in hits:
            if cue == question_lead and not at_lead:
                continue
            if at_lead:
                lead_cues.add(cue)
                strength *= lead_bonus[cue]
            scores[cue] += strength
            if past and cue in mode_cues:
                scores[report] += PAST_TENSE_REPORT
        starting = phrases.get(token)
        if starting:
            for words_of_phrase, cue in starting:
                if tuple(tokens[i : i + len(words_of_phrase)]) == words_of_phrase:
                    if at_lead:
                        lead_cues.add(cue)
                        if cue in imperative_cues and not imperatives_here:
                            imperatives += 1
                            imperatives_here = True
                    scores[cue] += PHRASE_STRENGTH * (lead_bonus[cue] if at_lead else 1.0)
        if at_lead and token not in lead_skip:
            at_lead = False
    if not at_lead:
        sentences += 1
    return scores, frozenset(lead_cues), imperatives, words, sentences


def _opens_imperative(hits: tuple[Hit, ...], question_lead: int, cues: frozenset[int]) -> bool:
    """A sentence opened by a verb in its base form ("restart …", "summarize …")."""
    if any(cue == question_lead for cue, _, _ in hits):
        return False
    return any(cue in cues and strength >= 1.0 for cue, strength, _ in hits)


_LEAD_BONUS_CACHE: dict[int, list[float]] = {}


def _lead_bonus(lex: Lexicon) -> list[float]:
    key = id(lex)
    bonus = _LEAD_BONUS_CACHE.get(key)
    if bonus is None:
        boosted = ("mode.", "decide", "commit", "polite", "summary", "scheduling")
        bonus = [LEAD_BONUS if name.startswith(boosted) else 1.0 for name in lex.cues]
        _LEAD_BONUS_CACHE[key] = bonus
    return bonus


def _measure_shape(text: str, f: Features, lex: Lexicon) -> None:
    p = lex.patterns
    head = text[:TOKEN_WINDOW]
    if any(ch in head for ch in _CODE_GATE_CHARS):
        f.code_inline = len(p.code_inline.findall(head))
    if _MATH_GATE.search(head):
        f.math_inline = len(p.math_inline.findall(head))
    first_lines = head[:600]
    if (
        any(ch in first_lines for ch in _NOTIFY_GATE_CHARS)
        or f.scores[lex.index("problem")]
        or f.scores[lex.index("report")]
    ):
        f.notification = bool(p.notification.search(first_lines))
    if f.line_count < 2:
        return
    lines = text.split("\n", LINE_WINDOW)[:LINE_WINDOW]
    f.email = bool(p.email_signoff.search(text[-400:]) or p.email_header.search(text[:400]))
    code_line, stack, log = p.code_line, p.stack_trace, p.log_line
    for line in lines:
        if not line.strip():
            continue
        if stack.match(line):
            f.stack_lines += 1
        elif log.match(line):
            f.log_lines += 1
        elif code_line.search(line):
            f.code_lines += 1
    f.markdown_lines = len(p.markdown_line.findall(head))
    f.numbered_lines = len(p.numbered_line.findall(head))
    f.bullet_lines = len(p.bullet_line.findall(head))
