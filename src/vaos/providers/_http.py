"""The HTTP plumbing of the native protocol modules (Gemini, Cohere, Replicate, Ollama).

aiohttp underneath (the OpenAI and Anthropic SDKs use it too, through their aiohttp
transport): on this machine an httpx pool stalled under load where aiohttp did not. The
session is injectable, so tests and callers may share one.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any, ClassVar

import aiohttp

from vaos.providers.base import Provider
from vaos.providers.errors import ProviderError, error_for_status, retry_after_from_headers

DEFAULT_CONNECT_TIMEOUT = 10.0
DEFAULT_READ_TIMEOUT = 120.0
MAX_LINE_BYTES = 8 * 1024 * 1024


class HttpClient:
    """A lazily created ``aiohttp.ClientSession`` plus error mapping for one provider."""

    def __init__(
        self,
        provider: str,
        *,
        session: aiohttp.ClientSession | None = None,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        read_timeout: float = DEFAULT_READ_TIMEOUT,
    ) -> None:
        self.provider = provider
        self._session = session
        self._owns_session = session is None
        self.timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_timeout, sock_read=read_timeout)

    @property
    def session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self.timeout, read_bufsize=2**16)
            self._owns_session = True
        return self._session

    async def aclose(self) -> None:
        if self._session is not None and self._owns_session and not self._session.closed:
            await self._session.close()
        self._session = None

    async def request_json(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        model: str | None = None,
        deadline: float | None = None,
    ) -> Any:
        """Send, check the status, and decode the JSON answer (within ``deadline`` seconds)."""
        try:
            async with asyncio.timeout(deadline):
                async with self.session.request(
                    method, url, json=json_body, headers=headers, timeout=self.timeout
                ) as response:
                    await self.raise_for_status(response, model=model)
                    text = await response.text()
        except ProviderError:
            raise
        except Exception as exc:
            raise self.map_exception(exc, model=model) from exc
        try:
            return json.loads(text) if text else None
        except ValueError as exc:
            raise ProviderError(
                f"the answer is not JSON: {text[:200]!r}", provider=self.provider, kind="invalid_response"
            ) from exc

    @asynccontextmanager
    async def open_stream(
        self,
        method: str,
        url: str,
        *,
        json_body: Any = None,
        headers: Mapping[str, str] | None = None,
        model: str | None = None,
    ) -> AsyncIterator[aiohttp.ClientResponse]:
        """A response whose status is OK, for reading line by line."""
        try:
            response = await self.session.request(
                method, url, json=json_body, headers=headers, timeout=self.timeout
            )
        except Exception as exc:
            raise self.map_exception(exc, model=model) from exc
        try:
            await self.raise_for_status(response, model=model)
            yield response
        finally:
            response.release()

    async def raise_for_status(self, response: aiohttp.ClientResponse, *, model: str | None) -> None:
        if response.status < 400:
            return
        try:
            body = await response.text()
        except Exception:
            body = ""
        raise error_for_status(
            self.provider,
            response.status,
            error_message(body) or response.reason or "",
            retry_after=retry_after_from_headers(response.headers),
            model=model,
        )

    def map_exception(self, exc: BaseException, *, model: str | None = None) -> ProviderError:
        return map_transport_error(self.provider, exc, model=model)


def map_transport_error(provider: str, exc: BaseException, *, model: str | None = None) -> ProviderError:
    """A ``ProviderError`` for an exception raised by the transport."""
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError | aiohttp.ServerTimeoutError):
        return ProviderError("no answer in time", provider=provider, kind="timeout", model=model)
    if isinstance(exc, aiohttp.ClientPayloadError | aiohttp.ServerDisconnectedError):
        return ProviderError(
            f"the connection broke: {exc}", provider=provider, kind="stream_cut", model=model
        )
    if isinstance(exc, aiohttp.ClientError | OSError):
        return ProviderError(
            f"{type(exc).__name__}: {exc}", provider=provider, kind="connection", model=model
        )
    return ProviderError(
        f"unexpected {type(exc).__name__}: {exc}", provider=provider, kind="invalid_response", model=model
    )


def error_message(body: str) -> str:
    """The human part of an error body: ``error.message``, ``error``, ``message`` or ``detail``."""
    body = body.strip()
    if not body:
        return ""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:300]
    if isinstance(data, list) and data:
        data = data[0]
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict):
            msg = err.get("message") or err.get("status")
            if msg:
                return str(msg)
        if isinstance(err, str) and err:
            return err
        for key in ("message", "detail", "msg"):
            if data.get(key):
                return str(data[key])
    return body[:300]


async def iter_lines(response: aiohttp.ClientResponse) -> AsyncIterator[bytes]:
    """Lines of the body without their line ending (a last unterminated line included)."""
    buffer = b""
    async for chunk in response.content.iter_any():
        buffer += chunk
        if len(buffer) > MAX_LINE_BYTES and b"\n" not in buffer:
            raise ValueError("a line of the stream is too long")
        *lines, buffer = buffer.split(b"\n")
        for line in lines:
            yield line.removesuffix(b"\r")
    if buffer:
        yield buffer.removesuffix(b"\r")


async def iter_ndjson(response: aiohttp.ClientResponse) -> AsyncIterator[dict[str, Any]]:
    """One JSON object per non-empty line."""
    async for line in iter_lines(response):
        if line.strip():
            value = json.loads(line)
            if isinstance(value, dict):
                yield value


async def iter_sse(response: aiohttp.ClientResponse) -> AsyncIterator[tuple[str, str]]:
    """Server-sent events as ``(event, data)``; ``event`` is ``message`` unless named."""
    event, data = "message", list[str]()
    async for line in iter_lines(response):
        if not line:
            if data:
                yield event, "\n".join(data)
            event, data = "message", []
            continue
        text = line.decode("utf-8")
        if text.startswith(":"):
            continue
        name, _, value = text.partition(":")
        value = value.removeprefix(" ")
        if name == "event":
            event = value
        elif name == "data":
            data.append(value)
    if data:
        yield event, "\n".join(data)


class RestProvider(Provider):
    """A provider spoken over plain HTTP: base URL, key and one ``HttpClient``.

    Subclasses name their defaults as class attributes (``default_name``,
    ``default_base_url``) and need no constructor of their own unless they take more.
    """

    default_name: ClassVar[str] = "rest"
    default_base_url: ClassVar[str] = ""

    def __init__(
        self,
        name: str | None = None,
        *,
        api_key: str | None,
        base_url: str | None = None,
        default_model: str | None = None,
        timeout: float = DEFAULT_READ_TIMEOUT,
        connect_timeout: float = DEFAULT_CONNECT_TIMEOUT,
        session: aiohttp.ClientSession | None = None,
    ) -> None:
        name = name or self.default_name
        super().__init__(name, default_model=default_model)
        self.base_url = (base_url or self.default_base_url).rstrip("/")
        self._api_key = api_key
        self.http = HttpClient(name, session=session, connect_timeout=connect_timeout, read_timeout=timeout)

    async def aclose(self) -> None:
        await self.http.aclose()
