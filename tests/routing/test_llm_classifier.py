"""The LLM classifier: JSON-schema request on the utility tier, cache by intent hash,
timeout, and the deterministic fallback through SignalService."""

from __future__ import annotations

import asyncio
import json

import pytest

from vaos.providers.types import Completion, Request
from vaos.signal.classifier import DeterministicClassifier
from vaos.signal.llm_classifier import SCHEMA, LLMSignalClassifier, parse_reply
from vaos.signal.service import SignalService

TEXT = "hmm the thing with the stuff from before"


def reply(data: object) -> Completion:
    return Completion(json.dumps(data), "fake", "fake-model")


class Caller:
    def __init__(self, *answers: Completion | BaseException, delay: float = 0.0) -> None:
        self.answers = list(answers)
        self.requests: list[Request] = []
        self.delay = delay

    async def __call__(self, request: Request) -> Completion:
        self.requests.append(request)
        if self.delay:
            await asyncio.sleep(self.delay)
        answer = self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]
        if isinstance(answer, BaseException):
            raise answer
        return answer


GOOD = reply({"mode": "analyze", "genre": "direct", "type": "question", "weight": 0.8})


async def test_classifies_with_a_schema_request_and_keeps_deterministic_fields() -> None:
    hint = DeterministicClassifier().classify(TEXT)
    caller = Caller(GOOD)
    signal = await LLMSignalClassifier(caller).classify(TEXT, hint)
    assert (signal.mode, signal.genre, signal.type, signal.weight, signal.tier) == (
        "analyze",
        "direct",
        "question",
        0.8,
        "elite",
    )
    assert (signal.classifier, signal.intent_hash, signal.format) == ("llm", hint.intent_hash, hint.format)
    request = caller.requests[0]
    assert request.json_schema == SCHEMA and request.temperature == 0.0 and request.max_tokens == 80
    assert json.dumps(TEXT) in request.messages[-1].content


async def test_cached_by_intent_hash_with_a_ttl() -> None:
    now = [0.0]
    hint = DeterministicClassifier().classify(TEXT)
    caller = Caller(GOOD)
    classifier = LLMSignalClassifier(caller, ttl=60, clock=lambda: now[0])
    await classifier.classify(TEXT, hint)
    await classifier.classify(TEXT, hint)
    assert len(caller.requests) == 1
    now[0] = 61
    await classifier.classify(TEXT, hint)
    assert len(caller.requests) == 2


async def test_cache_is_bounded() -> None:
    classifier = LLMSignalClassifier(Caller(GOOD), cache_size=2)
    det = DeterministicClassifier()
    for text in ("one thing", "two things", "three things"):
        await classifier.classify(text, det.classify(text))
    assert len(classifier._cache) == 2


@pytest.mark.parametrize(
    "text",
    [
        "not json",
        '{"mode": "dance", "genre": "direct", "type": "question", "weight": 0.5}',
        '{"mode": "build", "genre": "direct", "type": "question", "weight": "0.5"}',
        "[1, 2]",
    ],
)
def test_replies_outside_the_contract_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):  # noqa: PT011
        parse_reply(text, DeterministicClassifier().classify(TEXT))


def test_fenced_reply_and_clamped_weight() -> None:
    hint = DeterministicClassifier().classify(TEXT)
    signal = parse_reply(
        '```json\n{"mode": "build", "genre": "inform", "type": "request", "weight": 7}\n```', hint
    )
    assert (signal.mode, signal.weight) == ("build", 1.0)


async def test_service_falls_back_on_errors_and_timeouts() -> None:
    det = DeterministicClassifier()
    expected = det.classify(TEXT)
    for caller in (Caller(RuntimeError("provider down")), Caller(reply("garbage")), Caller(GOOD, delay=1.0)):
        service = SignalService(llm=LLMSignalClassifier(caller, timeout=0.05), deterministic=det)
        signal = await service.classify(TEXT, use_llm=True)
        assert signal == expected and signal.classifier == "deterministic"


async def test_service_uses_the_llm_only_when_unsure() -> None:
    det = DeterministicClassifier()
    caller = Caller(GOOD)
    service = SignalService(llm=LLMSignalClassifier(caller), deterministic=det, llm_below="low")
    sure = "Please deploy the payments service to production now."
    assert det.classify(sure).confidence != "low"
    assert (await service.classify(sure)).classifier == "deterministic"
    assert caller.requests == []
