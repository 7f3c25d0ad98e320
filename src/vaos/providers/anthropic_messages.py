"""Anthropic's Messages API through the official ``anthropic`` SDK (the ``anthropic`` extra:
``uv sync --extra anthropic``) on its aiohttp transport, with real streaming.

Structured output (``Request.json_schema``) goes through a forced tool whose input schema is
the requested one, which every Claude model supports.
"""

from __future__ import annotations

import contextlib
import importlib
import json
from collections.abc import AsyncIterator, Mapping
from typing import Any

from vaos.providers._sdk_errors import map_sdk_error
from vaos.providers.base import Provider
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

DEFAULT_MAX_TOKENS = 4096
_ANSWER_TOOL = "answer"
_FINISH: dict[str, FinishReason] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}


class AnthropicProvider(Provider):
    protocol = "anthropic"

    def __init__(
        self,
        name: str = "anthropic",
        *,
        api_key: str | None,
        base_url: str | None = None,
        default_model: str | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        client: Any = None,
    ) -> None:
        super().__init__(name, default_model=default_model)
        self.base_url = base_url
        self._api_key = api_key
        self._headers = dict(headers or {})
        self._timeout = timeout
        self._connect_timeout = connect_timeout
        self._client: Any = client
        self._owns_client = client is None

    def _get_client(self) -> Any:
        if self._client is None:
            try:
                anthropic = importlib.import_module("anthropic")  # the optional extra
                import httpx2
            except ImportError as exc:
                raise ProviderError(
                    "the anthropic SDK is not installed: uv sync --extra anthropic"
                    " (or pip install 'vaos[anthropic]')",
                    provider=self.name,
                    kind="config",
                ) from exc
            timeout = httpx2.Timeout(self._timeout, connect=self._connect_timeout)
            self._client = anthropic.AsyncAnthropic(
                api_key=self._api_key,
                base_url=self.base_url or None,
                max_retries=0,
                timeout=timeout,
                default_headers=self._headers or None,
                http_client=anthropic.DefaultAioHttpClient(timeout=timeout),
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None and self._owns_client:
            await self._client.close()
            self._client = None

    def _params(self, request: Request, model: str) -> dict[str, Any]:
        system, messages = _messages(request.messages)
        params: dict[str, Any] = {
            "model": model,
            "messages": messages,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
        }
        if system:
            params["system"] = system
        if request.temperature is not None:
            params["temperature"] = request.temperature
        if request.stop:
            params["stop_sequences"] = list(request.stop)
        tools = [
            {"name": t.name, "description": t.description, "input_schema": dict(t.parameters)}
            for t in request.tools
        ]
        if request.json_schema is not None:
            tools = [
                {
                    "name": _ANSWER_TOOL,
                    "description": "Give the answer.",
                    "input_schema": dict(request.json_schema),
                }
            ]
            params["tool_choice"] = {"type": "tool", "name": _ANSWER_TOOL}
        elif tools:
            params["tool_choice"] = {
                "type": {"auto": "auto", "required": "any", "none": "none"}[request.tool_choice]
            }
        if tools:
            params["tools"] = tools
        if request.timeout is not None:
            params["timeout"] = request.timeout
        return params

    async def complete(self, request: Request) -> Completion:
        model = self.model_for(request)
        try:
            response = await self._get_client().messages.create(**self._params(request, model))
        except ProviderError:
            raise
        except Exception as exc:
            raise map_sdk_error(self.name, exc, model=model) from exc
        text: list[str] = []
        calls: list[ToolCall] = []
        for block in response.content:
            if block.type == "text":
                text.append(block.text)
            elif block.type == "tool_use":
                calls.append(ToolCall(block.id, block.name, dict(block.input or {})))
        return self._finish(
            request, model, response.model or model, text, calls, _usage(response.usage), response.stop_reason
        )

    def _finish(
        self,
        request: Request,
        model: str,
        served: str,
        text: list[str],
        calls: list[ToolCall],
        usage: Usage,
        stop_reason: str | None,
    ) -> Completion:
        if request.json_schema is not None:
            answer = next((c for c in calls if c.name == _ANSWER_TOOL), None)
            if answer is None:
                raise ProviderError(
                    "no structured answer", provider=self.name, kind="invalid_response", model=model
                )
            return Completion(json.dumps(answer.arguments), self.name, served, (), usage, "stop")
        finish: FinishReason = "tool_calls" if calls else _FINISH.get(stop_reason or "", "unknown")
        return Completion("".join(text), self.name, served, tuple(calls), usage, finish)

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        model = self.model_for(request)
        params = self._params(request, model)
        params["stream"] = True
        try:
            stream = await self._get_client().messages.create(**params)
        except ProviderError:
            raise
        except Exception as exc:
            raise map_sdk_error(self.name, exc, model=model) from exc
        text: list[str] = []
        blocks: dict[int, dict[str, str]] = {}
        calls: list[ToolCall] = []
        usage = Usage()
        served = model
        stop_reason: str | None = None
        finished = False
        structured = request.json_schema is not None
        try:
            async for event in stream:
                kind = event.type
                if kind == "message_start":
                    served = event.message.model or model
                    usage = _usage(event.message.usage)
                elif kind == "content_block_start":
                    block = event.content_block
                    if block.type == "tool_use":
                        blocks[event.index] = {"id": block.id, "name": block.name, "json": ""}
                    elif block.type == "text" and block.text:
                        text.append(block.text)
                        if not structured:
                            yield TextDelta(block.text)
                elif kind == "content_block_delta":
                    delta = event.delta
                    if delta.type == "text_delta" and delta.text:
                        text.append(delta.text)
                        if not structured:
                            yield TextDelta(delta.text)
                    elif delta.type == "input_json_delta" and event.index in blocks:
                        blocks[event.index]["json"] += delta.partial_json
                elif kind == "content_block_stop":
                    slot = blocks.pop(event.index, None)
                    if slot is not None:
                        call = ToolCall(slot["id"], slot["name"], _arguments(slot["json"]))
                        calls.append(call)
                        if not structured:
                            yield ToolCallEvent(call)
                elif kind == "message_delta":
                    stop_reason = event.delta.stop_reason or stop_reason
                    out = getattr(event.usage, "output_tokens", None)
                    if out is not None:
                        usage = Usage(
                            usage.input_tokens, int(out), usage.cache_read_tokens, usage.cache_write_tokens
                        )
                elif kind == "message_stop":
                    finished = True
        except Exception as exc:
            raise map_sdk_error(self.name, exc, model=model) from exc
        finally:
            close = getattr(stream, "close", None)
            if close is not None:
                with contextlib.suppress(Exception):  # closing a broken stream may fail too
                    await close()
        if not finished:
            raise ProviderError(
                "the stream ended before the model finished",
                provider=self.name,
                kind="stream_cut",
                model=model,
            )
        completion = self._finish(request, model, served, text, calls, usage, stop_reason)
        if structured:
            yield TextDelta(completion.text)
        yield Done(completion)


def _messages(messages: tuple[Message, ...]) -> tuple[str, list[dict[str, Any]]]:
    system: list[str] = []
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            system.append(m.content)
            continue
        if m.role == "tool":
            block = {"type": "tool_result", "tool_use_id": m.tool_call_id or "", "content": m.content}
            if out and out[-1]["role"] == "user" and isinstance(out[-1]["content"], list):
                out[-1]["content"].append(block)
            else:
                out.append({"role": "user", "content": [block]})
            continue
        if m.role == "assistant" and m.tool_calls:
            content: list[dict[str, Any]] = [{"type": "text", "text": m.content}] if m.content else []
            content += [
                {"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments} for c in m.tool_calls
            ]
            out.append({"role": "assistant", "content": content})
            continue
        out.append({"role": m.role, "content": m.content})
    return "\n\n".join(system), out


def _arguments(raw: str) -> dict[str, Any]:
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
    return Usage(
        input_tokens=int(getattr(usage, "input_tokens", 0) or 0),
        output_tokens=int(getattr(usage, "output_tokens", 0) or 0),
        cache_read_tokens=int(getattr(usage, "cache_read_input_tokens", 0) or 0),
        cache_write_tokens=int(getattr(usage, "cache_creation_input_tokens", 0) or 0),
    )
