"""Request bodies: at most ``max_bytes``, and JSON.

A declared ``Content-Length`` over the limit is refused before a byte is read; a chunked
body is counted as it arrives and refused when it passes the limit (413 either way, the
limit named in the message). A body sent with a media type other than JSON gets 415.
"""

from __future__ import annotations

import orjson
from starlette.exceptions import HTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaos.api.errors import error_body

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class PayloadTooLargeError(HTTPException):
    def __init__(self, limit: int) -> None:
        super().__init__(413, f"request body over the limit of {limit} bytes")


def _is_json(content_type: bytes) -> bool:
    media = content_type.split(b";", 1)[0].strip().lower()
    return media == b"application/json" or (media.startswith(b"application/") and media.endswith(b"+json"))


class BodyLimitMiddleware:
    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        length: int | None = None
        content_type: bytes | None = None
        chunked = False
        for name, value in scope["headers"]:
            if name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    length = None
            elif name == b"content-type":
                content_type = value
            elif name == b"transfer-encoding" and b"chunked" in value.lower():
                chunked = True
        limit = self.max_bytes
        if length is not None and length > limit:
            await _refuse(send, 413, "payload_too_large", f"request body over the limit of {limit} bytes")
            return
        has_body = chunked or (length is not None and length > 0)
        if has_body and (content_type is None or not _is_json(content_type)):
            what = content_type.decode("latin-1") if content_type else "no Content-Type"
            await _refuse(
                send, 415, "unsupported_media_type", f"send the body as application/json, not {what}"
            )
            return
        received = 0

        async def counted() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > limit:
                    raise PayloadTooLargeError(limit)
            return message

        await self.app(scope, counted, send)


async def _refuse(send: Send, status: int, code: str, message: str) -> None:
    body = orjson.dumps(error_body(status, code, message))
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
