"""Cohere's v2 Chat API against a loopback double (JSON and typed SSE events)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from provider_doubles import cut, events_until_error, failure, hang, run, sse, start_stream

from vaos.providers.cohere_chat import CohereProvider
from vaos.providers.types import Request, TextDelta, ToolSpec

KEY = "co-key"
WEATHER = ToolSpec("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})
USAGE = {
    "billed_units": {"input_tokens": 8, "output_tokens": 3},
    "tokens": {"input_tokens": 20, "output_tokens": 3},
}


def cohere_app(seen: list[dict[str, Any]]) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seen.append(body)
        model = body["model"]
        if request.headers.get("authorization") != f"Bearer {KEY}":
            return web.json_response({"id": "x", "message": "invalid api token"}, status=401)
        if model in ("e429", "e500", "e422"):
            status = int(model[1:])
            return web.json_response({"id": "x", "message": f"status {status}"}, status=status)
        if model == "hang":
            await hang()
        tools = model == "tools"
        if not body["stream"]:
            message: dict[str, Any] = {
                "role": "assistant",
                "content": [{"type": "text", "text": "Hello there"}],
            }
            if tools:
                fn = {"name": "get_weather", "arguments": '{"city":"Paris"}'}
                message = {
                    "role": "assistant",
                    "tool_plan": "look up",
                    "tool_calls": [{"id": "tc1", "type": "function", "function": fn}],
                }
            finish = "TOOL_CALL" if tools else "COMPLETE"
            return web.json_response(
                {"id": "r1", "finish_reason": finish, "message": message, "usage": USAGE}
            )
        if model == "cut-before":
            return await cut(request)
        response = await start_stream(request)
        await response.write(
            sse(
                {"type": "message-start", "id": "r1", "delta": {"message": {"role": "assistant"}}},
                "message-start",
            )
        )
        if tools:
            start = {"id": "tc1", "type": "function", "function": {"name": "get_weather", "arguments": ""}}
            await response.write(
                sse(
                    {"type": "tool-call-start", "index": 0, "delta": {"message": {"tool_calls": start}}},
                    "tool-call-start",
                )
            )
            for part in ('{"city"', ':"Paris"}'):
                delta = {"message": {"tool_calls": {"function": {"arguments": part}}}}
                await response.write(
                    sse({"type": "tool-call-delta", "index": 0, "delta": delta}, "tool-call-delta")
                )
            await response.write(sse({"type": "tool-call-end", "index": 0}, "tool-call-end"))
            finish = "TOOL_CALL"
        else:
            await response.write(
                sse(
                    {
                        "type": "content-start",
                        "index": 0,
                        "delta": {"message": {"content": {"type": "text", "text": ""}}},
                    },
                    "content-start",
                )
            )
            for piece in ("Hel", "lo"):
                delta = {"message": {"content": {"text": piece}}}
                await response.write(
                    sse({"type": "content-delta", "index": 0, "delta": delta}, "content-delta")
                )
                if model == "cut-after":
                    return await cut(request)
            await response.write(sse({"type": "content-end", "index": 0}, "content-end"))
            finish = "COMPLETE"
        end = {"type": "message-end", "delta": {"finish_reason": finish, "usage": USAGE}}
        await response.write(sse(end, "message-end"))
        return response

    app = web.Application()
    app.router.add_post("/v2/chat", chat)
    return app


@pytest.fixture
async def double(
    serve: Callable[[web.Application], str],
) -> AsyncIterator[tuple[CohereProvider, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    provider = CohereProvider(
        api_key=KEY, base_url=serve(cohere_app(seen)) + "/v2", default_model="m", timeout=1.0
    )
    yield provider, seen
    await provider.aclose()


@pytest.mark.parametrize("streaming", [False, True])
async def test_text_and_usage(double: Any, streaming: bool) -> None:
    provider, seen = double
    result = await run(provider, Request.of("hi", system="brief", max_tokens=9), streaming)
    assert result.text == ("Hello" if streaming else "Hello there")
    assert (result.usage.input_tokens, result.usage.output_tokens, result.finish_reason) == (20, 3, "stop")
    assert seen[0]["messages"] == [{"role": "system", "content": "brief"}, {"role": "user", "content": "hi"}]
    assert (seen[0]["max_tokens"], seen[0]["stream"]) == (9, streaming)


async def test_stream_deltas(double: Any) -> None:
    provider, _ = double
    events, error = await events_until_error(provider, Request.of("hi"))
    assert error is None
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]


@pytest.mark.parametrize("streaming", [False, True])
async def test_tool_calls(double: Any, streaming: bool) -> None:
    provider, seen = double
    result = await run(provider, Request.of("w?", model="tools", tools=(WEATHER,)), streaming)
    assert [(c.id, c.name, c.arguments) for c in result.tool_calls] == [
        ("tc1", "get_weather", {"city": "Paris"})
    ]
    assert seen[0]["tools"][0]["function"]["name"] == "get_weather"


async def test_json_schema_is_a_response_format(double: Any) -> None:
    provider, seen = double
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    await provider.complete(Request.of("x", json_schema=schema))
    assert seen[0]["response_format"] == {"type": "json_object", "json_schema": schema}


@pytest.mark.parametrize(
    ("model", "kind", "retryable"),
    [("e422", "bad_request", False), ("e429", "rate_limited", True), ("e500", "server", True)],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_errors(double: Any, model: str, kind: str, retryable: bool, streaming: bool) -> None:
    provider, _ = double
    err = await failure(provider, Request.of("x", model=model), streaming)
    assert (err.kind, err.status, err.retryable, err.message) == (
        kind,
        int(model[1:]),
        retryable,
        f"status {model[1:]}",
    )


async def test_bad_key(serve: Callable[[web.Application], str]) -> None:
    provider = CohereProvider(api_key="nope", base_url=serve(cohere_app([])) + "/v2", default_model="m")
    try:
        err = await failure(provider, Request.of("x"), True)
    finally:
        await provider.aclose()
    assert (err.kind, err.status) == ("auth", 401)


async def test_hung_and_cut(double: Any) -> None:
    provider, _ = double
    assert (await failure(provider, Request.of("x", model="hang"), False)).kind == "timeout"
    assert (await failure(provider, Request.of("x", model="cut-before"), True)).retryable
    events, error = await events_until_error(provider, Request.of("x", model="cut-after"))
    assert events == [TextDelta("Hel")]
    assert error is not None and error.kind == "stream_cut"
