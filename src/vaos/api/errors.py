"""The one error shape of the HTTP API, and the handlers that produce it.

Every error is ``{"error": {"code", "message", "type", "param"}}``: ``code`` and ``message``
are the contract (INTERFACES.md section 2); ``type`` and ``param`` make the same body an
OpenAI error, so OpenAI SDKs raise their usual exceptions. Client input gets a 4xx, never a
5xx: bad JSON 400, schema violations 422 (400 on the OpenAI-compatible routes, as OpenAI
answers), unknown things 404, oversized bodies 413, wrong media types 415.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

import orjson
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

logger = logging.getLogger(__name__)

_TYPES = {400: "invalid_request_error", 401: "authentication_error", 403: "permission_error"}
_HTTP_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    406: "not_acceptable",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "invalid_request",
    429: "rate_limited",
    501: "not_implemented",
    502: "upstream_error",
    503: "unavailable",
}
OPENAI_PREFIX = "/v1/"


class ErrorBody(BaseModel):
    code: str = Field(description="Machine-readable error code, e.g. `invalid_request`.")
    message: str = Field(description="What went wrong, for people.")
    type: str | None = Field(default=None, description="OpenAI-style error class.")
    param: str | None = Field(default=None, description="The offending field, when one is to blame.")


class ErrorResponse(BaseModel):
    """Every error of the API."""

    error: ErrorBody


def error_type(status: int) -> str:
    if status in _TYPES:
        return _TYPES[status]
    if status == 429:
        return "rate_limit_error"
    if status == 404:
        return "not_found_error"
    return "invalid_request_error" if status < 500 else "api_error"


class ApiError(Exception):
    """Raise anywhere in a route: becomes the error envelope with ``status``."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        *,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.param = param
        self.headers = dict(headers or {})


class JSONBytes(Response):
    """A JSON response encoded with orjson (dataclasses, datetimes and numpy-free dicts)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return orjson.dumps(content, option=orjson.OPT_NON_STR_KEYS)


def error_body(status: int, code: str, message: str, param: str | None = None) -> dict[str, Any]:
    return {"error": {"code": code, "message": message, "type": error_type(status), "param": param}}


def error_response(
    status: int,
    code: str,
    message: str,
    *,
    param: str | None = None,
    headers: Mapping[str, str] | None = None,
) -> Response:
    return JSONBytes(
        error_body(status, code, message, param), status_code=status, headers=dict(headers or {})
    )


def _location(loc: Sequence[Any]) -> str:
    parts = [str(p) for p in loc if p not in ("body", "query", "path", "header")]
    return ".".join(parts)


def describe_validation(errors: Sequence[Any]) -> tuple[str, str, str | None]:
    """(code, message, param) for pydantic/FastAPI validation errors."""
    if not errors:
        return "invalid_request", "invalid request", None
    first = errors[0]
    if isinstance(first, Mapping) and first.get("type") == "json_invalid":
        detail = (first.get("ctx") or {}).get("error") or first.get("msg") or "invalid JSON"
        return "invalid_json", f"the body is not valid JSON: {detail}", None
    parts = []
    for err in errors[:3]:
        if not isinstance(err, Mapping):
            parts.append(str(err))
            continue
        where = _location(err.get("loc") or ())
        msg = str(err.get("msg") or "invalid")
        parts.append(f"{where}: {msg}" if where else msg)
    more = f" (and {len(errors) - 3} more)" if len(errors) > 3 else ""
    param = _location(first.get("loc") or ()) if isinstance(first, Mapping) else None
    return "invalid_request", "; ".join(parts) + more, param or None


async def _api_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ApiError)
    return error_response(exc.status, exc.code, exc.message, param=exc.param, headers=exc.headers)


async def _http_error(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, StarletteHTTPException)
    status = exc.status_code
    code = _HTTP_CODES.get(status, "error" if status >= 500 else "bad_request")
    message = exc.detail if isinstance(exc.detail, str) else str(exc.detail)
    if status == 404 and message == "Not Found":
        message = "no such endpoint"
    return error_response(status, code, message, headers=getattr(exc, "headers", None))


async def _validation_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, RequestValidationError)
    errors = exc.errors()
    code, message, param = describe_validation(errors)
    openai = request.url.path.startswith(OPENAI_PREFIX)
    status = 400 if code == "invalid_json" or openai else 422
    return error_response(status, code, message, param=param)


async def _unexpected(_: Request, exc: Exception) -> Response:
    logger.exception("unhandled error in the HTTP API", exc_info=exc)
    return error_response(500, "internal_error", "internal error; see the server log")


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(ApiError, _api_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(Exception, _unexpected)


def _ref(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


# The error responses every operation may give (merged into each route's OpenAPI entry).
COMMON_ERRORS: dict[int | str, dict[str, Any]] = {
    400: _ref("Malformed request (bad JSON)"),
    413: _ref("Request body over the size limit"),
    415: _ref("Body is not JSON"),
    422: _ref("Request does not match the schema"),
    429: _ref("Rate limit exceeded; see `Retry-After`"),
}
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: _ref("Missing or invalid bearer token")}
NOT_FOUND: dict[int | str, dict[str, Any]] = {404: _ref("No such resource")}
CONFLICT: dict[int | str, dict[str, Any]] = {409: _ref("It exists already")}
UPSTREAM: dict[int | str, dict[str, Any]] = {
    502: _ref("No provider gave an answer"),
    503: _ref("Paused by a kernel command, or every provider's circuit is open; see `Retry-After`"),
}

# Server-Sent Events: each event (as OpenAPI 3.1 tools read a stream) has these fields.
SSE_EVENT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "event": {"type": "string"},
        "data": {"type": "string", "description": "One line of JSON."},
        "id": {"type": "string"},
        "retry": {"type": "integer"},
    },
}


def sse_response(description: str) -> dict[int | str, dict[str, Any]]:
    return {200: {"description": description, "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}}}}
