"""The LLM classifier: asks a utility-tier model for the signal as JSON-schema output.

It implements ``vaos.signal.service.LLMClassifier``. Answers are cached by intent hash
(bounded, with a time to live), every call is bounded by a timeout, and any failure raises
so that ``SignalService`` keeps the deterministic signal. Only mode, genre, type and weight
come from the model; format, noise verdict and intent hash stay the deterministic ones.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from vaos.signal.models import GENRES, MODES, TYPES, Signal
from vaos.tiers import tier_for_weight

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.providers.types import Completion, Request

Caller = Callable[["Request"], Awaitable["Completion"]]

MAX_MESSAGE_CHARS = 1000
DEFAULT_TIMEOUT = 8.0
DEFAULT_CACHE_SIZE = 500
DEFAULT_TTL = 600.0

SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "mode": {"type": "string", "enum": list(MODES)},
        "genre": {"type": "string", "enum": list(GENRES)},
        "type": {"type": "string", "enum": list(TYPES)},
        "weight": {"type": "number", "minimum": 0, "maximum": 1},
    },
    "required": ["mode", "genre", "type", "weight"],
    "additionalProperties": False,
}

SYSTEM_PROMPT = """You classify one message for a routing system. Answer with one JSON object only:
{"mode": ..., "genre": ..., "type": ..., "weight": ...}

mode, the action the sender wants:
- execute: something done now (run, send, deploy, delete, sync)
- build: something new created (create, write, generate, implement, design)
- analyze: insight (analyze, compare, report on, explain why something happened)
- maintain: something fixed or updated (fix, update, migrate, patch, upgrade, debug)
- assist: help or guidance (explain, how do I, what is, teach)
Judge the main intent, not single words: "Help me build a parser" is build.

genre, what the message does: direct (asks or orders), inform (gives facts or status),
commit (promises: "I will"), decide (approves, rejects, chooses), express (thanks, praise, frustration).

type: question, request, issue (a problem report), scheduling, summary, report, or general.

weight, how much the message deserves from 0.0 to 1.0: 0.0-0.2 noise or filler,
0.3-0.5 small talk and simple replies, 0.5-0.7 ordinary questions and requests,
0.7-0.9 complex or technical multi-part work, 0.9-1.0 urgent production problems."""


class LLMSignalClassifier:
    """``classify(text, hint)`` through ``caller`` (a function that runs one request)."""

    def __init__(
        self,
        caller: Caller,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        cache_size: int = DEFAULT_CACHE_SIZE,
        ttl: float = DEFAULT_TTL,
        clock: Callable[[], float] = time.monotonic,
        close: Callable[[], Awaitable[None]] | None = None,
    ) -> None:
        self._caller = caller
        self.timeout = timeout
        self.cache_size = cache_size
        self.ttl = ttl
        self._clock = clock
        self._close = close
        self._cache: OrderedDict[str, tuple[float, Signal]] = OrderedDict()
        self.calls = 0

    def request(self, text: str) -> Request:
        from vaos.providers.types import Request

        message = text[:MAX_MESSAGE_CHARS]
        return Request.of(
            "Message to classify (a JSON string):\n" + json.dumps(message, ensure_ascii=False),
            system=SYSTEM_PROMPT,
            json_schema=SCHEMA,
            temperature=0.0,
            max_tokens=80,
            timeout=self.timeout,
        )

    def _cached(self, key: str) -> Signal | None:
        entry = self._cache.get(key)
        if entry is None:
            return None
        stored, signal = entry
        if self._clock() - stored > self.ttl:
            del self._cache[key]
            return None
        self._cache.move_to_end(key)
        return signal

    def _store(self, key: str, signal: Signal) -> None:
        self._cache[key] = (self._clock(), signal)
        self._cache.move_to_end(key)
        while len(self._cache) > self.cache_size:
            self._cache.popitem(last=False)

    async def classify(self, text: str, hint: Signal) -> Signal:
        cached = self._cached(hint.intent_hash)
        if cached is not None:
            return replace(cached, noise=hint.noise, format=hint.format)
        self.calls += 1
        async with asyncio.timeout(self.timeout):
            completion = await self._caller(self.request(text))
        signal = parse_reply(completion.text, hint)
        self._store(hint.intent_hash, signal)
        return signal

    async def aclose(self) -> None:
        if self._close is not None:
            await self._close()


def parse_reply(text: str, hint: Signal) -> Signal:
    """The signal in a model's reply; ``ValueError`` when the reply is not the contract."""
    body = text.strip()
    if body.startswith("```"):
        body = body.strip("`").removeprefix("json").strip()
    start, end = body.find("{"), body.rfind("}")
    if start == -1 or end < start:
        raise ValueError("the reply holds no JSON object")
    data = json.loads(body[start : end + 1])
    if not isinstance(data, dict):
        raise ValueError("the reply is not a JSON object")
    mode = str(data.get("mode", "")).strip().lower()
    genre = str(data.get("genre", "")).strip().lower()
    kind = str(data.get("type", "")).strip().lower()
    if mode not in MODES or genre not in GENRES or kind not in TYPES:
        raise ValueError(f"labels outside the taxonomy: {mode!r}, {genre!r}, {kind!r}")
    raw = data.get("weight")
    if isinstance(raw, bool) or not isinstance(raw, int | float):
        raise ValueError(f"weight is not a number: {raw!r}")
    weight = round(min(1.0, max(0.0, float(raw))), 3)
    if not hint.noise.passed:
        weight = min(weight, hint.weight)
    return replace(
        hint,
        mode=mode,
        genre=genre,
        type=kind,
        weight=weight,
        tier=tier_for_weight(weight),
        confidence="medium",
        classifier="llm",
    )


def classifier_from_settings(settings: Settings) -> LLMSignalClassifier:
    """An LLM classifier on the utility tier of the configured chain, built lazily: nothing
    is imported or connected until the first message that needs it.
    """
    state: dict[str, Any] = {}

    async def caller(request: Request) -> Completion:
        routing = state.get("routing")
        if routing is None:
            from vaos.routing.wiring import build_routing

            routing = state["routing"] = build_routing(settings)
        decision = routing.router.decide(tier="utility")
        result = await routing.runner.complete(request, decision)
        return result.completion

    async def close() -> None:
        routing = state.pop("routing", None)
        if routing is not None:
            await routing.aclose()

    return LLMSignalClassifier(caller, close=close)
