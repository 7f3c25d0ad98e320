"""Features of a message, measured in one pass over its tokens plus a few line checks.

Everything the deterministic classifier decides comes from ``Features``. Latency is
bounded: words are read from the first ``TOKEN_WINDOW`` characters and lines from the first
``LINE_WINDOW`` lines; length itself is always counted over the whole text.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from vaos.signal.lexicon import BOUNDARY, LEAD_SKIP, Lexicon, get_lexicon

TOKEN_WINDOW = 1500
LINE_WINDOW = 40
PHRASE_STRENGTH = 1.2
PAST_TENSE_REPORT = 0.5

_TOKEN = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*|[.!?;\n]+")
_FIELD_MARK = re.compile(r"[:=\[|]")
_MATH_GATE = re.compile(r"[\d\\$∑∫√π≤≥≠±∞∂∆²³^]")
# Marks that only code writes; found with one search, then counted.
_CODE_MARKS = ("=>", "->", "==", "!=", "&&", "||", "()", "::", "{{", "};", "</", "+=", "`")
_CODE_MARK = re.compile("|".join(re.escape(mark) for mark in _CODE_MARKS))


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
        words = text.count(" ") + text.count("\n") + 1  # an estimate: reading it all costs too much
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
    question_lead = lex.question_lead
    report = lex.report
    mode_cues = lex.mode_cues
    imperative_cues = lex.imperative_cues
    lead_bonus = lex.lead_bonus
    lead_cues: set[int] = set()
    imperatives = 0
    at_lead = True
    words = 0
    sentences = 0
    known = lex.entries
    entry_of = lex.entry
    for i, token in enumerate(tokens):
        hits, starting, opens_imperative, kind = known.get(token) or entry_of(token)
        if kind == BOUNDARY:
            if not at_lead:
                sentences += 1
            at_lead = True
            continue
        words += 1
        if not hits and not starting:
            if at_lead and kind != LEAD_SKIP:
                at_lead = False
            continue
        imperatives_here = at_lead and opens_imperative
        imperatives += imperatives_here
        for cue, strength, past in hits:
            if at_lead:
                lead_cues.add(cue)
                strength *= lead_bonus[cue]
            elif cue == question_lead:
                continue
            scores[cue] += strength
            if past and cue in mode_cues:
                scores[report] += PAST_TENSE_REPORT
        if starting:
            for words_of_phrase, cue in starting:
                if tuple(tokens[i : i + len(words_of_phrase)]) == words_of_phrase:
                    if at_lead:
                        lead_cues.add(cue)
                        if cue in imperative_cues and not imperatives_here:
                            imperatives += 1
                            imperatives_here = True
                    scores[cue] += PHRASE_STRENGTH * (lead_bonus[cue] if at_lead else 1.0)
        if at_lead and kind != LEAD_SKIP:
            at_lead = False
    if not at_lead:
        sentences += 1
    return scores, frozenset(lead_cues), imperatives, words, sentences


def _measure_shape(text: str, f: Features, lex: Lexicon) -> None:
    p = lex.patterns
    head = text[:TOKEN_WINDOW]
    if _CODE_MARK.search(head):
        f.code_inline = sum(head.count(mark) for mark in _CODE_MARKS) + head.count("`") // 2
    if _MATH_GATE.search(head):
        f.math_inline = len(p.math_expression.findall(head))
    lines = head.split("\n", LINE_WINDOW)[:LINE_WINDOW] if f.line_count > 1 else [head]
    f.notification = _is_notification(lines, f, lex)
    if f.line_count < 2:
        return
    stack, log, code, structure = (
        p.stack_trace.match,
        p.log_line.match,
        p.code_line.match,
        p.structure_line.match,
    )
    for line in lines:
        if not line or line.isspace():
            continue
        if stack(line):
            f.stack_lines += 1
        elif log(line):
            f.log_lines += 1
        elif code(line):
            f.code_lines += 1
        mark = structure(line)
        if mark:
            kind = mark.group(1)[0]
            if kind.isdigit() or kind.isalpha():
                f.numbered_lines += 1
            elif kind in "-*+•":
                f.bullet_lines += 1 if kind != "*" or mark.group(1) != "**" else 0
            f.markdown_lines += 1
    if f.line_count >= 3:
        f.email = bool(p.email_signoff.search(text[-400:]) or p.email_header.search(text[:400]))


def _is_notification(lines: list[str], f: Features, lex: Lexicon) -> bool:
    p = lex.patterns
    for line in lines[:3]:
        if p.notification.match(line):
            return True
    if f.scores[lex.alert_source] >= 1.0 and _FIELD_MARK.search(lines[0]):
        return True
    if len(lines) < 3 or f.word_count >= 150:
        return False
    return sum(1 for line in lines[:8] if p.field_line.match(line)) >= 3
