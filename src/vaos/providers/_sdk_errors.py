"""Errors raised by the official SDKs (OpenAI, Anthropic) and their httpx2/aiohttp transport,
mapped to ``ProviderError``. Both SDKs share one structure, so this goes by duck typing.
"""

from __future__ import annotations

from vaos.providers._http import error_message, map_transport_error
from vaos.providers.errors import ErrorKind, ProviderError, error_for_status, retry_after_from_headers

_TIMEOUT_NAMES = frozenset(
    {"APITimeoutError", "TimeoutException", "ReadTimeout", "ConnectTimeout", "PoolTimeout"}
)
_CUT_NAMES = frozenset({"ReadError", "RemoteProtocolError", "StreamError", "CloseError"})
_CONNECT_NAMES = frozenset({"APIConnectionError", "ConnectError", "NetworkError", "TransportError"})


def map_sdk_error(provider: str, exc: BaseException, *, model: str | None = None) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    status = getattr(exc, "status_code", None)
    response = getattr(exc, "response", None)
    if isinstance(status, int) and status < 400:
        # an error event inside a 200 stream: the provider failed while answering
        return _stream_error(provider, getattr(exc, "body", None), str(exc), model)
    if isinstance(status, int):
        body = getattr(exc, "body", None)
        message = _body_message(body) or getattr(exc, "message", "") or str(exc)
        headers = getattr(response, "headers", None)
        return error_for_status(
            provider, status, message, retry_after=retry_after_from_headers(headers), model=model
        )
    root = _aiohttp_cause(exc)
    if root is not None:
        # the aiohttp transport maps a dropped connection to a "connect timeout"; the cause tells
        return map_transport_error(provider, root, model=model)
    names = {cls.__name__ for cls in type(exc).__mro__}
    if names & _TIMEOUT_NAMES:
        return ProviderError("no answer in time", provider=provider, kind="timeout", model=model)
    if names & _CUT_NAMES:
        return ProviderError(
            f"the connection broke: {exc}", provider=provider, kind="stream_cut", model=model
        )
    if names & _CONNECT_NAMES:
        return ProviderError(f"cannot connect: {exc}", provider=provider, kind="connection", model=model)
    if "APIError" in names:
        return _stream_error(provider, getattr(exc, "body", None), str(exc), model)
    return map_transport_error(provider, exc, model=model)


_ERROR_TYPES: dict[str, ErrorKind] = {
    "overloaded_error": "overloaded",
    "rate_limit_error": "rate_limited",
    "rate_limit_exceeded": "rate_limited",
    "authentication_error": "auth",
    "permission_error": "auth",
    "invalid_request_error": "bad_request",
    "not_found_error": "not_found",
}


def _stream_error(provider: str, body: object, fallback: str, model: str | None) -> ProviderError:
    """An error event inside a 200 stream: the provider failed while answering."""
    err = body.get("error", body) if isinstance(body, dict) else None
    kind: ErrorKind = "server"
    if isinstance(err, dict):
        kind = _ERROR_TYPES.get(str(err.get("type") or err.get("code") or ""), "server")
    message = _body_message(body) or fallback
    return ProviderError(message, provider=provider, kind=kind, model=model)


def _body_message(body: object) -> str:
    if body is None:
        return ""
    if isinstance(body, dict):
        import json

        return error_message(json.dumps(body))
    return error_message(str(body))


def _aiohttp_cause(exc: BaseException) -> BaseException | None:
    """The aiohttp exception at the bottom of ``exc``'s cause chain, if any."""
    import aiohttp

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, aiohttp.ClientError):
            return current
        current = current.__cause__ or current.__context__
    return None
