"""Reading Server-Sent Events from an HTTP response, line by line."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class SSEMessage:
    event: str
    data: str
    id: str | None = None


async def parse_sse(lines: AsyncIterator[str]) -> AsyncIterator[SSEMessage]:
    """Messages of an SSE stream (``event:``/``data:``/``id:`` fields, blank-line terminated;
    comment lines starting with ``:`` are skipped)."""
    event = "message"
    data: list[str] = []
    ident: str | None = None
    async for raw in lines:
        line = raw.rstrip("\r\n")
        if not line:
            if data:
                yield SSEMessage(event, "\n".join(data), ident)
            event, data, ident = "message", [], None
            continue
        if line.startswith(":"):
            continue
        name, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
        elif name == "id":
            ident = value
    if data:
        yield SSEMessage(event, "\n".join(data), ident)
