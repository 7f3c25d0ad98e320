"""Test helpers that ship with the package: a real uvicorn server for an app, on a free
loopback port, in a thread of its own (so sync and async clients both work)::

    with LiveServer(create_app(runtime)) as server:
        httpx.get(server.url + "/health")
"""

from __future__ import annotations

import asyncio
import threading
import time
from typing import Any

from vaos.api.daemon import _Server, bind_socket, url_of, uvicorn_config


class LiveServer:
    def __init__(
        self, app: Any, *, host: str = "127.0.0.1", port: int = 0, log_level: str = "warning"
    ) -> None:
        self.app = app
        self.host = host
        self.port = port
        self.log_level = log_level
        self.url = ""
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.loop: asyncio.AbstractEventLoop | None = None

    def start(self, timeout: float = 30.0) -> str:
        sock = bind_socket(self.host, self.port)
        self.url = url_of(sock)
        server = self._server = _Server(uvicorn_config(self.app, log_level=self.log_level))

        def run() -> None:
            loop = asyncio.new_event_loop()
            self.loop = loop
            try:
                loop.run_until_complete(server.serve(sockets=[sock]))
            except BaseException as exc:
                self._error = exc
            finally:
                sock.close()
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        self._thread = threading.Thread(target=run, name="vaos-live-server", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the server did not start: {self._error!r}")
            time.sleep(0.005)
        return self.url

    def call(self, coro: Any, timeout: float = 30.0) -> Any:
        """Run a coroutine on the server's event loop (to reach its runtime) and wait."""
        assert self.loop is not None
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def stop(self, timeout: float = 15.0) -> None:
        server, thread = self._server, self._thread
        if server is not None:
            ctx = getattr(getattr(self.app, "state", None), "vaos", None)
            if ctx is not None and self.loop is not None and self.loop.is_running():
                self.loop.call_soon_threadsafe(ctx.hub.close_streams)
            server.should_exit = True
        if thread is not None:
            thread.join(timeout)
        self._server = self._thread = None

    def __enter__(self) -> LiveServer:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def fake_openai_app(
    text: str = "Hello from the fake model.",
    *,
    chunks: int = 8,
    delay: float = 0.0,
    prompt_tokens: int = 12,
) -> Any:
    """An aiohttp app speaking OpenAI Chat Completions (``/v1/chat/completions``, streamed or
    not, with usage; ``/v1/models``) that always answers ``text`` — a model on loopback for
    tests and benchmarks (serve it with ``vaos.providers.testing.LoopbackServer``).
    ``delay`` is slept once before answering (time to first token)."""
    import orjson
    from aiohttp import web

    words = text.split(" ")
    size = max(1, -(-len(words) // max(1, chunks)))
    pieces = [
        " ".join(words[i : i + size]) + (" " if i + size < len(words) else "")
        for i in range(0, len(words), size)
    ]
    completion_tokens = len(words)
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }

    async def completions(request: web.Request) -> web.StreamResponse:
        body = orjson.loads(await request.read())
        model = str(body.get("model") or "fake-model")
        if delay:
            await asyncio.sleep(delay)
        head = {"id": "chatcmpl-fake", "created": 1_700_000_000, "model": model}
        if not body.get("stream"):
            answer = {
                **head,
                "object": "chat.completion",
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
                ],
                "usage": usage,
            }
            return web.Response(body=orjson.dumps(answer), content_type="application/json")
        response = web.StreamResponse(
            headers={"Content-Type": "text/event-stream", "Cache-Control": "no-cache"}
        )
        await response.prepare(request)
        chunk = {**head, "object": "chat.completion.chunk"}
        frames = [{**chunk, "choices": [{"index": 0, "delta": {"role": "assistant", "content": ""}}]}]
        frames += [{**chunk, "choices": [{"index": 0, "delta": {"content": p}}]} for p in pieces]
        frames.append({**chunk, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
        if (body.get("stream_options") or {}).get("include_usage"):
            frames.append({**chunk, "choices": [], "usage": usage})
        await response.write(
            b"".join(b"data: %s\n\n" % orjson.dumps(f) for f in frames) + b"data: [DONE]\n\n"
        )
        await response.write_eof()
        return response

    async def models(_: web.Request) -> web.Response:
        data = {
            "object": "list",
            "data": [{"id": "fake-model", "object": "model", "created": 0, "owned_by": "fake"}],
        }
        return web.Response(body=orjson.dumps(data), content_type="application/json")

    app = web.Application()
    app.router.add_post("/v1/chat/completions", completions)
    app.router.add_get("/v1/models", models)
    return app
