"""Where a chat turn runs: a daemon that answers on its port, or this process.

Both give the run's events as flat envelopes (dicts ``{"id", "type", "session_id",
"agent_id", "ts", "data"}``); the last is ``agent_response`` (data = the agent's result) or
``error``.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import httpx
import orjson

from vaos.cli.repl.sse_client import parse_sse

if TYPE_CHECKING:
    from vaos.agent.commands import SessionState
    from vaos.config import Settings


class ChatError(Exception):
    """A turn or a command could not run (the message says why, for people)."""


async def probe(url: str, within: float = 0.5) -> bool:
    """Whether a VAOS daemon answers ``GET /health`` at ``url`` within ``within`` seconds."""
    try:
        async with httpx.AsyncClient(timeout=within) as client:
            response = await client.get(url.rstrip("/") + "/health")
    except httpx.HTTPError:
        return False
    if response.status_code != 200:
        return False
    try:
        return bool(response.json().get("status") == "ok")
    except ValueError:
        return False


def _error_message(response: httpx.Response, body: bytes) -> str:
    try:
        error = orjson.loads(body)["error"]
        return f"{error['message']} ({response.status_code} {error['code']})"
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return f"HTTP {response.status_code}: {body[:200].decode(errors='replace')}"


class RemoteBackend:
    """Turns run by the daemon at ``url`` (``POST /api/v1/orchestrate/stream``)."""

    def __init__(self, url: str, *, api_key: str | None = None) -> None:
        self.url = url.rstrip("/")
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=httpx.Timeout(10.0, read=None),
        )
        self.description = f"daemon at {self.url}"

    async def turn(self, text: str, **options: Any) -> AsyncIterator[dict[str, Any]]:
        body = {"input": text}
        body.update({k: v for k, v in options.items() if v is not None})
        try:
            async with self._client.stream("POST", "/api/v1/orchestrate/stream", json=body) as response:
                if response.status_code != 200:
                    raise ChatError(_error_message(response, await response.aread()))
                async for message in parse_sse(response.aiter_lines()):
                    try:
                        event = orjson.loads(message.data)
                    except orjson.JSONDecodeError:
                        continue
                    if isinstance(event, dict):
                        yield event
        except httpx.HTTPError as exc:
            raise ChatError(f"the daemon at {self.url} stopped answering: {exc}") from None

    async def get(self, path: str) -> Any:
        try:
            response = await self._client.get(path)
        except httpx.HTTPError as exc:
            raise ChatError(f"the daemon at {self.url} stopped answering: {exc}") from None
        if response.status_code != 200:
            raise ChatError(_error_message(response, response.content))
        return response.json()

    async def tools(self) -> list[dict[str, Any]]:
        document = await self.get("/api/v1/tools")
        tools: list[dict[str, Any]] = document.get("tools", []) if isinstance(document, dict) else []
        return tools

    async def command(self, state: SessionState, line: str) -> dict[str, Any]:
        """Run ``line`` with the shared command table on the daemon; ``state`` is updated."""
        from vaos.cli.repl.commands import state_from_dict, state_to_dict

        body = {"line": line, "state": state_to_dict(state)}
        try:
            response = await self._client.post("/api/v1/commands", json=body)
        except httpx.HTTPError as exc:
            raise ChatError(f"the daemon at {self.url} stopped answering: {exc}") from None
        if response.status_code != 200:
            raise ChatError(_error_message(response, response.content))
        reply = response.json()
        updated = state_from_dict(reply.get("state") or {})
        for name, value in vars(updated).items():
            setattr(state, name, value)
        result: dict[str, Any] = reply.get("result") or {}
        return result

    async def aclose(self) -> None:
        await self._client.aclose()


class LocalBackend:
    """Turns run in this process (``vaos.agent.open_runtime``)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.description = "in-process (no daemon answered)"
        self._stack = contextlib.AsyncExitStack()
        self.runtime: Any = None

    async def start(self) -> LocalBackend:
        from vaos.api.runtime import default_runtime_factory
        from vaos.events import EventBus

        try:
            self.runtime = await self._stack.enter_async_context(
                default_runtime_factory(self.settings, EventBus())
            )
        except RuntimeError as exc:
            raise ChatError(str(exc)) from None
        return self

    async def turn(self, text: str, **options: Any) -> AsyncIterator[dict[str, Any]]:
        agent = self.runtime.agent("vaos")
        events = agent.stream(text, **options)
        try:
            async for event in events:
                yield event.model_dump() if hasattr(event, "model_dump") else dict(event)
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()

    async def tools(self) -> list[dict[str, Any]]:
        from vaos.api.runtime import tools_document

        tools: list[dict[str, Any]] = tools_document(getattr(self.runtime, "tools", None))["tools"]
        return tools

    async def command(self, state: SessionState, line: str) -> dict[str, Any]:
        from vaos.agent.commands import run_command

        result = await run_command(self.runtime, state, line)
        return result.to_dict()

    async def aclose(self) -> None:
        await self._stack.aclose()
