"""One error type for every provider: what went wrong, the provider's status, and whether
trying again could help.
"""

from __future__ import annotations

import email.utils
import time
from typing import Literal

ErrorKind = Literal[
    "auth",  # 401/403: the key is missing, wrong or not allowed
    "bad_request",  # 400/422 and other 4xx: the request itself is wrong
    "not_found",  # 404: unknown model or endpoint
    "rate_limited",  # 429
    "overloaded",  # 503/529
    "server",  # other 5xx
    "timeout",  # no answer (or no next chunk) in time
    "connection",  # could not connect, or the connection broke
    "stream_cut",  # a stream ended without its end marker
    "invalid_response",  # an answer we cannot parse
    "config",  # misconfigured locally (missing key, missing extra, missing model file)
    "unavailable",  # circuit open, or no provider left to try
]

RETRYABLE_KINDS: frozenset[ErrorKind] = frozenset(
    {"rate_limited", "overloaded", "server", "timeout", "connection", "stream_cut"}
)
#: Kinds that say something about the provider's health (they count for its circuit breaker).
HEALTH_KINDS: frozenset[ErrorKind] = RETRYABLE_KINDS | {"auth"}


class ProviderError(Exception):
    """A provider call failed.

    ``status`` is the provider's HTTP status when there was one; ``retryable`` says whether the
    same call may succeed later; ``retry_after`` is the provider's own hint in seconds.
    """

    def __init__(
        self,
        message: str,
        *,
        provider: str,
        kind: ErrorKind,
        status: int | None = None,
        retryable: bool | None = None,
        retry_after: float | None = None,
        model: str | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.provider = provider
        self.kind: ErrorKind = kind
        self.status = status
        self.retryable = kind in RETRYABLE_KINDS if retryable is None else retryable
        self.retry_after = retry_after
        self.model = model

    def __str__(self) -> str:
        status = f" HTTP {self.status}" if self.status is not None else ""
        return f"{self.provider}: {self.kind}{status}: {self.message}"

    @property
    def counts_against_health(self) -> bool:
        return self.kind in HEALTH_KINDS

    def to_dict(self) -> dict[str, object]:
        return {
            "provider": self.provider,
            "model": self.model,
            "kind": self.kind,
            "status": self.status,
            "retryable": self.retryable,
            "retry_after": self.retry_after,
            "message": self.message,
        }


def kind_for_status(status: int) -> ErrorKind:
    if status in (401, 403):
        return "auth"
    if status == 404:
        return "not_found"
    if status == 408:
        return "timeout"
    if status == 429:
        return "rate_limited"
    if status in (503, 529):
        return "overloaded"
    if status >= 500:
        return "server"
    return "bad_request"


def error_for_status(
    provider: str,
    status: int,
    message: str,
    *,
    retry_after: float | None = None,
    model: str | None = None,
) -> ProviderError:
    """The error for an HTTP status (409 is retryable too: a conflict that clears)."""
    kind = kind_for_status(status)
    retryable = True if status == 409 else None
    return ProviderError(
        message or f"HTTP {status}",
        provider=provider,
        kind=kind,
        status=status,
        retryable=retryable,
        retry_after=retry_after,
        model=model,
    )


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header: integer/float seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError, IndexError):
            return None
        seconds = when.timestamp() - (time.time() if now is None else now)
    return max(0.0, seconds)


def retry_after_from_headers(headers: object) -> float | None:
    """``retry-after-ms`` or ``retry-after`` from any mapping of headers."""
    get = getattr(headers, "get", None)
    if get is None:
        return None
    ms = get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000.0)
        except ValueError:
            pass
    value = get("retry-after")
    return parse_retry_after(value if isinstance(value, str) else None)
