"""Google Gemini's ``generateContent`` API (``v1beta``), with SSE streaming
(``streamGenerateContent?alt=sse``), function calling and JSON-schema output.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any
from urllib.parse import quote

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
    "STOP": "stop",
    "MAX_TOKENS": "length",
    "SAFETY": "content_filter",
    "RECITATION": "content_filter",
    "BLOCKLIST": "content_filter",
    "PROHIBITED_CONTENT": "content_filter",
}


class GeminiProvider(RestProvider):
    protocol = "gemini"

    default_name = "google"
    default_base_url = "https://generativelanguage.googleapis.com/v1beta"

    def _headers(self) -> dict[str, str]:
        return {"x-goog-api-key": self._api_key or "", "content-type": "application/json"}

    def _url(self, model: str, method: str) -> str:
        return f"{self.base_url}/models/{quote(model.removeprefix('models/'), safe='')}:{method}"

    def _body(self, request: Request) -> dict[str, Any]:
        system = [m.content for m in request.messages if m.role == "system"]
        body: dict[str, Any] = {"contents": _contents(request.messages)}
        if system:
            body["systemInstruction"] = {"parts": [{"text": "\n\n".join(system)}]}
        config: dict[str, Any] = {}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if request.stop:
            config["stopSequences"] = list(request.stop)
        if request.json_schema is not None:
            config["responseMimeType"] = "application/json"
            config["responseJsonSchema"] = dict(request.json_schema)
        if config:
            body["generationConfig"] = config
        if request.tools:
            body["tools"] = [
                {
                    "functionDeclarations": [
                        {"name": t.name, "description": t.description, "parameters": dict(t.parameters)}
                        for t in request.tools
                    ]
                }
            ]
            mode = {"auto": "AUTO", "required": "ANY", "none": "NONE"}[request.tool_choice]
            body["toolConfig"] = {"functionCallingConfig": {"mode": mode}}
        return body

    async def complete(self, request: Request) -> Completion:
        model = self.model_for(request)
        data = await self.http.request_json(
            "POST",
            self._url(model, "generateContent"),
            json_body=self._body(request),
            headers=self._headers(),
            model=model,
            deadline=request.timeout,
        )
        state = _State()
        state.add(self.name, model, data)
        return state.completion(self.name, model)

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        model = self.model_for(request)
        state = _State()
        try:
            async with self.http.open_stream(
                "POST",
                self._url(model, "streamGenerateContent") + "?alt=sse",
                json_body=self._body(request),
                headers=self._headers(),
                model=model,
            ) as response:
                async for _event, data in iter_sse(response):
                    chunk = json.loads(data)
                    for piece in state.add(self.name, model, chunk):
                        yield TextDelta(piece)
        except ProviderError:
            raise
        except Exception as exc:
            raise self.http.map_exception(exc, model=model) from exc
        if state.finish is None:
            raise ProviderError(
                "the stream ended before the model finished",
                provider=self.name,
                kind="stream_cut",
                model=model,
            )
        completion = state.completion(self.name, model)
        for call in completion.tool_calls:
            yield ToolCallEvent(call)
        yield Done(completion)


class _State:
    """What the chunks of one answer add up to."""

    def __init__(self) -> None:
        self.text: list[str] = []
        self.calls: list[ToolCall] = []
        self.usage = Usage()
        self.finish: str | None = None
        self.model: str | None = None

    def add(self, provider: str, model: str, data: Any) -> list[str]:
        if not isinstance(data, dict):
            raise ProviderError(
                "the answer is not an object", provider=provider, kind="invalid_response", model=model
            )
        if "error" in data:
            err = data["error"] if isinstance(data["error"], dict) else {"message": str(data["error"])}
            raise ProviderError(
                str(err.get("message", "error")), provider=provider, kind="server", model=model
            )
        self.model = data.get("modelVersion") or self.model
        meta = data.get("usageMetadata")
        if isinstance(meta, dict):
            self.usage = Usage(
                input_tokens=int(meta.get("promptTokenCount", 0) or 0),
                output_tokens=int(meta.get("candidatesTokenCount", 0) or 0)
                + int(meta.get("thoughtsTokenCount", 0) or 0),
                cache_read_tokens=int(meta.get("cachedContentTokenCount", 0) or 0),
            )
        pieces: list[str] = []
        candidates = data.get("candidates") or []
        if not candidates:
            block = (data.get("promptFeedback") or {}).get("blockReason")
            if block:
                self.finish = "SAFETY"
            return pieces
        candidate = candidates[0]
        for part in (candidate.get("content") or {}).get("parts") or []:
            if part.get("thought"):
                continue
            if part.get("text"):
                pieces.append(part["text"])
            elif "functionCall" in part:
                fc = part["functionCall"]
                args = fc.get("args") or {}
                self.calls.append(
                    ToolCall(fc.get("id") or f"call_{uuid.uuid4().hex[:24]}", fc.get("name", ""), dict(args))
                )
        self.text += pieces
        if candidate.get("finishReason"):
            self.finish = candidate["finishReason"]
        return pieces

    def completion(self, provider: str, model: str) -> Completion:
        calls = tuple(self.calls)
        finish: FinishReason = "tool_calls" if calls else _FINISH.get(self.finish or "", "unknown")
        return Completion("".join(self.text), provider, self.model or model, calls, self.usage, finish)


def _contents(messages: tuple[Message, ...]) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            part = {"functionResponse": {"name": m.name or "", "response": _tool_response(m.content)}}
            if out and out[-1]["role"] == "user" and "functionResponse" in out[-1]["parts"][0]:
                out[-1]["parts"].append(part)
            else:
                out.append({"role": "user", "parts": [part]})
            continue
        role = "model" if m.role == "assistant" else "user"
        parts: list[dict[str, Any]] = [{"text": m.content}] if m.content else []
        parts += [{"functionCall": {"name": c.name, "args": c.arguments}} for c in m.tool_calls]
        out.append({"role": role, "parts": parts or [{"text": ""}]})
    return out


def _tool_response(content: str) -> dict[str, Any]:
    try:
        value = json.loads(content)
    except ValueError:
        return {"result": content}
    return value if isinstance(value, dict) else {"result": value}
