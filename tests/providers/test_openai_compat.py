"""The OpenAI-compatible protocol against a loopback double of the Chat Completions API."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from provider_doubles import cut, events_until_error, failure, hang, sse, start_stream

from vaos.providers.errors import ProviderError
from vaos.providers.openai_compat import OpenAICompatProvider
from vaos.providers.types import Done, Message, Request, TextDelta, ToolCall, ToolCallEvent, ToolSpec

KEY = "test-key"
WEATHER = ToolSpec(
    "get_weather",
    "Current weather",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)


def chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def openai_app(seen: list[dict[str, Any]]) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seen.append({"body": body, "headers": dict(request.headers)})
        model = body["model"]
        if request.headers.get("Authorization") != f"Bearer {KEY}":
            return web.json_response(
                {"error": {"message": "Incorrect API key provided", "type": "invalid_request_error"}},
                status=401,
            )
        if model == "e400":
            return web.json_response(
                {"error": {"message": "bad messages", "type": "invalid_request_error"}}, status=400
            )
        if model == "e429":
            return web.json_response(
                {"error": {"message": "Rate limit reached", "type": "requests"}},
                status=429,
                headers={"Retry-After": "7"},
            )
        if model == "e500":
            return web.json_response({"error": {"message": "boom", "type": "server_error"}}, status=500)
        if model == "hang":
            await hang()
        if model == "slow":
            import asyncio

            await asyncio.sleep(0.3)
        tools = model == "tools"
        if not body.get("stream"):
            message: dict[str, Any] = {"role": "assistant", "content": None if tools else "Hello there"}
            if tools:
                message["tool_calls"] = [
                    {
                        "id": "call_1",
                        "type": "function",
                        "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                    }
                ]
            return web.json_response(
                {
                    "id": "chatcmpl-1",
                    "object": "chat.completion",
                    "created": 1,
                    "model": model,
                    "choices": [
                        {"index": 0, "message": message, "finish_reason": "tool_calls" if tools else "stop"}
                    ],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
                }
            )
        if model == "cut-before":
            return await cut(request)
        response = await start_stream(request)
        if model == "hang-mid":
            await response.write(sse(chunk(model, {"role": "assistant", "content": "Hel"})))
            await hang()
        if tools:
            call = {
                "index": 0,
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": ""},
            }
            await response.write(sse(chunk(model, {"role": "assistant", "tool_calls": [call]})))
            for part in ['{"ci', 'ty": "Pa', 'ris"}']:
                delta = {"tool_calls": [{"index": 0, "function": {"arguments": part}}]}
                await response.write(sse(chunk(model, delta)))
            await response.write(sse(chunk(model, {}, "tool_calls")))
        else:
            for piece in ["Hel", "lo", " there"]:
                await response.write(sse(chunk(model, {"content": piece})))
                if model == "cut-after":
                    return await cut(request)
            await response.write(sse(chunk(model, {}, "stop")))
        await response.write(
            sse(
                {
                    **chunk(model, {}),
                    "choices": [],
                    "usage": {"prompt_tokens": 12, "completion_tokens": 3, "total_tokens": 15},
                }
            )
        )
        await response.write(sse("[DONE]"))
        return response

    async def models(request: web.Request) -> web.Response:
        return web.json_response(
            {
                "object": "list",
                "data": [{"id": "served-model", "object": "model", "created": 1, "owned_by": "me"}],
            }
        )

    app = web.Application()
    app.router.add_post("/v1/chat/completions", chat)
    app.router.add_get("/v1/models", models)
    return app


@pytest.fixture
async def openai_double(
    serve: Callable[[web.Application], str],
) -> AsyncIterator[tuple[OpenAICompatProvider, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    url = serve(openai_app(seen))
    provider = OpenAICompatProvider("groq", base_url=url + "/v1", api_key=KEY, default_model="m", timeout=2.0)
    yield provider, seen
    await provider.aclose()


async def drain(provider: OpenAICompatProvider, request: Request) -> list[Any]:
    return [event async for event in provider.stream(request)]


async def test_complete_returns_text_usage_and_finish(openai_double: Any) -> None:
    provider, seen = openai_double
    result = await provider.complete(Request.of("hi", system="be brief", max_tokens=20, temperature=0.1))
    assert (result.text, result.provider, result.model, result.finish_reason) == (
        "Hello there",
        "groq",
        "m",
        "stop",
    )
    assert (result.usage.input_tokens, result.usage.output_tokens) == (12, 3)
    body = seen[0]["body"]
    assert body["messages"] == [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}]
    assert (body["max_tokens"], body["temperature"]) == (20, 0.1)


async def test_stream_yields_deltas_then_done_with_usage(openai_double: Any) -> None:
    provider, seen = openai_double
    events = await drain(provider, Request.of("hi"))
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo", " there"]
    done = events[-1]
    assert isinstance(done, Done)
    assert done.completion.text == "Hello there"
    assert done.completion.usage.total_tokens == 15
    assert seen[0]["body"]["stream_options"] == {"include_usage": True}


async def test_stream_assembles_tool_call_fragments(openai_double: Any) -> None:
    provider, seen = openai_double
    events = await drain(provider, Request.of("weather?", model="tools", tools=(WEATHER,)))
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert calls == [ToolCall("call_1", "get_weather", {"city": "Paris"})]
    done = events[-1]
    assert isinstance(done, Done) and done.completion.finish_reason == "tool_calls"
    sent = seen[0]["body"]
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["tool_choice"] == "auto"


async def test_complete_tool_calls_and_tool_results_round_trip(openai_double: Any) -> None:
    provider, seen = openai_double
    result = await provider.complete(Request.of("weather?", model="tools", tools=(WEATHER,)))
    assert result.tool_calls == (ToolCall("call_1", "get_weather", {"city": "Paris"}),)
    follow_up = Request(
        (
            Message.user("weather?"),
            Message.assistant("", result.tool_calls),
            Message.tool_result(result.tool_calls[0], "sunny"),
        ),
        model="m",
    )
    await provider.complete(follow_up)
    messages = seen[-1]["body"]["messages"]
    assert messages[1]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    assert messages[2] == {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}


async def test_json_schema_is_sent_as_response_format(openai_double: Any) -> None:
    provider, seen = openai_double
    schema = {"type": "object", "properties": {"a": {"type": "integer"}}}
    await provider.complete(Request.of("x", json_schema=schema))
    assert seen[0]["body"]["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": schema},
    }


@pytest.mark.parametrize(
    ("model", "kind", "status", "retryable"),
    [
        ("e400", "bad_request", 400, False),
        ("e429", "rate_limited", 429, True),
        ("e500", "server", 500, True),
    ],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_http_errors_map_to_provider_error(
    openai_double: Any, model: str, kind: str, status: int, retryable: bool, streaming: bool
) -> None:
    provider, _ = openai_double
    err = await failure(provider, Request.of("x", model=model), streaming)
    assert (err.kind, err.status, err.retryable, err.provider, err.model) == (
        kind,
        status,
        retryable,
        "groq",
        model,
    )
    if model == "e429":
        assert err.retry_after == 7.0
        assert "Rate limit" in err.message


async def test_wrong_key_is_an_auth_error(serve: Callable[[web.Application], str]) -> None:
    provider = OpenAICompatProvider(
        "openai", base_url=serve(openai_app([])) + "/v1", api_key="wrong", default_model="m"
    )
    try:
        with pytest.raises(ProviderError) as info:
            await provider.complete(Request.of("x"))
    finally:
        await provider.aclose()
    assert (info.value.kind, info.value.status, info.value.retryable) == ("auth", 401, False)
    assert "Incorrect API key" in info.value.message


async def test_slow_answer_within_timeout_succeeds(openai_double: Any) -> None:
    provider, _ = openai_double
    assert (await provider.complete(Request.of("x", model="slow"))).text == "Hello there"


@pytest.mark.parametrize("streaming", [False, True])
async def test_hung_server_times_out(serve: Callable[[web.Application], str], streaming: bool) -> None:
    provider = OpenAICompatProvider("groq", base_url=serve(openai_app([])) + "/v1", api_key=KEY, timeout=0.5)
    try:
        err = await failure(provider, Request.of("x", model="hang"), streaming)
    finally:
        await provider.aclose()
    assert (err.kind, err.retryable) == ("timeout", True)


async def test_stream_silent_after_first_token_times_out(serve: Callable[[web.Application], str]) -> None:
    provider = OpenAICompatProvider("groq", base_url=serve(openai_app([])) + "/v1", api_key=KEY, timeout=0.5)
    try:
        seen, err = await events_until_error(provider, Request.of("x", model="hang-mid"))
    finally:
        await provider.aclose()
    assert seen == [TextDelta("Hel")]
    assert err is not None and err.kind == "timeout"


async def test_stream_cut_before_first_token(openai_double: Any) -> None:
    provider, _ = openai_double
    with pytest.raises(ProviderError) as info:
        await drain(provider, Request.of("x", model="cut-before"))
    assert info.value.retryable
    assert info.value.kind in ("stream_cut", "connection")


async def test_stream_cut_after_first_token(openai_double: Any) -> None:
    provider, _ = openai_double
    seen, err = await events_until_error(provider, Request.of("x", model="cut-after"))
    assert seen == [TextDelta("Hel")]
    assert err is not None and (err.kind, err.retryable) == ("stream_cut", True)


async def test_connection_refused_is_retryable(unused_tcp_port: int) -> None:
    provider = OpenAICompatProvider(
        "groq", base_url=f"http://127.0.0.1:{unused_tcp_port}/v1", api_key=KEY, default_model="m"
    )
    try:
        with pytest.raises(ProviderError) as info:
            await provider.complete(Request.of("x"))
    finally:
        await provider.aclose()
    assert (info.value.kind, info.value.retryable) == ("connection", True)


async def test_auto_model_is_read_from_the_server(serve: Callable[[web.Application], str]) -> None:
    seen: list[dict[str, Any]] = []
    provider = OpenAICompatProvider(
        "lmstudio", base_url=serve(openai_app(seen)) + "/v1", api_key=KEY, default_model="auto"
    )
    try:
        await provider.complete(Request.of("x"))
    finally:
        await provider.aclose()
    assert seen[0]["body"]["model"] == "served-model"
    assert json.loads(json.dumps(seen[0]["body"]))["messages"][0]["content"] == "x"
