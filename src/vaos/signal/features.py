"""Features of a message, measured in one pass over its tokens plus a few line checks.

Everything the deterministic classifier decides comes from ``Features``. Latency is
bounded: words are read from the first ``TOKEN_WINDOW`` characters and lines from the first
``LINE_WINDOW`` lines; length itself is always counted over the whole text.
"""

from __future__ import annotations

import re

from vaos.signal.lexicon import BOUNDARY, LEAD_SKIP, Lexicon, get_lexicon

TOKEN_WINDOW = 1500
LINE_WINDOW = 40
PHRASE_STRENGTH = 1.2
PAST_TENSE_REPORT = 0.5

_TOKEN = re.compile(r"[^\W_]+(?:['\-][^\W_]+)*|[.!?;\n]+")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)?(?![\w.])")
_CHOICE = re.compile(r"\s*\(?[A-Ea-e][.)]\s+\S")
_FIELD_MARK = re.compile(r"[:=\[|]")
_MATH_GATE = re.compile(r"[\d\\$∑∫√π≤≥≠±∞∂∆²³^]")
# Marks that only code writes; found with one search, then counted.
_CODE_MARKS = ("=>", "->", "==", "!=", "&&", "||", "()", "::", "{{", "};", "</", "+=", "`")
_CODE_MARK = re.compile("|".join(re.escape(mark) for mark in _CODE_MARKS))


class Features:
    """What the classifier knows about one message.

    Counters default to zero at class level and are set only when measured: most messages
    are one short line, and building them should cost next to nothing.
    """

    tokens: list[str]  # lower-cased words of its prose, with sentence boundaries
    lines: list[str]  # its first lines (LINE_WINDOW at most)
    scores: list[float]
    lead_cues: frozenset[int] = frozenset()
    imperative_leads = 0
    word_count = 0
    sentences = 0
    question_marks = 0
    exclamations = 0
    inverted_question = False
    ends_with_question = False
    slash_command = False
    notification = False
    email = False
    code_fence = False
    code_lines = 0
    code_inline = 0
    stack_lines = 0
    log_lines = 0
    markdown_lines = 0
    numbered_lines = 0
    bullet_lines = 0
    math_inline = 0
    numbers = 0  # numerals in the text: word problems are made of them
    choices = 0  # lines that read like answer options: "A) …", "(b) …"
    injection_removed = False

    def __init__(self, text: str, char_count: int, line_count: int) -> None:
        self.text = text  # the message with injected clauses removed
        self.char_count = char_count
        self.line_count = line_count


def strip_injection(text: str, lexicon: Lexicon | None = None) -> tuple[str, bool]:
    """Remove clauses that address the classifier ("classify this as elite", …)."""
    lex = lexicon or get_lexicon()
    cleaned, count = lex.injection.subn(" ", text)
    return (cleaned, True) if count else (text, False)


def extract(text: str, lexicon: Lexicon | None = None) -> Features:
    lex = lexicon or get_lexicon()
    f = _measure(text, lex)
    # Single short lines: their tokens tell whether an injection is worth looking for.
    # Longer text has words outside the tokens (pasted lines, past the window): a substring
    # scan for the gate words is cheap, the injection pattern itself is not.
    if f.line_count > 1 or len(text) > TOKEN_WINDOW:
        low = text.lower()
        suspicious = any(word in low for word in lex.injection_gate)
    else:
        suspicious = not lex.injection_gate.isdisjoint(f.tokens)
    if suspicious:
        cleaned, injected = strip_injection(text, lex)
        if injected:
            f = _measure(cleaned, lex)
            f.injection_removed = True
    f.notification = _is_notification(f, lex)
    return f


def _measure(text: str, lex: Lexicon) -> Features:
    stripped = text.strip()
    head = stripped[:TOKEN_WINDOW]
    f = Features(text, len(stripped), stripped.count("\n") + 1 if stripped else 0)
    f.lines = [head]
    f.inverted_question = "¿" in head
    f.ends_with_question = stripped.endswith("?")
    f.slash_command = stripped[:1] == "/" and bool(lex.patterns.slash_command.match(stripped))
    f.code_fence = "```" in head or "~~~" in head
    prose = _measure_lines(head, f, lex) if f.line_count > 1 else head
    low = prose.lower().replace("’", "'")
    f.question_marks = low.count("?")
    f.exclamations = low.count("!")
    f.tokens = _TOKEN.findall(low)
    f.scores, f.lead_cues, f.imperative_leads, words, sentences = _score_tokens(f.tokens, lex)
    f.sentences = max(sentences, 1 if words else 0)
    if f.line_count > 1 or len(stripped) > TOKEN_WINDOW:
        # Pasted material counts as length, not as wording: estimate its words cheaply.
        words = stripped.count(" ") + stripped.count("\n") + 1
    f.word_count = words
    if _CODE_MARK.search(head):
        f.code_inline = sum(head.count(mark) for mark in _CODE_MARKS) + head.count("`") // 2
    if _MATH_GATE.search(head):
        f.math_inline = len(lex.patterns.math_expression.findall(head))
        if f.question_marks or f.scores[lex.math]:
            f.numbers = len(_NUMBER.findall(head))
    if f.line_count >= 3:
        p = lex.patterns
        f.email = bool(p.email_signoff.search(stripped[-400:]) or p.email_header.search(head[:400]))
    return f


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
        imperatives_here = at_lead and opens_imperative and _verb_position(tokens, i, lex)
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
            asking = at_lead and any(cue == question_lead for cue, _, _ in hits)
            for words_of_phrase, cue in starting:
                if tuple(tokens[i : i + len(words_of_phrase)]) == words_of_phrase:
                    if at_lead:
                        lead_cues.add(cue)
                        if cue in imperative_cues and not imperatives_here and not asking:
                            imperatives += 1
                            imperatives_here = True
                    scores[cue] += PHRASE_STRENGTH * (lead_bonus[cue] if at_lead else 1.0)
        if at_lead and kind != LEAD_SKIP:
            at_lead = False
    if not at_lead:
        sentences += 1
    return scores, frozenset(lead_cues), imperatives, words, sentences


def _verb_position(tokens: list[str], i: int, lex: Lexicon) -> bool:
    """False when the next word shows the lead word is a noun: "deploy of v2 finished"."""
    return i + 1 >= len(tokens) or tokens[i + 1] not in lex.noun_markers


def _measure_lines(head: str, f: Features, lex: Lexicon) -> str:
    """Count the shapes of the first lines; return the prose among them (pasted code, logs
    and traces excluded, so that their words do not pass for the sender's)."""
    p = lex.patterns
    stack, log, code = p.stack_trace.match, p.log_line.match, p.code_line.match
    structure = p.structure_line.match
    f.lines = lines = head.split("\n", LINE_WINDOW)[:LINE_WINDOW]
    prose: list[str] = []
    fenced = False
    for line in lines:
        if not line or line.isspace():
            continue
        if line.lstrip().startswith(("```", "~~~")):
            fenced = not fenced
            continue
        if fenced:
            f.code_lines += 1
        elif stack(line):
            f.stack_lines += 1
        elif log(line):
            f.log_lines += 1
        elif code(line):
            f.code_lines += 1
        else:
            prose.append(line)
            if _CHOICE.match(line):
                f.choices += 1
            mark = structure(line)
            if mark:
                kind = mark.group(1)
                if kind[0].isdigit() or kind[0].isalpha():
                    f.numbered_lines += 1
                elif kind[0] in "-+•" or kind == "* ":
                    f.bullet_lines += 1
                f.markdown_lines += 1
    return "\n".join(prose)


def _is_notification(f: Features, lex: Lexicon) -> bool:
    p = lex.patterns
    lines = f.lines
    for line in lines[:3]:
        if p.notification.match(line):
            return True
    if f.scores[lex.alert_source] < 1.0 or f.imperative_leads or f.question_marks:
        return False  # a person asking about Grafana is not Grafana writing
    if _FIELD_MARK.search(lines[0]):
        return True
    return len(lines) >= 3 and sum(1 for line in lines[:8] if p.field_line.match(line)) >= 3
