from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaos.signal.noise_filter import NoiseFilter, NoiseThresholds, get_noise_filter


@pytest.fixture
def nf() -> NoiseFilter:
    return get_noise_filter()


@pytest.mark.parametrize(
    "message",
    [
        "a",
        "k",
        "ok",
        "okay",
        "sure",
        "yep",
        "lol",
        "haha",
        "hmm",
        "hmmm",
        "umm",
        "?!",
        "...",
        "OK",
        "SURE",
        "hi",
        "hey!",
        "Got it",
        "k.",
        "ok!!",
        "👍",
        "👨\u200d👩\u200d👧",
        "👍🏽",
        "thanks",
        "thank you",
        "Thanks!",
        "ok thanks",
        "merci",
        "danke",
        "gracias",
        "??????!",
        "?.",
        "vale",
        "bye",
    ],
)
def test_tier1_filters_noise_with_an_acknowledgment(nf: NoiseFilter, message: str) -> None:
    verdict = nf.check(message)
    assert verdict.verdict == "filtered"
    assert verdict.reply


@pytest.mark.parametrize("message", ["", "   ", "\n\t"])
def test_blank_is_filtered_silently(nf: NoiseFilter, message: str) -> None:
    assert nf.check(message).verdict == "filtered"
    assert nf.check(message).reply == ""


@pytest.mark.parametrize(
    "message",
    [
        "How do I set up a PostgreSQL connection pool in Elixir?",
        "What is the best way to handle GenServer state?",
        "I need to refactor the payment service. It currently has N+1 query issues.",
        "1",
        "hello, can you restart nginx",
        "ok so what's next on the migration?",
    ],
)
def test_real_messages_pass(nf: NoiseFilter, message: str) -> None:
    assert nf.check(message).passed


def test_lone_question_mark_asks_for_clarification(nf: NoiseFilter) -> None:
    verdict = nf.check("?")
    assert verdict.verdict == "clarify"
    assert verdict.reply is not None and '"?"' in verdict.reply


def test_acknowledgments_are_deterministic(nf: NoiseFilter) -> None:
    assert {nf.check("ok").reply for _ in range(20)} == {nf.check("ok").reply}
    assert nf.check("thanks").reply in {"You're welcome.", "Happy to help.", "Any time."}


def test_tier2_filters_low_weight_agreement(nf: NoiseFilter) -> None:
    verdict = nf.check("yes I agree with that", 0.05, has_intent=False, words=5)
    assert verdict.verdict == "filtered"


def test_tier2_asks_about_vague_fragments(nf: NoiseFilter) -> None:
    verdict = nf.check("interesting approach", 0.45, has_intent=False, words=2)
    assert verdict.verdict == "clarify"
    assert verdict.reply is not None and "interesting approach" in verdict.reply
    assert "—" in verdict.reply


def test_tier2_never_filters_a_message_with_intent(nf: NoiseFilter) -> None:
    assert nf.check("what time is it in Tokyo?", 0.05, has_intent=True, words=6).passed


def test_tier2_passes_high_weight(nf: NoiseFilter) -> None:
    assert nf.check("Deploy the updated service to production now", 0.80, has_intent=False, words=7).passed


def test_thresholds_are_configurable() -> None:
    strict = NoiseFilter(NoiseThresholds(likely_noise=0.0, uncertain=0.0))
    assert strict.check("interesting approach", 0.45, has_intent=False, words=2).passed


@given(st.text(max_size=200))
def test_total_on_any_text(text: str) -> None:
    verdict = get_noise_filter().check(text)
    assert verdict.verdict in {"pass", "filtered", "clarify"}
    if verdict.verdict != "pass":
        assert verdict.reply is not None
