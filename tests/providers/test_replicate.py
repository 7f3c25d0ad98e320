"""Replicate's predictions API against a loopback double: create, SSE output stream, polling."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from provider_doubles import cut, events_until_error, failure, hang, sse, start_stream

from vaos.providers.replicate import ReplicateProvider
from vaos.providers.types import Request, TextDelta, ToolSpec

KEY = "r8-key"
WEATHER = ToolSpec("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})


def replicate_app(seen: list[dict[str, Any]], base: list[str]) -> web.Application:
    polls: dict[str, int] = {}

    def prediction(pid: str, status: str, output: Any = None) -> dict[str, Any]:
        return {
            "id": pid,
            "status": status,
            "output": output,
            "error": "model crashed" if status == "failed" else None,
            "urls": {"get": f"{base[0]}/v1/predictions/{pid}", "stream": f"{base[0]}/stream/{pid}"},
            "metrics": {"input_token_count": 6, "output_token_count": 2} if status == "succeeded" else {},
        }

    async def create(request: web.Request) -> web.Response:
        body = await request.json()
        model = f"{request.match_info['owner']}/{request.match_info['name']}"
        seen.append({"model": model, "body": body, "prefer": request.headers.get("prefer")})
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return web.json_response(
                {
                    "title": "Unauthenticated",
                    "detail": "You did not pass a valid authentication token",
                    "status": 401,
                },
                status=401,
            )
        if model == "x/e429":
            return web.json_response(
                {"detail": "Request was throttled.", "status": 429}, status=429, headers={"Retry-After": "1"}
            )
        if model == "x/hang":
            await hang()
        pid = model.replace("/", "-")
        if model == "x/tools":
            return web.json_response(
                prediction(pid, "succeeded", ['{"tool": "get_weather", ', '"arguments": {"city": "Paris"}}']),
                status=201,
            )
        if model == "x/poll" or model == "x/fail":
            polls[pid] = 0
            return web.json_response(prediction(pid, "starting"), status=201)
        return web.json_response(
            prediction(pid, "succeeded" if not body.get("stream") else "starting", ["Hello", " there"]),
            status=201,
        )

    async def get(request: web.Request) -> web.Response:
        pid = request.match_info["pid"]
        polls[pid] = polls.get(pid, 0) + 1
        if polls[pid] < 2:
            return web.json_response(prediction(pid, "processing"))
        if pid == "x-fail":
            return web.json_response(prediction(pid, "failed"))
        return web.json_response(prediction(pid, "succeeded", ["Hel", "lo"]))

    async def stream(request: web.Request) -> web.StreamResponse:
        pid = request.match_info["pid"]
        if pid == "x-cut-before":
            return await cut(request)
        response = await start_stream(request)
        for piece in ("Hel", "lo"):
            await response.write(sse(piece, "output"))
            if pid == "x-cut-after":
                return await cut(request)
            if pid == "x-error":
                await response.write(sse({"detail": "CUDA out of memory"}, "error"))
                return response
        await response.write(sse("{}", "done"))
        return response

    app = web.Application()
    app.router.add_post("/v1/models/{owner}/{name}/predictions", create)
    app.router.add_get("/v1/predictions/{pid}", get)
    app.router.add_get("/stream/{pid}", stream)
    return app


@pytest.fixture
async def double(
    serve: Callable[[web.Application], str],
) -> AsyncIterator[tuple[ReplicateProvider, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    base: list[str] = []
    app = replicate_app(seen, base)
    base.append(serve(app))
    sleeps: list[float] = []

    async def no_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    provider = ReplicateProvider(
        api_key=KEY, base_url=base[0] + "/v1", default_model="x/ok", timeout=1.0, sleep=no_sleep, max_polls=5
    )
    yield provider, seen
    await provider.aclose()


async def test_complete_waits_and_joins_output(double: Any) -> None:
    provider, seen = double
    result = await provider.complete(Request.of("hi", system="brief", max_tokens=12))
    assert (result.text, result.usage.input_tokens, result.usage.output_tokens) == ("Hello there", 6, 2)
    body = seen[0]["body"]
    assert body["input"]["system_prompt"] == "brief"
    assert body["input"]["prompt"] == "User: hi\nAssistant:"
    assert body["input"]["max_tokens"] == 12
    assert seen[0]["prefer"] == "wait=60"


async def test_complete_polls_until_done(double: Any) -> None:
    provider, _ = double
    result = await provider.complete(Request.of("hi", model="x/poll"))
    assert result.text == "Hello"


async def test_failed_prediction_is_an_error(double: Any) -> None:
    provider, _ = double
    err = await failure(provider, Request.of("hi", model="x/fail"), False)
    assert err.kind == "server" and "model crashed" in err.message


async def test_stream_reads_the_sse_output(double: Any) -> None:
    provider, seen = double
    events, error = await events_until_error(provider, Request.of("hi"))
    assert error is None
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]
    assert events[-1].completion.text == "Hello"
    assert seen[0]["body"]["stream"] is True


async def test_tool_calls_through_the_json_contract(double: Any) -> None:
    provider, seen = double
    result = await provider.complete(Request.of("w?", model="x/tools", tools=(WEATHER,)))
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert result.finish_reason == "tool_calls"
    assert "get_weather" in seen[0]["body"]["input"]["system_prompt"]


async def test_errors_hangs_and_cuts(double: Any) -> None:
    provider, _ = double
    limited = await failure(provider, Request.of("x", model="x/e429"), False)
    assert (limited.kind, limited.status, limited.retry_after) == ("rate_limited", 429, 1.0)
    assert (await failure(provider, Request.of("x", model="x/hang"), True)).kind == "timeout"
    assert (await failure(provider, Request.of("x", model="x/cut-before"), True)).retryable
    events, error = await events_until_error(provider, Request.of("x", model="x/cut-after"))
    assert events == [TextDelta("Hel")] and error is not None and error.kind == "stream_cut"
    events, error = await events_until_error(provider, Request.of("x", model="x/error"))
    assert error is not None and "CUDA" in error.message


async def test_bad_key(serve: Callable[[web.Application], str]) -> None:
    base: list[str] = []
    app = replicate_app([], base)
    base.append(serve(app))
    provider = ReplicateProvider(api_key="nope", base_url=base[0] + "/v1", default_model="x/ok")
    try:
        err = await failure(provider, Request.of("x"), False)
    finally:
        await provider.aclose()
    assert (err.kind, err.status) == ("auth", 401)
    assert "valid authentication token" in err.message
