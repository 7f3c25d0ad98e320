"""The deterministic classifier: microseconds, no I/O, always available.

``classify(text)`` measures the message's features (``features.py``), decides each
dimension of the signal from cue scores, computes the weight from the weighted features of
``[weight]`` in ``signal_rules.toml``, and applies the noise filter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

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
_ACTION_MODES: frozenset[Mode] = frozenset({"execute", "build", "maintain"})
_COMMAND_MAX_WORDS = 30
_DOCUMENT_MIN_CHARS = 1200
_DOCUMENT_MIN_LINES = 6


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
        self.time = i("time")
        self.summary = i("summary")
        self.urgency = i("urgency")
        self.reasoning = i("reasoning")
        self.math = i("math")
        self.extraction = i("extraction")
        self.sequence = i("sequence")
        self.technical = i("technical")
        self.programming = i("programming")
        self.action_lead = frozenset(self.modes[m] for m in _MODE_ORDER if m != "assist")


@dataclass(frozen=True, slots=True)
class WeightCoefficients:
    """``[weight]`` of signal_rules.toml: how much each feature adds to the weight."""

    base: float
    length: float
    code: float
    math: float
    multi_step: float
    extraction: float
    reasoning: float
    technical: float
    task: float
    urgency: float
    problem: float
    incident: float
    social_cap: float
    length_saturation_words: float


def _unit(x: float) -> float:
    """``x`` clamped to [0, 1]."""
    return 0.0 if x < 0.0 else 1.0 if x > 1.0 else x


class DeterministicClassifier:
    """Rules plus features; see ``docs/signal-taxonomy.md`` for what each label means."""

    name = "deterministic"

    def __init__(self, lexicon: Lexicon | None = None, noise_filter: NoiseFilter | None = None) -> None:
        self.lexicon = lexicon or get_lexicon()
        self.noise_filter = noise_filter or get_noise_filter()
        self._cues = _Cues(self.lexicon)
        self._coef = WeightCoefficients(**self.lexicon.weights)
        # log-scaled length, precomputed for the word counts of nearly every message
        saturation = math.log1p(self._coef.length_saturation_words)
        self._length = [min(1.0, math.log1p(n) / saturation) for n in range(4096)]

    def classify(self, text: str) -> Signal:
        """The signal of ``text``; total on any string."""
        f = extract(text, self.lexicon)
        noise = self.noise_filter.check_patterns(f.text)
        c = self._cues
        s = f.scores
        question = self._is_question(f)
        imperative = f.imperative_leads > 0 or s[c.polite] > 0
        social = s[c.thanks] + s[c.greeting] + s[c.emotion]
        mode, mode_margin = self._mode(f, question, imperative)
        intent = self._has_intent(f, question, imperative)
        genre = self._genre(f, question, imperative, intent)
        kind = self._type(f, question, imperative, mode, genre)
        mode = self._settle_mode(f, mode, kind, imperative)
        shape = self._format(f, question, imperative, mode, genre, kind)
        weight = self._weight(f, mode, kind, intent, social)
        if noise.passed:
            noise = self.noise_filter.check_weight(
                f.text, weight, has_intent=intent, words=f.word_count, social=social > 0
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

    def _mode(self, f: Features, question: bool, imperative: bool) -> tuple[Mode, float]:
        c, s = self._cues, f.scores
        scores = {mode: s[index] for mode, index in c.modes.items()}
        # Cues that say which operation without being mode verbs themselves.
        scores["analyze"] += s[c.summary] + 0.8 * s[c.math] + 0.6 * s[c.extraction] + min(f.math_inline, 2)
        scores["execute"] += 0.8 * s[c.decide]
        if c.scheduling in f.lead_cues:
            scores["execute"] += 0.8 * s[c.scheduling]
        scores["maintain"] += 0.5 * min(s[c.problem], 2.0)
        if question and not imperative:
            # "which version does ubuntu ship?" asks for guidance, not for a release.
            for mode in ("execute", "build", "maintain"):
                scores[mode] *= 0.5
            scores["assist"] += 1.0
        elif s[c.report] >= 1.0 and not imperative:
            scores["assist"] += s[c.report]
        ranked = sorted(_MODE_ORDER, key=lambda m: scores[m], reverse=True)
        best = ranked[0]
        if scores[best] < 0.5:
            return ("execute" if f.slash_command else "assist"), 0.0
        return best, scores[best] - scores[ranked[1]]

    def _settle_mode(self, f: Features, mode: Mode, kind: SignalType, imperative: bool) -> Mode:
        """What the type says about the operation once it is known."""
        if f.slash_command:
            return self._command_mode(f)
        if imperative:
            return mode
        if kind == "issue":
            return "maintain"  # a reported fault asks for a fix
        if kind == "report":
            return "assist"  # done work asks for nothing
        return mode

    def _command_mode(self, f: Features) -> Mode:
        """A slash command's mode comes from its name: /help assists, /summarize analyzes."""
        c = self._cues
        name = f.tokens[0] if f.tokens else ""
        for cue, _, _ in self.lexicon.resolve(name):
            if cue == c.summary:
                return "analyze"
            for mode, index in c.modes.items():
                if cue == index:
                    return mode
        return "execute"

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

    def _genre(self, f: Features, question: bool, imperative: bool, intent: bool) -> Genre:
        c, s = self._cues, f.scores
        lead = f.lead_cues
        if c.commit in lead or (s[c.commit] >= 1.2 and not question and not imperative):
            return "commit"
        if c.decide in lead or (s[c.decide] >= 2.0 and not question):
            return "decide"
        pasted_only = f.stack_lines + f.log_lines >= 2 and not (imperative or question)
        if not s[c.polite] and (f.notification or pasted_only):
            return "inform"
        # In an email, a greeting and a closing "thanks" are form, not feeling.
        feeling = s[c.emotion] + (0.0 if f.email else s[c.thanks] * 1.5 + 0.6 * s[c.greeting])
        if s[c.greeting] and not f.email and not imperative and not self._has_task(f):
            return "express"  # small talk, even as a question: "how was your weekend?"
        direct = (2.0 if imperative else 0.0) + (1.5 if question else 0.0) + (1.0 if f.slash_command else 0.0)
        if feeling >= 2.0 or (feeling >= 1.0 and feeling + (0.4 if f.exclamations else 0.0) >= direct):
            return "express"
        if direct > 0:
            return "direct"
        if not intent:
            return "express"
        return "inform"

    def _type(self, f: Features, question: bool, imperative: bool, mode: Mode, genre: Genre) -> SignalType:
        c, s = self._cues, f.scores
        asks = question or imperative or f.slash_command
        if f.notification:
            return "report" if s[c.report] > s[c.problem] else "issue"
        if s[c.summary] >= 1.0 and asks:
            return "summary"
        arranging = s[c.scheduling] >= 1.0
        timed = arranging or s[c.time] >= 1.0
        if arranging and (c.scheduling in f.lead_cues or asks or genre == "commit"):
            return "scheduling"
        if timed and (genre == "commit" or (imperative and not self._acts(f))):
            return "scheduling"
        if genre == "commit":
            return "general"
        if genre == "express":
            return "issue" if s[c.problem] >= 1.0 else "general"
        if imperative or f.slash_command:
            informational = mode == "assist" or (mode == "analyze" and s[c.math] >= 1.0)
            return "question" if informational and (question or s[c.math] >= 1.0) else "request"
        if question:
            return "question"
        if s[c.problem] >= 1.0 or f.stack_lines or f.log_lines >= 2:
            return "issue"
        if s[c.report] >= 1.0:
            return "report"
        if s[c.summary] >= 1.0:
            return "summary"
        if timed:
            return "scheduling"
        if mode != "assist" and genre == "direct":
            return "request"
        return "general"

    def _has_task(self, f: Features) -> bool:
        """Evidence of work: a mode verb, a fault, a summary or a schedule."""
        c, s = self._cues, f.scores
        work = (c.problem, c.summary, c.scheduling, c.technical)
        return any(s[i] >= 1.0 for i in work) or any(s[c.modes[m]] >= 1.0 for m in _ACTION_MODES)

    def _acts(self, f: Features) -> bool:
        """Whether an action verb other than a scheduling one opens a sentence."""
        c = self._cues
        return bool(f.lead_cues & c.action_lead) and c.scheduling not in f.lead_cues

    def _format(
        self, f: Features, question: bool, imperative: bool, mode: Mode, genre: Genre, kind: SignalType
    ) -> Format:
        if f.slash_command:
            return "command"
        if f.notification and f.char_count < 2000:
            return "notification"
        pasted = f.code_fence or f.stack_lines >= 2 or f.log_lines >= 2
        if f.email and not pasted:
            return "message"
        layout = f.markdown_lines >= 3 or f.line_count >= _DOCUMENT_MIN_LINES
        if pasted or layout or f.char_count >= _DOCUMENT_MIN_CHARS:
            return "document"
        operational = (mode in ("execute", "maintain") or genre == "decide") and kind != "scheduling"
        if (
            imperative
            and operational
            and not question
            and f.word_count <= _COMMAND_MAX_WORDS
            and f.line_count == 1
        ):
            return "command"
        return "message"

    # -- weight and confidence -------------------------------------------------------

    def _weight(self, f: Features, mode: Mode, kind: SignalType, intent: bool, social: float) -> float:
        w, c, s = self._coef, self._cues, f.scores
        words = f.word_count
        length = self._length[words] if words < len(self._length) else 1.0
        if f.code_fence:
            code = 1.0
        else:
            pasted_code = 0.2 * f.code_lines + 0.25 * f.code_inline + 0.3 * f.stack_lines
            code = max(pasted_code, 0.3 * s[c.programming])
        word_problem = 0.15 * (f.numbers - 1) if f.numbers > 1 and (f.question_marks or s[c.math]) else 0.0
        maths = 0.35 * s[c.math] + 0.3 * f.math_inline + word_problem
        steps = f.numbered_lines if f.numbered_lines > f.bullet_lines else f.bullet_lines
        asks = (f.question_marks - 1 if f.question_marks > 1 else 0) + (
            0.5 * (f.sentences - 2) if f.sentences > 2 else 0.0
        )
        multi_step = 0.2 * (steps + s[c.sequence] + asks)
        pasted = f.line_count >= 3 or f.char_count >= 400
        extraction = 0.45 * s[c.extraction] * (1.0 if pasted else 0.6)
        reasoning = 0.35 * s[c.reasoning] + (0.6 if f.choices >= 3 else 0.0)
        technical = 0.25 * s[c.technical] + (0.2 if f.log_lines else 0.0)
        task = 1.0 if mode != "assist" else (0.5 if kind == "request" else 0.0)
        urgency = _unit(0.45 * s[c.urgency])
        problem = _unit(0.5 * s[c.problem])
        weight = (
            w.base
            + w.length * length
            + w.code * _unit(code)
            + w.math * _unit(maths)
            + w.multi_step * _unit(multi_step)
            + w.extraction * _unit(extraction)
            + w.reasoning * _unit(reasoning)
            + w.technical * _unit(technical)
            + w.task * task
            + w.urgency * urgency
            + w.problem * problem
            + w.incident * (urgency if urgency < problem else problem)
        )
        if social and not intent and weight > w.social_cap:
            weight = w.social_cap
        return round(_unit(weight), 4)

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
