"""Google Gemini's generateContent API against a loopback double (JSON and SSE)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from provider_doubles import cut, events_until_error, failure, hang, run, sse, start_stream

from vaos.providers.gemini import GeminiProvider
from vaos.providers.types import Message, Request, TextDelta, ToolCall, ToolSpec

KEY = "g-key"
WEATHER = ToolSpec("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})


def chunk(parts: list[dict[str, Any]], finish: str | None = None, usage: bool = False) -> dict[str, Any]:
    candidate: dict[str, Any] = {"content": {"role": "model", "parts": parts}, "index": 0}
    if finish:
        candidate["finishReason"] = finish
    out: dict[str, Any] = {"candidates": [candidate], "modelVersion": "gemini-test"}
    if usage:
        out["usageMetadata"] = {"promptTokenCount": 9, "candidatesTokenCount": 5, "totalTokenCount": 14}
    return out


def gemini_app(seen: list[dict[str, Any]]) -> web.Application:
    async def generate(request: web.Request) -> web.StreamResponse:
        model, _, method = request.match_info["call"].partition(":")
        body = await request.json()
        seen.append({"body": body, "model": model, "method": method, "query": dict(request.query)})
        if request.headers.get("x-goog-api-key") != KEY:
            error = {"error": {"code": 400, "message": "API key not valid.", "status": "INVALID_ARGUMENT"}}
            return web.json_response(error, status=400)
        codes = {
            "e429": (429, "RESOURCE_EXHAUSTED"),
            "e500": (500, "INTERNAL"),
            "e403": (403, "PERMISSION_DENIED"),
        }
        if model in codes:
            code, status = codes[model]
            return web.json_response(
                {"error": {"code": code, "message": f"{status} here", "status": status}}, status=code
            )
        if model == "hang":
            await hang()
        tools = model == "tools"
        call = {"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}
        if method == "generateContent":
            parts = [call] if tools else [{"text": "Hello there"}]
            return web.json_response(chunk(parts, "STOP", usage=True))
        if model == "cut-before":
            return await cut(request)
        response = await start_stream(request)
        if tools:
            await response.write(sse(chunk([call], "STOP", usage=True)))
            return response
        await response.write(sse(chunk([{"text": "Hel"}])))
        if model == "cut-after":
            return await cut(request)
        await response.write(sse(chunk([{"text": "lo"}], "STOP", usage=True)))
        return response

    app = web.Application()
    app.router.add_post("/v1beta/models/{call}", generate)
    return app


@pytest.fixture
async def double(
    serve: Callable[[web.Application], str],
) -> AsyncIterator[tuple[GeminiProvider, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    provider = GeminiProvider(
        api_key=KEY, base_url=serve(gemini_app(seen)) + "/v1beta", default_model="m", timeout=1.0
    )
    yield provider, seen
    await provider.aclose()


@pytest.mark.parametrize("streaming", [False, True])
async def test_text_and_usage(double: Any, streaming: bool) -> None:
    provider, seen = double
    result = await run(provider, Request.of("hi", system="brief", max_tokens=7, temperature=0.3), streaming)
    assert result.text == ("Hello" if streaming else "Hello there")
    assert (result.usage.input_tokens, result.usage.output_tokens, result.finish_reason) == (9, 5, "stop")
    assert result.model == "gemini-test"
    body = seen[0]["body"]
    assert body["systemInstruction"] == {"parts": [{"text": "brief"}]}
    assert body["contents"] == [{"role": "user", "parts": [{"text": "hi"}]}]
    assert body["generationConfig"] == {"temperature": 0.3, "maxOutputTokens": 7}
    assert seen[0]["method"] == ("streamGenerateContent" if streaming else "generateContent")
    if streaming:
        assert seen[0]["query"] == {"alt": "sse"}


async def test_stream_deltas(double: Any) -> None:
    provider, _ = double
    events, error = await events_until_error(provider, Request.of("hi"))
    assert error is None
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]


@pytest.mark.parametrize("streaming", [False, True])
async def test_function_calls(double: Any, streaming: bool) -> None:
    provider, seen = double
    result = await run(provider, Request.of("w?", model="tools", tools=(WEATHER,)), streaming)
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert result.finish_reason == "tool_calls"
    assert seen[0]["body"]["tools"][0]["functionDeclarations"][0]["name"] == "get_weather"


async def test_history_with_function_response_and_json_schema(double: Any) -> None:
    provider, seen = double
    call = ToolCall("c1", "get_weather", {"city": "Paris"})
    schema = {"type": "object", "properties": {"a": {"type": "string"}}}
    messages = (
        Message.user("w?"),
        Message.assistant("", [call]),
        Message.tool_result(call, '{"sky": "clear"}'),
    )
    await provider.complete(Request(messages, json_schema=schema))
    contents = seen[0]["body"]["contents"]
    assert contents[1] == {
        "role": "model",
        "parts": [{"functionCall": {"name": "get_weather", "args": {"city": "Paris"}}}],
    }
    assert contents[2]["parts"][0]["functionResponse"] == {
        "name": "get_weather",
        "response": {"sky": "clear"},
    }
    config = seen[0]["body"]["generationConfig"]
    assert (config["responseMimeType"], config["responseJsonSchema"]) == ("application/json", schema)


@pytest.mark.parametrize(
    ("model", "kind", "status", "retryable"),
    [("e429", "rate_limited", 429, True), ("e500", "server", 500, True), ("e403", "auth", 403, False)],
)
@pytest.mark.parametrize("streaming", [False, True])
async def test_errors(
    double: Any, model: str, kind: str, status: int, retryable: bool, streaming: bool
) -> None:
    provider, _ = double
    err = await failure(provider, Request.of("x", model=model), streaming)
    assert (err.kind, err.status, err.retryable) == (kind, status, retryable)
    assert "here" in err.message


async def test_bad_key_is_a_bad_request(serve: Callable[[web.Application], str]) -> None:
    provider = GeminiProvider(api_key="nope", base_url=serve(gemini_app([])) + "/v1beta", default_model="m")
    try:
        err = await failure(provider, Request.of("x"), False)
    finally:
        await provider.aclose()
    assert (err.kind, err.status, err.message) == ("bad_request", 400, "API key not valid.")


async def test_hung_and_cut(double: Any) -> None:
    provider, _ = double
    assert (await failure(provider, Request.of("x", model="hang"), True)).kind == "timeout"
    assert (await failure(provider, Request.of("x", model="hang"), False)).kind == "timeout"
    before = await failure(provider, Request.of("x", model="cut-before"), True)
    assert before.retryable
    events, error = await events_until_error(provider, Request.of("x", model="cut-after"))
    assert events == [TextDelta("Hel")]
    assert error is not None and error.kind == "stream_cut"
