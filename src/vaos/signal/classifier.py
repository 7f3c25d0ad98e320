"""The deterministic classifier: microseconds, no I/O, always available.

``classify(text)`` measures the message's features (``features.py``), decides each
dimension of the signal from cue scores, computes the weight from the weighted features of
``[weight]`` in ``signal_rules.toml``, and applies the noise filter.
"""

from __future__ import annotations

import math

from vaos.signal.features import Features, extract
from vaos.signal.intent_hash import intent_hash
from vaos.signal.lexicon import Lexicon, get_lexicon
from vaos.signal.models import (
    Confidence,
    Format,
    Genre,
    Mode,
    NoiseVerdict,
    Signal,
    SignalType,
    tier_for_weight,
)
from vaos.signal.noise_filter import NoiseFilter, get_noise_filter

_MODE_ORDER: tuple[Mode, ...] = ("maintain", "execute", "build", "analyze", "assist")
_ACTION_MODES = frozenset({"execute", "build", "maintain"})
_COMMAND_MAX_WORDS = 20
_DOCUMENT_MIN_CHARS = 1200
_DOCUMENT_MIN_LINES = 8


class _Cues:
    """Cue indexes of one lexicon, looked up once."""

    def __init__(self, lex: Lexicon) -> None:
        i = lex.index
        self.modes = {mode: i(f"mode.{mode}") for mode in _MODE_ORDER}
        self.polite = i("polite")
        self.question_lead = i("question_lead")
        self.commit = i("commit")
        self.decide = i("decide")
        self.thanks = i("thanks")
        self.greeting = i("greeting")
        self.emotion = i("emotion")
        self.problem = i("problem")
        self.report = i("report")
        self.scheduling = i("scheduling")
        self.summary = i("summary")
        self.urgency = i("urgency")
        self.reasoning = i("reasoning")
        self.math = i("math")
        self.extraction = i("extraction")
        self.sequence = i("sequence")
        self.technical = i("technical")
        self.action_lead = frozenset(self.modes[m] for m in _MODE_ORDER if m != "assist")


class DeterministicClassifier:
    """Rules plus features; see ``docs/signal-taxonomy.md`` for what each label means."""

    name = "deterministic"

    def __init__(self, lexicon: Lexicon | None = None, noise_filter: NoiseFilter | None = None) -> None:
        self.lexicon = lexicon or get_lexicon()
        self.noise_filter = noise_filter or get_noise_filter()
        self._cues = _Cues(self.lexicon)
        self._w = self.lexicon.weights

    def classify(self, text: str) -> Signal:
        """The signal of ``text``; total on any string."""
        noise = self.noise_filter.check_patterns(text)
        f = extract(text, self.lexicon)
        c = self._cues
        s = f.scores
        question = self._is_question(f)
        imperative = f.imperative_leads > 0 or s[c.polite] > 0
        social = s[c.thanks] + s[c.greeting] + s[c.emotion]
        mode, mode_margin = self._mode(f, question)
        intent = self._has_intent(f, question, imperative)
        genre = self._genre(f, question, imperative, social, mode)
        kind = self._type(f, question, imperative, mode, intent)
        shape = self._format(f, question, imperative)
        weight = self._weight(f, mode, kind, intent, social)
        if noise.passed:
            noise = self.noise_filter.check_weight(
                text, weight, has_intent=intent, words=f.word_count, social=social > 0
            )
        if not noise.passed:
            weight = min(weight, 0.05)
        confidence = self._confidence(f, mode_margin, intent, social)
        return Signal(
            mode=mode,
            genre=genre,
            type=kind,
            format=shape,
            weight=weight,
            confidence=confidence,
            tier=tier_for_weight(weight),
            noise=noise,
            intent_hash=intent_hash(text),
        )

    # -- dimensions -------------------------------------------------------------------

    def _is_question(self, f: Features) -> bool:
        if f.question_marks or f.inverted_question:
            return True
        return self._cues.question_lead in f.lead_cues and f.word_count <= 25 and f.line_count <= 2

    def _mode(self, f: Features, question: bool) -> tuple[Mode, float]:
        c, s = self._cues, f.scores
        scores = {mode: s[index] for mode, index in c.modes.items()}
        scores["maintain"] += 0.5 * min(s[c.problem], 2.0)
        if question and not (f.lead_cues & c.action_lead):
            scores["assist"] += 0.8
        ranked = sorted(_MODE_ORDER, key=lambda m: scores[m], reverse=True)
        best = ranked[0]
        if scores[best] < 0.5:
            return "assist", 0.0
        return best, scores[best] - scores[ranked[1]]

    def _has_intent(self, f: Features, question: bool, imperative: bool) -> bool:
        c, s = self._cues, f.scores
        if question or imperative or f.slash_command or f.notification:
            return True
        evidence = (c.problem, c.summary, c.decide, c.commit, c.report, c.scheduling)
        if any(s[i] >= 1.0 for i in evidence):
            return True
        if any(s[c.modes[m]] >= 1.0 for m in ("execute", "build", "analyze", "maintain")):
            return True
        return f.word_count > 12 or f.code_fence or f.stack_lines > 0 or f.log_lines > 0

    def _genre(self, f: Features, question: bool, imperative: bool, social: float, mode: Mode) -> Genre:
        c, s = self._cues, f.scores
        lead = f.lead_cues
        if c.commit in lead or (s[c.commit] >= 1.2 and not question):
            return "commit"
        if c.decide in lead or (s[c.decide] >= 2.0 and not question):
            return "decide"
        direct = (2.0 if imperative else 0.0) + (1.5 if question else 0.0) + (1.0 if f.slash_command else 0.0)
        express = s[c.thanks] * 1.5 + s[c.emotion] + 0.6 * s[c.greeting] + (0.4 if f.exclamations else 0.0)
        if express >= 1.0 and express >= direct:
            return "express"
        if direct > 0:
            return "direct"
        if social > 0 and not (s[c.report] or s[c.problem]) and f.word_count <= 12:
            return "express"
        return "inform"

    def _type(self, f: Features, question: bool, imperative: bool, mode: Mode, intent: bool) -> SignalType:
        c, s = self._cues, f.scores
        asks = question or imperative or f.slash_command
        if s[c.summary] >= 1.0 and asks:
            return "summary"
        if s[c.scheduling] >= 1.0 and (asks or c.scheduling in f.lead_cues):
            return "scheduling"
        if f.notification:
            return "report" if s[c.report] > s[c.problem] else "issue"
        if imperative or f.slash_command:
            explain_only = mode == "assist" and not (f.lead_cues & c.action_lead)
            return "question" if explain_only and question else "request"
        if question:
            return "question"
        if s[c.problem] >= 1.0 or f.stack_lines:
            return "issue"
        if s[c.report] >= 1.0 or s[c.commit] >= 1.0:
            return "report"
        if s[c.summary] >= 1.0:
            return "summary"
        if s[c.scheduling] >= 1.0:
            return "scheduling"
        if mode != "assist" and intent:
            return "request"
        return "general"

    def _format(self, f: Features, question: bool, imperative: bool) -> Format:
        if f.slash_command:
            return "command"
        if f.notification and f.char_count < 2000:
            return "notification"
        structured = f.code_fence or f.stack_lines >= 2 or f.log_lines >= 2 or f.markdown_lines >= 3
        if structured or f.line_count >= _DOCUMENT_MIN_LINES or f.char_count >= _DOCUMENT_MIN_CHARS:
            return "message" if f.email and not structured else "document"
        if (
            imperative
            and not question
            and f.word_count <= _COMMAND_MAX_WORDS
            and f.line_count == 1
            and f.sentences <= 2
            and self._cues.action_lead & f.lead_cues
        ):
            return "command"
        return "message"

    # -- weight and confidence -------------------------------------------------------

    def _weight(self, f: Features, mode: Mode, kind: SignalType, intent: bool, social: float) -> float:
        w, c, s = self._w, self._cues, f.scores
        length = min(1.0, math.log1p(f.word_count) / math.log1p(w["length_saturation_words"]))
        code = 1.0 if f.code_fence else min(1.0, 0.2 * f.code_lines + 0.25 * f.code_inline + 0.3 * f.stack_lines)
        math_f = min(1.0, 0.35 * s[c.math] + 0.3 * f.math_inline)
        steps = max(f.numbered_lines, f.bullet_lines)
        asks = max(0, f.question_marks - 1) + max(0, f.sentences - 2) * 0.5
        multi_step = min(1.0, 0.2 * steps + 0.2 * s[c.sequence] + 0.2 * asks)
        pasted = f.line_count >= 3 or f.char_count >= 400
        extraction = min(1.0, 0.45 * s[c.extraction] * (1.0 if pasted else 0.6))
        reasoning = min(1.0, 0.35 * s[c.reasoning])
        technical = min(1.0, 0.25 * s[c.technical] + 0.2 * (f.log_lines > 0))
        task = 1.0 if mode in _ACTION_MODES or mode == "analyze" else (0.5 if kind == "request" else 0.0)
        urgency = min(1.0, 0.45 * s[c.urgency])
        problem = min(1.0, 0.5 * s[c.problem])
        weight = (
            w["base"]
            + w["length"] * length
            + w["code"] * code
            + w["math"] * math_f
            + w["multi_step"] * multi_step
            + w["extraction"] * extraction
            + w["reasoning"] * reasoning
            + w["technical"] * technical
            + w["task"] * task
            + w["urgency"] * urgency
            + w["problem"] * problem
        )
        if social and not intent:
            weight = min(weight, w["social_cap"])
        return round(min(1.0, max(0.0, weight)), 4)

    def _confidence(self, f: Features, mode_margin: float, intent: bool, social: float) -> Confidence:
        if not intent and not social:
            return "low"
        evidence = max(f.scores)
        if evidence >= 2.0 and (mode_margin >= 1.0 or not intent):
            return "high"
        if evidence >= 1.0:
            return "medium"
        return "low"


_default: DeterministicClassifier | None = None


def get_classifier() -> DeterministicClassifier:
    """The process-wide deterministic classifier over the bundled rules."""
    global _default
    if _default is None:
        _default = DeterministicClassifier()
    return _default


def classify(text: str) -> Signal:
    """Classify ``text`` with the bundled deterministic rules."""
    return get_classifier().classify(text)


__all__ = ["DeterministicClassifier", "NoiseVerdict", "classify", "get_classifier"]
