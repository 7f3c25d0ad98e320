"""Cohere's v2 Chat API (``POST /v2/chat``), with SSE streaming, tool calls and JSON-schema
output.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

from vaos.providers._http import RestProvider, iter_sse
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
    "COMPLETE": "stop",
    "STOP_SEQUENCE": "stop",
    "MAX_TOKENS": "length",
    "TOOL_CALL": "tool_calls",
    "ERROR": "error",
}


class CohereProvider(RestProvider):
    protocol = "cohere"

    default_name = "cohere"
    default_base_url = "https://api.cohere.com/v2"

    def _headers(self, stream: bool) -> dict[str, str]:
        return {
            "authorization": f"Bearer {self._api_key or ''}",
            "content-type": "application/json",
            "accept": "text/event-stream" if stream else "application/json",
        }

    def _body(self, request: Request, model: str, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [_message(m) for m in request.messages],
            "stream": stream,
        }
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            body["max_tokens"] = request.max_tokens
        if request.stop:
            body["stop_sequences"] = list(request.stop)
        if request.tools:
            body["tools"] = [
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
            if request.tool_choice != "auto":
                body["tool_choice"] = request.tool_choice.upper()
        if request.json_schema is not None:
            body["response_format"] = {"type": "json_object", "json_schema": dict(request.json_schema)}
        return body

    async def complete(self, request: Request) -> Completion:
        model = self.model_for(request)
        data = await self.http.request_json(
            "POST",
            f"{self.base_url}/chat",
            json_body=self._body(request, model, False),
            headers=self._headers(False),
            model=model,
            deadline=request.timeout,
        )
        if not isinstance(data, dict):
            raise ProviderError(
                "the answer is not an object", provider=self.name, kind="invalid_response", model=model
            )
        message = data.get("message") or {}
        text = "".join(
            part.get("text", "")
            for part in message.get("content") or []
            if part.get("type", "text") == "text"
        )
        calls = tuple(_call(c) for c in message.get("tool_calls") or [])
        finish: FinishReason = (
            "tool_calls" if calls else _FINISH.get(data.get("finish_reason") or "", "unknown")
        )
        return Completion(text, self.name, model, calls, _usage(data.get("usage")), finish)

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        model = self.model_for(request)
        text: list[str] = []
        partial: dict[int, dict[str, str]] = {}
        usage = Usage()
        finish: str | None = None
        try:
            async with self.http.open_stream(
                "POST",
                f"{self.base_url}/chat",
                json_body=self._body(request, model, True),
                headers=self._headers(True),
                model=model,
            ) as response:
                async for _name, data in iter_sse(response):
                    if data == "[DONE]":
                        continue
                    event = json.loads(data)
                    kind = event.get("type")
                    delta = event.get("delta") or {}
                    msg = delta.get("message") or {}
                    if kind == "content-delta":
                        piece = ((msg.get("content") or {}).get("text")) or ""
                        if piece:
                            text.append(piece)
                            yield TextDelta(piece)
                    elif kind == "tool-call-start":
                        tc = msg.get("tool_calls") or {}
                        fn = tc.get("function") or {}
                        partial[int(event.get("index", len(partial)))] = {
                            "id": tc.get("id") or "",
                            "name": fn.get("name") or "",
                            "arguments": fn.get("arguments") or "",
                        }
                    elif kind == "tool-call-delta":
                        fn = (msg.get("tool_calls") or {}).get("function") or {}
                        slot = partial.get(int(event.get("index", 0)))
                        if slot is not None:
                            slot["arguments"] += fn.get("arguments") or ""
                    elif kind == "message-end":
                        finish = delta.get("finish_reason") or "COMPLETE"
                        usage = _usage(delta.get("usage"))
                        if finish == "ERROR":
                            raise ProviderError(
                                str(delta.get("error") or "the model failed"),
                                provider=self.name,
                                kind="server",
                                model=model,
                            )
        except ProviderError:
            raise
        except Exception as exc:
            raise self.http.map_exception(exc, model=model) from exc
        if finish is None:
            raise ProviderError(
                "the stream ended before the model finished",
                provider=self.name,
                kind="stream_cut",
                model=model,
            )
        calls = tuple(
            ToolCall(s["id"] or f"call_{uuid.uuid4().hex[:24]}", s["name"], _arguments(s["arguments"]))
            for _, s in sorted(partial.items())
        )
        for call in calls:
            yield ToolCallEvent(call)
        reason: FinishReason = "tool_calls" if calls else _FINISH.get(finish, "unknown")
        yield Done(Completion("".join(text), self.name, model, calls, usage, reason))


def _message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        return {"role": "tool", "tool_call_id": m.tool_call_id or "", "content": m.content}
    out: dict[str, Any] = {"role": m.role, "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        out["tool_calls"] = [
            {
                "id": c.id,
                "type": "function",
                "function": {"name": c.name, "arguments": json.dumps(c.arguments)},
            }
            for c in m.tool_calls
        ]
        if not m.content:
            out.pop("content")
    return out


def _call(raw: dict[str, Any]) -> ToolCall:
    fn = raw.get("function") or {}
    args = fn.get("arguments")
    arguments = args if isinstance(args, dict) else _arguments(args or "")
    return ToolCall(raw.get("id") or f"call_{uuid.uuid4().hex[:24]}", fn.get("name") or "", arguments)


def _arguments(raw: str) -> dict[str, Any]:
    if not raw:
        return {}
    try:
        value = json.loads(raw)
    except ValueError:
        return {"_raw": raw}
    return value if isinstance(value, dict) else {"_value": value}


def _usage(raw: Any) -> Usage:
    if not isinstance(raw, dict):
        return Usage()
    tokens = raw.get("tokens") or raw.get("billed_units") or {}
    return Usage(int(tokens.get("input_tokens", 0) or 0), int(tokens.get("output_tokens", 0) or 0))
