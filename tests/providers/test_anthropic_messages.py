"""Anthropic's Messages API (through the ``anthropic`` SDK, an optional extra) against a
loopback double that speaks its JSON and SSE wire format."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from provider_doubles import cut, events_until_error, failure, hang, run, sse, start_stream

from vaos.providers.types import Message, Request, TextDelta, ToolCall, ToolCallEvent, ToolSpec

pytest.importorskip("anthropic", reason="the anthropic extra is not installed (uv sync --extra anthropic)")

from vaos.providers.anthropic_messages import AnthropicProvider

KEY = "ant-key"
WEATHER = ToolSpec("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})


def anthropic_app(seen: list[dict[str, Any]]) -> web.Application:
    async def messages(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seen.append({"body": body, "headers": dict(request.headers)})
        model = body["model"]
        if KEY not in (
            request.headers.get("x-api-key"),
            request.headers.get("authorization", "").removeprefix("Bearer "),
        ):
            return web.json_response(
                {"type": "error", "error": {"type": "authentication_error", "message": "invalid x-api-key"}},
                status=401,
            )
        errors = {
            "e429": (429, "rate_limit_error"),
            "e529": (529, "overloaded_error"),
            "e400": (400, "invalid_request_error"),
        }
        if model in errors:
            status, kind = errors[model]
            headers = {"retry-after": "3"} if status == 429 else {}
            return web.json_response(
                {"type": "error", "error": {"type": kind, "message": f"{kind} happened"}},
                status=status,
                headers=headers,
            )
        if model == "hang":
            await hang()
        structured = body.get("tool_choice", {}).get("type") == "tool"
        tool_input = {"mode": "build"} if structured else {"city": "Paris"}
        use_tool = model == "tools" or structured
        tool_name = body["tools"][0]["name"] if use_tool else ""
        if not body.get("stream"):
            content: list[dict[str, Any]] = [{"type": "text", "text": "Hello there"}]
            if use_tool:
                content = [{"type": "tool_use", "id": "toolu_1", "name": tool_name, "input": tool_input}]
            return web.json_response(
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": content,
                    "stop_reason": "tool_use" if use_tool else "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 11, "output_tokens": 4, "cache_read_input_tokens": 2},
                }
            )
        if model == "cut-before":
            return await cut(request)
        response = await start_stream(request)
        start = {
            "type": "message_start",
            "message": {
                "id": "msg_1",
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": [],
                "stop_reason": None,
                "stop_sequence": None,
                "usage": {"input_tokens": 11, "output_tokens": 1},
            },
        }
        await response.write(sse(start, "message_start"))
        await response.write(sse({"type": "ping"}, "ping"))
        if use_tool:
            block = {"type": "tool_use", "id": "toolu_1", "name": tool_name, "input": {}}
            await response.write(
                sse(
                    {"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start"
                )
            )
            text = json.dumps(tool_input)
            for part in (text[:5], text[5:]):
                delta = {"type": "input_json_delta", "partial_json": part}
                await response.write(
                    sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
                )
        else:
            block = {"type": "text", "text": ""}
            await response.write(
                sse(
                    {"type": "content_block_start", "index": 0, "content_block": block}, "content_block_start"
                )
            )
            for piece in ("Hel", "lo"):
                delta = {"type": "text_delta", "text": piece}
                await response.write(
                    sse({"type": "content_block_delta", "index": 0, "delta": delta}, "content_block_delta")
                )
                if model == "cut-after":
                    return await cut(request)
                if model == "error-after":
                    error = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
                    await response.write(sse(error, "error"))
                    return response
        await response.write(sse({"type": "content_block_stop", "index": 0}, "content_block_stop"))
        stop = "tool_use" if use_tool else "end_turn"
        delta_event = {
            "type": "message_delta",
            "delta": {"stop_reason": stop, "stop_sequence": None},
            "usage": {"output_tokens": 4},
        }
        await response.write(sse(delta_event, "message_delta"))
        await response.write(sse({"type": "message_stop"}, "message_stop"))
        return response

    app = web.Application()
    app.router.add_post("/v1/messages", messages)
    return app


@pytest.fixture
async def double(
    serve: Callable[[web.Application], str],
) -> AsyncIterator[tuple[AnthropicProvider, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    provider = AnthropicProvider(
        api_key=KEY, base_url=serve(anthropic_app(seen)), default_model="m", timeout=1.0
    )
    yield provider, seen
    await provider.aclose()


@pytest.mark.parametrize("streaming", [False, True])
async def test_text_usage_and_request_shape(double: Any, streaming: bool) -> None:
    provider, seen = double
    result = await run(provider, Request.of("hi", system="be brief", max_tokens=50), streaming)
    assert (result.text, result.finish_reason, result.usage.input_tokens, result.usage.output_tokens) == (
        "Hello there" if not streaming else "Hello",
        "stop",
        11,
        4,
    )
    body = seen[0]["body"]
    assert body["system"] == "be brief"
    assert body["messages"] == [{"role": "user", "content": "hi"}]
    assert body["max_tokens"] == 50
    assert seen[0]["headers"]["anthropic-version"]


async def test_stream_deltas_and_tool_use(double: Any) -> None:
    provider, seen = double
    events, error = await events_until_error(
        provider, Request.of("weather?", model="tools", tools=(WEATHER,))
    )
    assert error is None
    assert [e.call for e in events if isinstance(e, ToolCallEvent)] == [
        ToolCall("toolu_1", "get_weather", {"city": "Paris"})
    ]
    assert events[-1].completion.finish_reason == "tool_calls"
    assert seen[0]["body"]["tools"][0]["input_schema"]["properties"]["city"] == {"type": "string"}
    text_events, _ = await events_until_error(provider, Request.of("hi"))
    assert [e.text for e in text_events if isinstance(e, TextDelta)] == ["Hel", "lo"]


async def test_tool_results_become_tool_result_blocks(double: Any) -> None:
    provider, seen = double
    call = ToolCall("toolu_1", "get_weather", {"city": "Paris"})
    await provider.complete(
        Request(
            (Message.user("w?"), Message.assistant("", [call]), Message.tool_result(call, "sunny")), model="m"
        )
    )
    messages = seen[0]["body"]["messages"]
    assert messages[1]["content"] == [
        {"type": "tool_use", "id": "toolu_1", "name": "get_weather", "input": {"city": "Paris"}}
    ]
    assert messages[2] == {
        "role": "user",
        "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": "sunny"}],
    }


@pytest.mark.parametrize("streaming", [False, True])
async def test_json_schema_through_a_forced_tool(double: Any, streaming: bool) -> None:
    provider, seen = double
    schema = {"type": "object", "properties": {"mode": {"type": "string"}}}
    result = await run(provider, Request.of("classify", json_schema=schema), streaming)
    assert json.loads(result.text) == {"mode": "build"}
    assert seen[0]["body"]["tool_choice"] == {"type": "tool", "name": "answer"}


@pytest.mark.parametrize(
    ("model", "kind", "status", "retryable"),
    [
        ("e400", "bad_request", 400, False),
        ("e429", "rate_limited", 429, True),
        ("e529", "overloaded", 529, True),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_errors(
    double: Any, model: str, kind: str, status: int, retryable: bool, streaming: bool
) -> None:
    provider, _ = double
    err = await failure(provider, Request.of("x", model=model), streaming)
    assert (err.kind, err.status, err.retryable) == (kind, status, retryable)
    if status == 429:
        assert err.retry_after == 3.0


async def test_bad_key(serve: Callable[[web.Application], str]) -> None:
    provider = AnthropicProvider(api_key="nope", base_url=serve(anthropic_app([])), default_model="m")
    try:
        err = await failure(provider, Request.of("x"), False)
    finally:
        await provider.aclose()
    assert (err.kind, err.status, err.retryable) == ("auth", 401, False)


async def test_hung_and_cut_streams(double: Any) -> None:
    provider, _ = double
    assert (await failure(provider, Request.of("x", model="hang"), True)).kind == "timeout"
    assert (await failure(provider, Request.of("x", model="cut-before"), True)).retryable
    events, error = await events_until_error(provider, Request.of("x", model="cut-after"))
    assert events == [TextDelta("Hel")]
    assert error is not None and (error.kind, error.retryable) == ("stream_cut", True)


async def test_error_event_inside_the_stream(double: Any) -> None:
    provider, _ = double
    events, error = await events_until_error(provider, Request.of("x", model="error-after"))
    assert events == [TextDelta("Hel")]
    assert error is not None and (error.kind, error.retryable) == ("overloaded", True)
