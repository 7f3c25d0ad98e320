"""A scripted fake provider for tests of whatever sits above the providers (routing, the
agent loop): each call plays the next step of a script. Ships with the package so users
test the way we do.

    fake = ScriptedProvider("fake", [Reply("hello"), Fail("server"), Reply("again")])
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from vaos.providers.base import Provider
from vaos.providers.errors import ErrorKind, ProviderError
from vaos.providers.types import (
    Completion,
    Done,
    FinishReason,
    Request,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    Usage,
)


@dataclass(frozen=True)
class Reply:
    """Answer ``text`` (streamed in ``chunks`` pieces) and ``tool_calls``."""

    text: str = ""
    tool_calls: Sequence[ToolCall] = ()
    usage: Usage = field(default_factory=lambda: Usage(10, 5))
    chunks: int = 3
    delay: float = 0.0


@dataclass(frozen=True)
class Fail:
    """Raise a ``ProviderError`` of ``kind`` (after streaming ``after_tokens`` pieces of text)."""

    kind: ErrorKind = "server"
    status: int | None = None
    after_tokens: int = 0
    retry_after: float | None = None
    message: str = "scripted failure"


@dataclass(frozen=True)
class Hang:
    """Never answer (until cancelled)."""


Step = Reply | Fail | Hang


class ScriptedProvider(Provider):
    protocol = "scripted"

    def __init__(
        self,
        name: str = "fake",
        script: Iterable[Step] = (),
        *,
        default_model: str = "fake-model",
        repeat_last: bool = True,
    ) -> None:
        super().__init__(name, default_model=default_model)
        self.script = list(script)
        self.repeat_last = repeat_last
        self.requests: list[Request] = []

    @property
    def calls(self) -> int:
        return len(self.requests)

    def _next(self) -> Step:
        if not self.script:
            return Reply("ok")
        if len(self.script) == 1 and self.repeat_last:
            return self.script[0]
        return self.script.pop(0)

    def _error(self, step: Fail, model: str) -> ProviderError:
        return ProviderError(
            step.message,
            provider=self.name,
            kind=step.kind,
            status=step.status,
            retry_after=step.retry_after,
            model=model,
        )

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        model = self.model_for(request)
        step = self._next()
        if isinstance(step, Hang):
            await asyncio.Event().wait()
            return
        if isinstance(step, Fail):
            for i in range(step.after_tokens):
                yield TextDelta(f"t{i} ")
            raise self._error(step, model)
        for piece in _split(step.text, step.chunks):
            if step.delay:
                await asyncio.sleep(step.delay)
            yield TextDelta(piece)
        for call in step.tool_calls:
            yield ToolCallEvent(call)
        finish: FinishReason = "tool_calls" if step.tool_calls else "stop"
        yield Done(Completion(step.text, self.name, model, tuple(step.tool_calls), step.usage, finish))


def _split(text: str, n: int) -> list[str]:
    if not text:
        return []
    n = max(1, min(n, len(text)))
    size = -(-len(text) // n)
    return [text[i : i + size] for i in range(0, len(text), size)]


class LoopbackServer:
    """An aiohttp application served on 127.0.0.1 (a free port) from a thread of its own,
    so async tests and synchronous CLI tests can both talk to a wire-format double.

        with LoopbackServer(app) as server:
            provider = OpenAICompatProvider("x", base_url=server.url + "/v1")
    """

    def __init__(self, app: Any, *, shutdown_timeout: float = 0.2) -> None:
        self.app = app
        self.shutdown_timeout = shutdown_timeout
        self.url = ""
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._runner: Any = None

    def start(self) -> str:
        from aiohttp import web

        ready = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            try:
                runner = web.AppRunner(self.app, shutdown_timeout=self.shutdown_timeout, access_log=None)
                loop.run_until_complete(runner.setup())
                site = web.TCPSite(runner, "127.0.0.1", 0)
                loop.run_until_complete(site.start())
                port = runner.addresses[0][1]
                self._runner = runner
                self.url = f"http://127.0.0.1:{port}"
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            loop.run_forever()
            pending = asyncio.all_tasks(loop)
            for task in pending:
                task.cancel()  # handlers still hanging on purpose
            loop.run_until_complete(asyncio.gather(*pending, return_exceptions=True))
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()

        self._thread = threading.Thread(target=run, name="loopback-server", daemon=True)
        self._thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]
        return self.url

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
        self._loop = self._thread = None

    def __enter__(self) -> LoopbackServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
