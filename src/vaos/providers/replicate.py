"""Replicate's predictions API: create a prediction, then read its SSE output stream
(``urls.stream``) or poll it until it ends. Replicate's language models have no tool API,
so tool calls use the JSON contract of ``tool_prompting``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import aiohttp

from vaos.providers import tool_prompting
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
    ToolCallEvent,
    Usage,
)

_TERMINAL = frozenset({"succeeded", "failed", "canceled", "aborted"})
DEFAULT_MAX_TOKENS = 1024


class ReplicateProvider(RestProvider):
    protocol = "replicate"

    def __init__(
        self,
        name: str = "replicate",
        *,
        api_key: str | None,
        base_url: str = "https://api.replicate.com/v1",
        default_model: str | None = None,
        timeout: float = 120.0,
        connect_timeout: float = 10.0,
        poll_interval: float = 1.0,
        max_polls: int = 300,
        session: aiohttp.ClientSession | None = None,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        super().__init__(
            name,
            api_key=api_key,
            base_url=base_url,
            default_model=default_model,
            timeout=timeout,
            connect_timeout=connect_timeout,
            session=session,
        )
        self._poll_interval = poll_interval
        self._max_polls = max_polls
        self._sleep = sleep

    def _headers(self, *, accept: str = "application/json") -> dict[str, str]:
        return {
            "authorization": f"Bearer {self._api_key or ''}",
            "content-type": "application/json",
            "accept": accept,
        }

    def _input(self, request: Request) -> dict[str, Any]:
        tools = request.tools if request.tool_choice != "none" else ()
        extra = tool_prompting.tools_system_prompt(tools, request.tool_choice) if tools else None
        messages = tool_prompting.render_messages(request.messages, extra)
        system = next((m["content"] for m in messages if m["role"] == "system"), None)
        prompt = _prompt(messages)
        data: dict[str, Any] = {"prompt": prompt, "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS}
        if system:
            data["system_prompt"] = system
        if request.temperature is not None:
            data["temperature"] = request.temperature
        if request.stop:
            data["stop_sequences"] = ",".join(request.stop)
        if request.json_schema is not None and not tools:
            data["prompt"] += "\nAnswer with one JSON object matching this schema: " + json.dumps(
                dict(request.json_schema)
            )
        return data

    async def _create(self, request: Request, model: str, *, stream: bool) -> dict[str, Any]:
        url = f"{self.base_url}/models/{model}/predictions"
        headers = self._headers()
        if not stream:
            headers["prefer"] = "wait=60"
        data = await self.http.request_json(
            "POST",
            url,
            json_body={"input": self._input(request), "stream": stream},
            headers=headers,
            model=model,
            deadline=request.timeout,
        )
        if not isinstance(data, dict) or not data.get("id"):
            raise ProviderError(
                "no prediction id in the answer", provider=self.name, kind="invalid_response", model=model
            )
        return data

    async def complete(self, request: Request) -> Completion:
        model = self.model_for(request)
        prediction = await self._create(request, model, stream=False)
        polls = 0
        while prediction.get("status") not in _TERMINAL:
            if polls >= self._max_polls:
                raise ProviderError(
                    f"the prediction did not finish after {polls} polls",
                    provider=self.name,
                    kind="timeout",
                    model=model,
                )
            polls += 1
            await self._sleep(self._poll_interval)
            get_url = (prediction.get("urls") or {}).get(
                "get"
            ) or f"{self.base_url}/predictions/{prediction['id']}"
            prediction = await self.http.request_json("GET", get_url, headers=self._headers(), model=model)
        if prediction.get("status") != "succeeded":
            raise ProviderError(
                f"the prediction {prediction.get('status')}: {prediction.get('error') or 'no detail'}",
                provider=self.name,
                kind="server",
                model=model,
            )
        output = prediction.get("output")
        text = "".join(str(x) for x in output) if isinstance(output, list) else str(output or "")
        return self._completion(request, model, text, _usage(prediction))

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        model = self.model_for(request)
        prediction = await self._create(request, model, stream=True)
        stream_url = (prediction.get("urls") or {}).get("stream")
        if not stream_url:
            completion = await self._finish_by_polling(request, model, prediction)
            for polled in self._events(request, completion):
                yield polled
            return
        tools = request.tools if request.tool_choice != "none" else ()
        pieces: list[str] = []
        done = False
        try:
            async with self.http.open_stream(
                "GET", stream_url, headers=self._headers(accept="text/event-stream"), model=model
            ) as response:
                async for event, data in iter_sse(response):
                    if event == "output":
                        pieces.append(data)
                        if not tools:
                            yield TextDelta(data)
                    elif event == "error":
                        raise ProviderError(_detail(data), provider=self.name, kind="server", model=model)
                    elif event == "done":
                        done = True
                        reason = _detail(data) if data.strip() not in ("", "{}") else ""
                        if reason and "canceled" in reason:
                            raise ProviderError(
                                "the prediction was canceled", provider=self.name, kind="server", model=model
                            )
                        break
        except ProviderError:
            raise
        except Exception as exc:
            raise self.http.map_exception(exc, model=model) from exc
        if not done:
            raise ProviderError(
                "the stream ended before the model finished",
                provider=self.name,
                kind="stream_cut",
                model=model,
            )
        completion = self._completion(request, model, "".join(pieces), Usage())
        for out in self._events(request, completion, streamed=not tools):
            yield out

    async def _finish_by_polling(
        self, request: Request, model: str, prediction: dict[str, Any]
    ) -> Completion:
        polls = 0
        while prediction.get("status") not in _TERMINAL and polls < self._max_polls:
            polls += 1
            await self._sleep(self._poll_interval)
            prediction = await self.http.request_json(
                "GET", f"{self.base_url}/predictions/{prediction['id']}", headers=self._headers(), model=model
            )
        if prediction.get("status") != "succeeded":
            raise ProviderError(
                f"the prediction {prediction.get('status')}", provider=self.name, kind="server", model=model
            )
        output = prediction.get("output")
        text = "".join(str(x) for x in output) if isinstance(output, list) else str(output or "")
        return self._completion(request, model, text, _usage(prediction))

    def _completion(self, request: Request, model: str, text: str, usage: Usage) -> Completion:
        tools = request.tools if request.tool_choice != "none" else ()
        if tools:
            answer, calls = tool_prompting.parse_reply(text, tools)
            reason: FinishReason = "tool_calls" if calls else "stop"
            return Completion(answer, self.name, model, calls, usage, reason)
        return Completion(text, self.name, model, (), usage, "stop")

    def _events(
        self, request: Request, completion: Completion, *, streamed: bool = False
    ) -> list[StreamEvent]:
        events: list[StreamEvent] = []
        if completion.text and not streamed:
            events.append(TextDelta(completion.text))
        events += [ToolCallEvent(c) for c in completion.tool_calls]
        events.append(Done(completion))
        return events


def _prompt(messages: list[dict[str, str]]) -> str:
    lines = [f"{m['role'].capitalize()}: {m['content']}" for m in messages if m["role"] != "system"]
    return "\n".join(lines) + "\nAssistant:"


def _detail(data: str) -> str:
    try:
        value = json.loads(data)
    except ValueError:
        return data
    if isinstance(value, dict):
        return str(value.get("detail") or value.get("reason") or value.get("error") or value)
    return str(value)


def _usage(prediction: dict[str, Any]) -> Usage:
    metrics = prediction.get("metrics") or {}
    return Usage(
        int(metrics.get("input_token_count", 0) or 0), int(metrics.get("output_token_count", 0) or 0)
    )


def render_prompt(messages: tuple[Message, ...]) -> str:
    return _prompt(tool_prompting.render_messages(messages, None))
