"""Rate limits per client: token buckets, and the ASGI middleware that applies them.

Each client (its address as the server sees it; behind a proxy, uvicorn's
``--forwarded-allow-ips`` decides whether ``X-Forwarded-For`` counts) has one bucket per
class: ``auth`` for ``/api/v1/auth/*`` (10 a minute by default) and ``api`` for the rest of
``/api/v1/*`` and ``/v1/*`` (60 a minute). A bucket holds a minute's worth of requests and
refills continuously, fractions included (the original lost them and shared one bucket
between the classes). A refused request gets 429, the error envelope and ``Retry-After``:
the whole seconds until one request is allowed again.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import orjson
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from vaos.api.errors import error_body

AUTH_PREFIX = "/api/v1/auth/"
LIMITED_PREFIXES = ("/api/v1/", "/v1/")
MAX_BUCKETS = 50_000


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    limit: int
    remaining: int
    retry_after: int = 0


class RateLimiter:
    def __init__(
        self,
        per_minute: int = 60,
        auth_per_minute: int = 10,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.limits = {"api": per_minute, "auth": auth_per_minute}
        self._clock = clock
        self._buckets: dict[tuple[str, str], _Bucket] = {}
        self.refused = {"api": 0, "auth": 0}

    def check(self, client: str, klass: str) -> Verdict:
        """Take one request from ``client``'s ``klass`` bucket, if there is one to take."""
        limit = self.limits[klass]
        rate = limit / 60.0
        now = self._clock()
        key = (client, klass)
        bucket = self._buckets.get(key)
        if bucket is None:
            if len(self._buckets) >= MAX_BUCKETS:
                self._evict(now)
            bucket = self._buckets[key] = _Bucket(float(limit), now)
        else:
            bucket.tokens = min(float(limit), bucket.tokens + (now - bucket.updated) * rate)
            bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return Verdict(True, limit, int(bucket.tokens))
        self.refused[klass] += 1
        wait = max(1, math.ceil((1.0 - bucket.tokens) / rate))
        return Verdict(False, limit, 0, wait)

    def _evict(self, now: float) -> None:
        """Forget buckets that have refilled (they behave exactly like new ones)."""
        for key, bucket in list(self._buckets.items()):
            limit = self.limits[key[1]]
            if bucket.tokens + (now - bucket.updated) * limit / 60.0 >= limit:
                del self._buckets[key]
        if len(self._buckets) >= MAX_BUCKETS:  # everyone is busy: drop the stalest half
            stale = sorted(self._buckets.items(), key=lambda item: item[1].updated)
            for key, _ in stale[: len(stale) // 2]:
                del self._buckets[key]


def classify_path(path: str) -> str | None:
    """The bucket class of ``path``, or None when it is not rate limited."""
    if path.startswith(AUTH_PREFIX):
        return "auth"
    if path.startswith(LIMITED_PREFIXES):
        return "api"
    return None


class RateLimitMiddleware:
    def __init__(self, app: ASGIApp, limiter: RateLimiter) -> None:
        self.app = app
        self.limiter = limiter

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] == "OPTIONS":
            await self.app(scope, receive, send)
            return
        klass = classify_path(scope["path"])
        if klass is None:
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        verdict = self.limiter.check(client[0] if client else "unknown", klass)
        if not verdict.allowed:
            body = orjson.dumps(
                error_body(429, "rate_limited", f"too many requests: {verdict.limit} a minute; retry later")
            )
            await send(
                {
                    "type": "http.response.start",
                    "status": 429,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                        (b"retry-after", str(verdict.retry_after).encode()),
                        (b"x-ratelimit-limit", str(verdict.limit).encode()),
                        (b"x-ratelimit-remaining", b"0"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
            return
        extra = [
            (b"x-ratelimit-limit", str(verdict.limit).encode()),
            (b"x-ratelimit-remaining", str(verdict.remaining).encode()),
        ]

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message.get("headers", ()), *extra]
            await send(message)

        await self.app(scope, receive, send_with_headers)
