"""Ollama's native chat API (``POST /api/chat``, NDJSON streaming), with tool calls,
JSON-schema output (``format``) and model auto-detection from ``/api/tags``.

Also serves Ollama Cloud (``ollama_cloud``: ``https://ollama.com`` with a bearer key).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from typing import Any

import aiohttp

from vaos.providers._http import RestProvider, iter_ndjson
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
from vaos.tiers import Tier

DEFAULT_URL = "http://127.0.0.1:11434"
_THINK_BLOCKS = ("<think>", "</think>")


@dataclass(frozen=True, slots=True)
class OllamaModel:
    name: str
    size: int


def tiers_from_models(models: Sequence[OllamaModel]) -> dict[Tier, str]:
    """Largest model for elite, the middle one for specialist, the smallest for utility.

    (The original picked ``rest[len(rest) // 2]`` for specialist, which with three models
    gave the smallest twice and never used the middle one.)
    """
    ranked = sorted((m for m in models if m.size > 0), key=lambda m: m.size, reverse=True)
    if not ranked:
        return {}
    return {
        "elite": ranked[0].name,
        "specialist": ranked[len(ranked) // 2].name,
        "utility": ranked[-1].name,
    }


def normalize_base_url(url: str) -> str:
    url = url.strip().rstrip("/")
    if "://" not in url:
        url = "http://" + url  # OLLAMA_HOST is often host:port
    return url


class OllamaProvider(RestProvider):
    protocol = "ollama"

    def __init__(
        self,
        name: str = "ollama",
        *,
        base_url: str = DEFAULT_URL,
        api_key: str | None = None,
        default_model: str | None = AUTO_MODEL,
        tier_models: dict[Tier, str] | None = None,
        keep_alive: str | None = "30m",
        timeout: float = 600.0,
        connect_timeout: float = 5.0,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        super().__init__(
            name,
            api_key=api_key,
            base_url=normalize_base_url(base_url),
            default_model=default_model,
            timeout=timeout,
            connect_timeout=connect_timeout,
            session=session,
        )
        self._keep_alive = keep_alive
        self._detected: dict[Tier, str] | None = dict(tier_models) if tier_models else None

    def _headers(self) -> dict[str, str]:
        headers = {"content-type": "application/json"}
        if self._api_key:
            headers["authorization"] = f"Bearer {self._api_key}"
        return headers

    async def installed(self) -> list[OllamaModel]:
        data = await self.http.request_json(
            "GET", f"{self.base_url}/api/tags", headers=self._headers(), deadline=5.0
        )
        models = data.get("models", []) if isinstance(data, dict) else []
        return [OllamaModel(str(m.get("name") or m.get("model")), int(m.get("size") or 0)) for m in models]

    async def list_models(self) -> list[str]:
        return [m.name for m in await self.installed()]

    async def detect_tiers(self) -> dict[Tier, str]:
        """The tier map from the installed models (cached after the first success)."""
        if self._detected is None:
            tiers = tiers_from_models(await self.installed())
            if not tiers:
                raise ProviderError(
                    "no model is installed: run `ollama pull <model>`", provider=self.name, kind="config"
                )
            self._detected = tiers
        return self._detected

    async def resolve_model(self, request: Request) -> str:
        """The request's model; ``auto`` or ``auto:<tier>`` picks from the installed models."""
        model = self.model_for(request)
        if model != AUTO_MODEL and not model.startswith(AUTO_MODEL + ":"):
            return model
        wanted = model.partition(":")[2]
        tiers = await self.detect_tiers()
        return next((m for t, m in tiers.items() if t == wanted), tiers["specialist"])

    def _body(self, request: Request, model: str, stream: bool) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": model,
            "messages": [_message(m) for m in request.messages],
            "stream": stream,
        }
        options: dict[str, Any] = {}
        if request.temperature is not None:
            options["temperature"] = request.temperature
        if request.max_tokens is not None:
            options["num_predict"] = request.max_tokens
        if request.stop:
            options["stop"] = list(request.stop)
        if options:
            body["options"] = options
        if request.tools and request.tool_choice != "none":
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
        if request.json_schema is not None:
            body["format"] = dict(request.json_schema)
        if self._keep_alive:
            body["keep_alive"] = self._keep_alive
        return body

    async def complete(self, request: Request) -> Completion:
        model = await self.resolve_model(request)
        data = await self.http.request_json(
            "POST",
            f"{self.base_url}/api/chat",
            json_body=self._body(request, model, False),
            headers=self._headers(),
            model=model,
            deadline=request.timeout,
        )
        if not isinstance(data, dict):
            raise ProviderError(
                "the answer is not an object", provider=self.name, kind="invalid_response", model=model
            )
        if data.get("error"):
            raise ProviderError(str(data["error"]), provider=self.name, kind="server", model=model)
        message = data.get("message") or {}
        calls = tuple(_call(c) for c in message.get("tool_calls") or [])
        return Completion(
            strip_thinking(message.get("content") or ""),
            self.name,
            data.get("model") or model,
            calls,
            _usage(data),
            _finish(data.get("done_reason"), calls),
        )

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        model = await self.resolve_model(request)
        text: list[str] = []
        calls: list[ToolCall] = []
        final: dict[str, Any] | None = None
        try:
            async with self.http.open_stream(
                "POST",
                f"{self.base_url}/api/chat",
                json_body=self._body(request, model, True),
                headers=self._headers(),
                model=model,
            ) as response:
                async for line in iter_ndjson(response):
                    if line.get("error"):
                        raise ProviderError(
                            str(line["error"]), provider=self.name, kind="server", model=model
                        )
                    message = line.get("message") or {}
                    piece = message.get("content") or ""
                    if piece:
                        text.append(piece)
                        yield TextDelta(piece)
                    for raw in message.get("tool_calls") or []:
                        call = _call(raw)
                        calls.append(call)
                        yield ToolCallEvent(call)
                    if line.get("done"):
                        final = line
                        break
        except ProviderError:
            raise
        except Exception as exc:
            raise self.http.map_exception(exc, model=model) from exc
        if final is None:
            raise ProviderError(
                "the stream ended before the model finished",
                provider=self.name,
                kind="stream_cut",
                model=model,
            )
        done_calls = tuple(calls)
        yield Done(
            Completion(
                strip_thinking("".join(text)),
                self.name,
                final.get("model") or model,
                done_calls,
                _usage(final),
                _finish(final.get("done_reason"), done_calls),
            )
        )


def strip_thinking(text: str) -> str:
    """The text without ``<think>…</think>`` blocks."""
    start, end = _THINK_BLOCKS
    removed = False
    while start in text:
        i = text.index(start)
        j = text.find(end, i)
        if j == -1:
            break
        text = text[:i] + text[j + len(end) :]
        removed = True
    return text.strip() if removed else text


def _message(m: Message) -> dict[str, Any]:
    if m.role == "tool":
        out: dict[str, Any] = {"role": "tool", "content": m.content}
        if m.name:
            out["tool_name"] = m.name
        return out
    out = {"role": m.role, "content": m.content}
    if m.role == "assistant" and m.tool_calls:
        out["tool_calls"] = [{"function": {"name": c.name, "arguments": c.arguments}} for c in m.tool_calls]
    return out


def _call(raw: dict[str, Any]) -> ToolCall:
    fn = raw.get("function") or {}
    args = fn.get("arguments")
    return ToolCall(
        raw.get("id") or f"call_{uuid.uuid4().hex[:24]}",
        fn.get("name") or "",
        args if isinstance(args, dict) else {},
    )


def _usage(data: dict[str, Any]) -> Usage:
    return Usage(int(data.get("prompt_eval_count", 0) or 0), int(data.get("eval_count", 0) or 0))


def _finish(reason: str | None, calls: tuple[ToolCall, ...]) -> FinishReason:
    if calls:
        return "tool_calls"
    finishes: dict[str, FinishReason] = {"stop": "stop", "length": "length"}
    return finishes.get(reason or "stop", "unknown")
