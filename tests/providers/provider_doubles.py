"""Helpers for the wire-format doubles (imported by the test modules of this folder)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from aiohttp import web

from vaos.providers.base import Provider, collect
from vaos.providers.errors import ProviderError
from vaos.providers.types import Completion, Request

HANG_SECONDS = 30


async def hang() -> None:
    await asyncio.sleep(HANG_SECONDS)


def sse(data: Any, event: str | None = None) -> bytes:
    head = f"event: {event}\n" if event else ""
    payload = data if isinstance(data, str) else json.dumps(data)
    return f"{head}data: {payload}\n\n".encode()


async def start_stream(request: web.Request, content_type: str = "text/event-stream") -> web.StreamResponse:
    response = web.StreamResponse(headers={"Content-Type": content_type})
    await response.prepare(request)
    return response


async def cut(request: web.Request) -> web.StreamResponse:
    """Drop the connection mid-response."""
    assert request.transport is not None
    request.transport.close()
    return web.StreamResponse()


async def run(provider: Provider, request: Request, streaming: bool) -> Completion:
    """``complete``, or ``stream`` drained to its completion."""
    if not streaming:
        return await provider.complete(request)
    return await collect(provider.stream(request), provider=provider.name)


async def events_until_error(provider: Provider, request: Request) -> tuple[list[Any], ProviderError | None]:
    """The events a stream gave before it failed, and the error (None if it did not fail)."""
    seen: list[Any] = []
    try:
        async for event in provider.stream(request):
            seen.append(event)
    except ProviderError as exc:
        return seen, exc
    return seen, None


async def failure(provider: Provider, request: Request, streaming: bool) -> ProviderError:
    """The ``ProviderError`` a call raises (fails the test when it does not raise)."""
    try:
        await run(provider, request, streaming)
    except ProviderError as exc:
        return exc
    raise AssertionError("the call did not fail")
