"""Retries, circuit breakers and fallback along the chain, with scripted providers and with a
loopback OpenAI-compatible double; a fake clock and a recorded sleep, so nothing waits."""

from __future__ import annotations

import json
import random
from collections.abc import Iterator
from decimal import Decimal
from typing import Any

import pytest
from aiohttp import web

from vaos.events import Event, EventBus
from vaos.providers.circuit_breaker import BreakerBoard
from vaos.providers.openai_compat import OpenAICompatProvider
from vaos.providers.registry import ProviderRegistry
from vaos.providers.testing import Fail, Hang, LoopbackServer, Reply, ScriptedProvider
from vaos.providers.types import Request, TextDelta, ToolCall, Usage
from vaos.routing import (
    BudgetExceededError,
    BudgetTracker,
    CallRunner,
    Finished,
    RetryPolicy,
    Route,
    RoutingDecision,
    RoutingError,
    StreamFailed,
    StreamInterruptedError,
)

REQUEST = Request.of("hello")


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


class Harness:
    def __init__(
        self,
        *providers: ScriptedProvider,
        budget: BudgetTracker | None = None,
        first_token_timeout: float = 5.0,
    ) -> None:
        self.clock = Clock()
        self.registry = ProviderRegistry(environ={}, breakers=BreakerBoard(clock=self.clock))
        for p in providers:
            self.registry.register(p.name, p)
        self.sleeps: list[float] = []
        self.bus = EventBus()
        self.events: list[Event] = []

        async def record(event: Event) -> None:
            self.events.append(event)

        self.bus.subscribe(record)

        async def sleep(seconds: float) -> None:
            self.sleeps.append(seconds)

        self.runner = CallRunner(
            self.registry,
            retry=RetryPolicy(max_attempts=3, base_delay=0.5, max_delay=8.0),
            bus=self.bus,
            budget=budget,
            sleep=sleep,
            rng=random.Random(7),
            first_token_timeout=first_token_timeout,
            idle_timeout=first_token_timeout,
        )

    def decision(self, *names: str, refused: str | None = None) -> RoutingDecision:
        chain = tuple(Route(n, f"{n}-model") for n in names)
        return RoutingDecision("specialist", chain, 0.5, 1, 100, 0.3, refused=refused)

    def types(self) -> list[str]:
        return [e.type for e in self.events]


async def test_success_reports_usage_cost_and_events() -> None:
    h = Harness(ScriptedProvider("a", [Reply("Hello world", usage=Usage(7, 3))]))
    result = await h.runner.complete(REQUEST, h.decision("a"))
    assert (result.completion.text, result.provider, result.model, result.tier) == (
        "Hello world",
        "a",
        "a-model",
        "specialist",
    )
    assert result.completion.usage == Usage(7, 3) and result.attempts == ()
    assert h.types()[0] == "llm_request" and h.types()[-1] == "llm_response"
    assert "llm_token" in h.types()
    sent = h.registry.get("a").requests[0]  # type: ignore[attr-defined]
    assert (sent.model, sent.max_tokens, sent.temperature) == ("a-model", 100, 0.3)


async def test_retryable_errors_are_retried_with_backoff_and_jitter() -> None:
    a = ScriptedProvider("a", [Fail("server", 500), Fail("rate_limited", 429), Reply("ok")])
    h = Harness(a)
    result = await h.runner.complete(REQUEST, h.decision("a"))
    assert result.completion.text == "ok" and a.calls == 3
    assert len(result.attempts) == 2
    first, second = h.sleeps
    assert 0.25 <= first <= 0.5 and 0.5 <= second <= 1.0  # equal jitter around 0.5 s, then 1 s


def test_retry_policy_rules() -> None:
    from vaos.providers.errors import ProviderError

    policy = RetryPolicy(max_attempts=3, base_delay=1.0, max_delay=3.0, max_retry_after=10)
    rng = random.Random(1)
    server = ProviderError("x", provider="p", kind="server")
    assert all(0.5 <= (policy.delay(1, server, rng) or 0) <= 1.0 for _ in range(50))
    capped = RetryPolicy(max_attempts=10, base_delay=1.0, max_delay=3.0)
    assert all(1.5 <= (capped.delay(6, server, rng) or 0) <= 3.0 for _ in range(50))
    assert policy.delay(3, server, rng) is None  # third attempt was the last
    assert policy.delay(1, ProviderError("x", provider="p", kind="auth"), rng) is None
    hinted = ProviderError("x", provider="p", kind="rate_limited", retry_after=4)
    assert policy.delay(1, hinted, rng) == 4
    too_long = ProviderError("x", provider="p", kind="rate_limited", retry_after=60)
    assert policy.delay(1, too_long, rng) is None


async def test_non_retryable_error_falls_back_at_once() -> None:
    a = ScriptedProvider("a", [Fail("auth", 401)])
    b = ScriptedProvider("b", [Reply("from b")])
    h = Harness(a, b)
    result = await h.runner.complete(REQUEST, h.decision("a", "b"))
    assert (result.provider, result.completion.text, a.calls, h.sleeps) == ("b", "from b", 1, [])
    assert result.attempts[0].error is not None and result.attempts[0].error.status == 401
    assert h.registry.get("b").requests[0].model == "b-model"  # type: ignore[attr-defined]


async def test_exhausted_retries_fall_back_and_all_failing_is_an_error() -> None:
    h = Harness(ScriptedProvider("a", [Fail("server")]), ScriptedProvider("b", [Fail("overloaded", 529)]))
    with pytest.raises(RoutingError, match="every provider failed") as info:
        await h.runner.complete(REQUEST, h.decision("a", "b"))
    assert len(info.value.attempts) == 6
    assert h.types()[-1] == "error"


async def test_breaker_opens_after_three_failures_and_skips_the_provider() -> None:
    a = ScriptedProvider("a", [Fail("server")])
    b = ScriptedProvider("b", [Reply("b")])
    h = Harness(a, b)
    h.runner.retry = RetryPolicy(max_attempts=1)
    for _ in range(3):
        await h.runner.complete(REQUEST, h.decision("a", "b"))
    assert a.calls == 3 and h.registry.breakers["a"].state == "open"
    result = await h.runner.complete(REQUEST, h.decision("a", "b"))
    assert a.calls == 3 and result.provider == "b"
    assert result.attempts[0].skipped and "circuit open" in result.attempts[0].skipped


async def test_half_open_sends_one_probe_then_closes() -> None:
    a = ScriptedProvider("a", [Fail("server"), Fail("server"), Fail("server"), Fail("server"), Reply("back")])
    b = ScriptedProvider("b", [Reply("b")])
    h = Harness(a, b)
    h.runner.retry = RetryPolicy(max_attempts=1)
    for _ in range(3):
        await h.runner.complete(REQUEST, h.decision("a", "b"))
    h.clock.now += 30
    probe = await h.runner.complete(REQUEST, h.decision("a", "b"))  # the probe fails: open again
    assert probe.provider == "b" and a.calls == 4 and h.registry.breakers["a"].state == "open"
    h.clock.now += 30
    healed = await h.runner.complete(REQUEST, h.decision("a", "b"))
    assert healed.provider == "a" and h.registry.breakers["a"].state == "closed"


async def test_concurrent_callers_see_a_single_probe() -> None:
    import asyncio

    gate = asyncio.Event()

    class Slow(ScriptedProvider):
        async def stream(self, request: Request) -> Any:  # type: ignore[override]
            await gate.wait()
            async for event in super().stream(request):
                yield event

    a = Slow("a", [Reply("a")])
    h = Harness(a, ScriptedProvider("b", [Reply("b")]))
    breaker = h.registry.breakers["a"]
    for _ in range(3):
        breaker.record_failure()
    h.clock.now += 30
    first = asyncio.create_task(h.runner.complete(REQUEST, h.decision("a", "b")))
    await asyncio.sleep(0)
    second = await h.runner.complete(REQUEST, h.decision("a", "b"))
    gate.set()
    assert second.provider == "b" and (await first).provider == "a"
    assert breaker.state == "closed"


async def test_rate_limit_hint_keeps_the_provider_out() -> None:
    a = ScriptedProvider("a", [Fail("rate_limited", 429, retry_after=60)])
    h = Harness(a, ScriptedProvider("b", [Reply("b")]))
    result = await h.runner.complete(REQUEST, h.decision("a", "b"))
    assert result.provider == "b" and h.sleeps == [] and a.calls == 1
    again = await h.runner.complete(REQUEST, h.decision("a", "b"))
    assert a.calls == 1 and "rate limited" in (again.attempts[0].skipped or "")


async def test_stream_failing_before_first_token_falls_back_invisibly() -> None:
    h = Harness(
        ScriptedProvider("a", [Fail("stream_cut")]), ScriptedProvider("b", [Reply("Hello", chunks=2)])
    )
    h.runner.retry = RetryPolicy(max_attempts=1)
    events = [e async for e in h.runner.stream(REQUEST, h.decision("a", "b"))]
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert isinstance(events[-1], Finished) and events[-1].result.provider == "b"


async def test_stream_failing_after_first_token_ends_with_an_error_event() -> None:
    a = ScriptedProvider("a", [Fail("stream_cut", after_tokens=2)])
    b = ScriptedProvider("b", [Reply("never")])
    h = Harness(a, b)
    events = [e async for e in h.runner.stream(REQUEST, h.decision("a", "b"))]
    failed = events[-1]
    assert isinstance(failed, StreamFailed)
    assert (failed.partial, failed.provider, failed.error.kind) == ("t0 t1 ", "a", "stream_cut")
    assert b.calls == 0 and a.calls == 1  # nothing replayed once text was shown
    assert h.events[-1].type == "error" and h.events[-1].data["kind"] == "stream_interrupted"
    with pytest.raises(StreamInterruptedError):
        await h.runner.complete(REQUEST, h.decision("a", "b"))


async def test_first_token_timeout_moves_on() -> None:
    h = Harness(
        ScriptedProvider("a", [Hang()]), ScriptedProvider("b", [Reply("b")]), first_token_timeout=0.05
    )
    h.runner.retry = RetryPolicy(max_attempts=1)
    result = await h.runner.complete(REQUEST, h.decision("a", "b"))
    assert result.provider == "b"
    error = result.attempts[0].error
    assert error is not None and error.kind == "timeout" and "first token" in error.message


async def test_consumer_closing_early_releases_the_probe() -> None:
    a = ScriptedProvider("a", [Reply("Hello there", chunks=5)])
    h = Harness(a)
    breaker = h.registry.breakers["a"]
    for _ in range(3):
        breaker.record_failure()
    h.clock.now += 30
    stream = h.runner.stream(REQUEST, h.decision("a"))
    async for _event in stream:
        break
    await stream.aclose()  # type: ignore[attr-defined]
    assert breaker.available()  # the probe slot is free again


async def test_budget_refusal_and_recording(tmp_path: Any) -> None:
    budget = BudgetTracker(daily_limit_usd=1.0, path=tmp_path / "calls.jsonl")
    h = Harness(ScriptedProvider("a", [Reply("x", usage=Usage(1000, 100))]), budget=budget)
    with pytest.raises(BudgetExceededError):
        await h.runner.complete(REQUEST, h.decision("a", refused="daily budget spent"))
    await h.runner.complete(REQUEST, h.decision("a"), session_id="s")
    rows = [json.loads(line) for line in (tmp_path / "calls.jsonl").read_text().splitlines()]
    assert rows[-1]["provider"] == "a" and rows[-1]["input_tokens"] == 1000 and rows[-1]["session_id"] == "s"


async def test_tool_calls_pass_through() -> None:
    call = ToolCall("c1", "get_weather", {"city": "Paris"})
    h = Harness(ScriptedProvider("a", [Reply("", tool_calls=[call])]))
    result = await h.runner.complete(REQUEST, h.decision("a"))
    assert result.completion.tool_calls == (call,) and result.completion.finish_reason == "tool_calls"


# -- with a real wire format ---------------------------------------------------------------


def failing_then_ok_app(statuses: list[int]) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if statuses:
            status = statuses.pop(0)
            return web.json_response({"error": {"message": f"status {status}"}}, status=status)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for delta, finish in (({"content": "Hi"}, None), ({}, "stop")):
            chunk = {"id": "1", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        tokens = {"prompt_tokens": 1000, "completion_tokens": 10, "total_tokens": 1010}
        usage = {
            "id": "1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": body["model"],
            "choices": [],
        }
        usage["usage"] = tokens
        await response.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
        return response

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    return app


@pytest.fixture
def flaky_server() -> Iterator[tuple[str, list[int]]]:
    statuses = [500, 503]
    with LoopbackServer(failing_then_ok_app(statuses)) as server:
        yield server.url, statuses


async def test_retries_against_a_loopback_openai_double(flaky_server: tuple[str, list[int]]) -> None:
    url, statuses = flaky_server
    h = Harness()
    provider = OpenAICompatProvider("openai", base_url=url + "/v1", api_key="k")
    h.registry.register("openai", provider)
    try:
        decision = RoutingDecision("utility", (Route("openai", "gpt-4o-mini"),), 0.2, 1, 50, 0.2)
        result = await h.runner.complete(REQUEST, decision)
    finally:
        await provider.aclose()
    assert result.completion.text == "Hi" and statuses == []
    assert [a.error.status for a in result.attempts if a.error] == [500, 503]
    assert result.cost_usd is not None and result.cost_usd > Decimal(0)  # priced by genai-prices, offline
