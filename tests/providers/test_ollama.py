"""Ollama's native chat API against a loopback double (JSON and NDJSON streaming)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable
from typing import Any

import pytest
from aiohttp import web
from provider_doubles import cut, events_until_error, failure, hang, run, start_stream

from vaos.providers.ollama import OllamaModel, OllamaProvider, strip_thinking, tiers_from_models
from vaos.providers.types import Request, TextDelta, ToolSpec

WEATHER = ToolSpec("get_weather", "Weather", {"type": "object", "properties": {"city": {"type": "string"}}})
GB = 1_000_000_000
TAGS = [("llama3.2:3b", 2 * GB), ("qwen3:14b", 9 * GB), ("qwen3:72b", 45 * GB)]


def line(model: str, content: str = "", done: bool = False, **extra: Any) -> bytes:
    out: dict[str, Any] = {
        "model": model,
        "created_at": "2025-01-01T00:00:00Z",
        "message": {"role": "assistant", "content": content},
        "done": done,
    }
    out.update(extra)
    return (json.dumps(out) + "\n").encode()


def ollama_app(seen: list[dict[str, Any]]) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        seen.append({"body": body, "auth": request.headers.get("authorization")})
        model = body["model"]
        if model == "missing":
            return web.json_response({"error": f"model '{model}' not found"}, status=404)
        if model == "e500":
            return web.json_response({"error": "llama runner process has terminated"}, status=500)
        if model == "hang":
            await hang()
        final = {"done_reason": "stop", "prompt_eval_count": 14, "eval_count": 3, "total_duration": 1}
        call = {"function": {"name": "get_weather", "arguments": {"city": "Paris"}}}
        if not body.get("stream", True):
            message: dict[str, Any] = {"role": "assistant", "content": "<think>hmm</think>\nHello there"}
            if model == "tools":
                message = {"role": "assistant", "content": "", "tool_calls": [call]}
            return web.json_response({"model": model, "message": message, "done": True, **final})
        if model == "cut-before":
            return await cut(request)
        response = await start_stream(request, "application/x-ndjson")
        if model == "tools":
            await response.write(
                (
                    json.dumps(
                        {
                            "model": model,
                            "message": {"role": "assistant", "content": "", "tool_calls": [call]},
                            "done": False,
                        }
                    )
                    + "\n"
                ).encode()
            )
        else:
            for piece in ("Hel", "lo"):
                await response.write(line(model, piece))
                if model == "cut-after":
                    return await cut(request)
                if model == "error-after":
                    await response.write(b'{"error": "out of memory"}\n')
                    return response
        await response.write(line(model, "", True, **final))
        return response

    async def tags(request: web.Request) -> web.Response:
        return web.json_response({"models": [{"name": n, "model": n, "size": s} for n, s in TAGS]})

    app = web.Application()
    app.router.add_post("/api/chat", chat)
    app.router.add_get("/api/tags", tags)
    return app


@pytest.fixture
async def double(
    serve: Callable[[web.Application], str],
) -> AsyncIterator[tuple[OllamaProvider, list[dict[str, Any]]]]:
    seen: list[dict[str, Any]] = []
    host = serve(ollama_app(seen)).removeprefix("http://")
    provider = OllamaProvider(base_url=host, default_model="m", timeout=1.0)  # OLLAMA_HOST style, no scheme
    yield provider, seen
    await provider.aclose()


@pytest.mark.parametrize("streaming", [False, True])
async def test_text_usage_and_options(double: Any, streaming: bool) -> None:
    provider, seen = double
    result = await run(provider, Request.of("hi", temperature=0.1, max_tokens=30, stop=("END",)), streaming)
    assert result.text == ("Hello" if streaming else "Hello there")
    assert (result.usage.input_tokens, result.usage.output_tokens, result.finish_reason) == (14, 3, "stop")
    body = seen[0]["body"]
    assert body["options"] == {"temperature": 0.1, "num_predict": 30, "stop": ["END"]}
    assert body["stream"] is streaming
    assert seen[0]["auth"] is None


async def test_ndjson_deltas(double: Any) -> None:
    provider, _ = double
    events, error = await events_until_error(provider, Request.of("hi"))
    assert error is None
    assert [e.text for e in events if isinstance(e, TextDelta)] == ["Hel", "lo"]


@pytest.mark.parametrize("streaming", [False, True])
async def test_tool_calls_and_schema(double: Any, streaming: bool) -> None:
    provider, seen = double
    schema = {"type": "object"}
    result = await run(
        provider, Request.of("w?", model="tools", tools=(WEATHER,), json_schema=schema), streaming
    )
    assert [(c.name, c.arguments) for c in result.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert seen[0]["body"]["tools"][0]["function"]["name"] == "get_weather"
    assert seen[0]["body"]["format"] == schema


async def test_auto_model_uses_the_installed_models(double: Any) -> None:
    provider, seen = double
    await provider.complete(Request.of("hi", model="auto:utility"))
    await provider.complete(Request.of("hi", model="auto:elite"))
    await provider.complete(Request.of("hi", model="auto"))
    assert [s["body"]["model"] for s in seen] == ["llama3.2:3b", "qwen3:72b", "qwen3:14b"]
    assert await provider.list_models() == [n for n, _ in TAGS]


def test_tier_assignment_uses_the_middle_model() -> None:
    models = [OllamaModel(n, s) for n, s in TAGS]
    assert tiers_from_models(models) == {
        "elite": "qwen3:72b",
        "specialist": "qwen3:14b",
        "utility": "llama3.2:3b",
    }
    assert tiers_from_models(models[:1]) == dict.fromkeys(("elite", "specialist", "utility"), "llama3.2:3b")
    assert tiers_from_models([]) == {}


def test_strip_thinking() -> None:
    assert strip_thinking("<think>\nreasoning\n</think>\nActual answer.") == "Actual answer."
    assert strip_thinking("plain") == "plain"


async def test_errors_hangs_and_cuts(double: Any) -> None:
    provider, _ = double
    missing = await failure(provider, Request.of("x", model="missing"), True)
    assert (missing.kind, missing.status, missing.retryable) == ("not_found", 404, False)
    crashed = await failure(provider, Request.of("x", model="e500"), False)
    assert (crashed.kind, crashed.retryable, crashed.message) == (
        "server",
        True,
        "llama runner process has terminated",
    )
    assert (await failure(provider, Request.of("x", model="hang"), True)).kind == "timeout"
    assert (await failure(provider, Request.of("x", model="cut-before"), True)).retryable
    events, error = await events_until_error(provider, Request.of("x", model="cut-after"))
    assert events == [TextDelta("Hel")] and error is not None and error.kind == "stream_cut"
    events, error = await events_until_error(provider, Request.of("x", model="error-after"))
    assert error is not None and error.message == "out of memory"


async def test_cloud_key_is_a_bearer_header(serve: Callable[[web.Application], str]) -> None:
    seen: list[dict[str, Any]] = []
    provider = OllamaProvider(
        "ollama_cloud", base_url=serve(ollama_app(seen)), api_key="ok-key", default_model="m"
    )
    try:
        await provider.complete(Request.of("hi"))
    finally:
        await provider.aclose()
    assert seen[0]["auth"] == "Bearer ok-key"
