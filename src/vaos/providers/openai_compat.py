"""The OpenAI Chat Completions protocol, through the official ``openai`` SDK on its aiohttp
transport. Serves OpenAI and every compatible API (Groq, Together, Fireworks, DeepSeek,
Mistral, OpenRouter, Perplexity, xAI, Qwen, Moonshot, Zhipu, …) and any local
OpenAI-compatible server (vLLM, LM Studio, llama.cpp server) by URL.
"""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from vaos.providers._sdk_errors import map_sdk_error
from vaos.providers.base import Provider
from vaos.providers.catalog import AUTO_MODEL
from vaos.providers.errors import ProviderError
from vaos.providers.types import (
    Completion,
    Done,
    FinishReason,
    Message,
    Request,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)

_FINISH: dict[str, FinishReason] = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "content_filter": "content_filter",
}
_NO_KEY = "not-needed"


class OpenAICompatProvider(Provider):
    protocol = "openai"

    def __init__(
        self,
        name: str,
        *,
        base_url: str,
        api_key: str | None = None,
        default_model: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        stream_usage: bool = True,
        client: Any = None,
    ) -> None:
        super().__init__(name, default_model=default_model)
        self.base_url = base_url
        self._api_key = api_key
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._stream_usage = stream_usage
        self._client: Any = client
        self._owns_client = client is None
        self._auto_model: str | None = None

    # -- client ---------------------------------------------------------------------------

    def _get_client(self) -> Any:
        if self._client is None:
            import httpx2
            import openai

            http_client = openai.DefaultAioHttpClient(
                timeout=httpx2.Timeout(self._timeout, connect=self._connect_timeout)
            )
            self._client = openai.AsyncOpenAI(
                api_key=self._api_key or _NO_KEY,
                base_url=self.base_url,
                max_retries=0,
                timeout=httpx2.Timeout(self._timeout, connect=self._connect_timeout),
                default_headers=self._headers or None,
                http_client=http_client,
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.close()
            self._client = None

    async def list_models(self) -> list[str]:
        try:
            page = await self._get_client().models.list()
            return [m.id async for m in page]
        except Exception as exc:
            raise map_sdk_error(self.name, exc) from exc

    async def _model(self, request: Request) -> str:
        model = self.model_for(request)
        if model != AUTO_MODEL:
            return model
        if self._auto_model is None:
            models = await self.list_models()
            if not models:
                raise ProviderError("the server lists no models", provider=self.name, kind="config")
            self._auto_model = models[0]
        return self._auto_model

    # -- calls ----------------------------------------------------------------------------

    def _params(self, request: Request, model: str) -> dict[str, Any]:
        params: dict[str, Any] = {"model": model, "messages": [_message(m) for m in request.messages]}
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.max_tokens is not None:
            key = "max_completion_tokens" if _is_o_series(model) else "max_tokens"
            params[key] = request.max_tokens
        if request.stop:
            params["stop"] = list(request.stop)
        if request.tools:
            params["tools"] = [
                {
                    "type": "function",
                    "function": {
                        "name": t.name,
                        "description": t.description,
                        "parameters": dict(t.parameters),
                    },
                }
                for t in request.tools
            ]
            params["tool_choice"] = request.tool_choice
        if request.json_schema is not None:
            params["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": dict(request.json_schema)},
            }
        if request.timeout is not None:
            params["timeout"] = request.timeout
        return params

    async def complete(self, request: Request) -> Completion:
        model = await self._model(request)
        try:
            response = await self._get_client().chat.completions.create(**self._params(request, model))
        except Exception as exc:
            raise map_sdk_error(self.name, exc, model=model) from exc
        if not response.choices:
            raise ProviderError(
                "the answer has no choices", provider=self.name, kind="invalid_response", model=model
            )
        choice = response.choices[0]
        message = choice.message
        calls = tuple(
            ToolCall(c.id or _new_id(), c.function.name, _arguments(c.function.arguments))
            for c in (message.tool_calls or ())
            if getattr(c, "function", None) is not None
        )
        text = message.content or getattr(message, "reasoning_content", None) or ""
        return Completion(
            text=text,
            provider=self.name,
            model=response.model or model,
            tool_calls=calls,
            usage=_usage(response.usage),
            finish_reason=_finish(choice.finish_reason, calls),
        )

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        model = await self._model(request)
        params = self._params(request, model)
        params["stream"] = True
        if self._stream_usage:
            params["stream_options"] = {"include_usage": True}
        try:
            stream = await self._get_client().chat.completions.create(**params)
        except Exception as exc:
            raise map_sdk_error(self.name, exc, model=model) from exc
        text: list[str] = []
        partial: dict[int, dict[str, str]] = {}
        usage = Usage()
        finish: str | None = None
        served_model = model
        try:
            async for chunk in stream:
                if chunk.usage is not None:
                    usage = _usage(chunk.usage)
                if chunk.model:
                    served_model = chunk.model
                for choice in chunk.choices[:1]:
                    delta = choice.delta
                    if delta is not None:
                        if delta.content:
                            text.append(delta.content)
                            yield TextDelta(delta.content)
                        for tc in delta.tool_calls or ():
                            slot = partial.setdefault(tc.index, {"id": "", "name": "", "arguments": ""})
                            if tc.id:
                                slot["id"] = tc.id
                            if tc.function is not None:
                                slot["name"] += tc.function.name or ""
                                slot["arguments"] += tc.function.arguments or ""
                    if choice.finish_reason:
                        finish = choice.finish_reason
        except Exception as exc:
            raise map_sdk_error(self.name, exc, model=model) from exc
        finally:
            await _close(stream)
        if finish is None:
            raise ProviderError(
                "the stream ended before the model finished",
                provider=self.name,
                kind="stream_cut",
                model=model,
            )
        calls = tuple(
            ToolCall(slot["id"] or _new_id(), slot["name"], _arguments(slot["arguments"]))
            for _, slot in sorted(partial.items())
        )
        for call in calls:
            yield ToolCallEvent(call)
        yield Done(
            Completion(
                text="".join(text),
                provider=self.name,
                model=served_model,
                tool_calls=calls,
                usage=usage,
                finish_reason=_finish(finish, calls),
            )
        )


async def _close(stream: Any) -> None:
    close = getattr(stream, "close", None)
    if close is not None:
        with contextlib.suppress(Exception):  # closing a broken stream may fail too
            await close()


def _message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        out: dict[str, Any] = {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content}
        return out
    out = {"role": m.role, "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        out["content"] = m.content or None
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in m.tool_calls
        ]
    return out


def _arguments(raw: str | None) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_value": value}


def _usage(usage: Any) -> Usage:
    if usage is None:
        return Usage()
    details = getattr(usage, "prompt_tokens_details", None)
    cached = getattr(details, "cached_tokens", None) or 0
    return Usage(
        input_tokens=int(getattr(usage, "prompt_tokens", 0) or 0),
        output_tokens=int(getattr(usage, "completion_tokens", 0) or 0),
        cache_read_tokens=int(cached),
    )


def _finish(reason: str | None, calls: tuple[ToolCall, ...]) -> FinishReason:
    if calls:
        return "tool_calls"
    return _FINISH.get(reason or "", "unknown")


def _is_o_series(model: str) -> bool:
    return model.startswith(("o1", "o3", "o4", "gpt-5"))


def _new_id() -> str:
    return f"call_{uuid.uuid4().hex[:24]}"
