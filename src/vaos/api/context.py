"""Everything a route needs, built once when the app starts (``app.state.vaos``)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from fastapi import Request

from vaos.api.errors import ApiError

if TYPE_CHECKING:
    from vaos.api.auth import Authenticator
    from vaos.api.metrics import ApiMetrics
    from vaos.api.rate_limit import RateLimiter
    from vaos.api.runtime import RuntimeLike
    from vaos.api.sse import ReplayHub
    from vaos.config import Settings
    from vaos.signal.classifier import DeterministicClassifier
    from vaos.store.credentials import CredentialStore


@dataclass
class ApiContext:
    settings: Settings
    runtime: RuntimeLike
    classifier: DeterministicClassifier
    credentials: CredentialStore
    auth: Authenticator
    limiter: RateLimiter
    metrics: ApiMetrics
    hub: ReplayHub
    bind_host: str
    telemetry: Any = None
    started: float = field(default_factory=time.monotonic)
    shutting_down: asyncio.Event = field(default_factory=asyncio.Event)
    extras: dict[str, Any] = field(default_factory=dict)
    closers: list[Callable[[], Awaitable[None]]] = field(default_factory=list)

    async def aclose(self) -> None:
        """Close what routes made on first use (e.g. the swarm service), newest first."""
        while self.closers:
            await self.closers.pop()()

    @property
    def uptime_s(self) -> float:
        return time.monotonic() - self.started


def context_of(request: Request) -> ApiContext:
    ctx: ApiContext | None = getattr(request.app.state, "vaos", None)
    if ctx is None:
        raise ApiError(503, "starting", "the daemon is starting; retry in a moment")
    return ctx


def ensure_taking_work(request: Request, agent_id: str = "vaos") -> None:
    """503 while a signed ``pause`` command holds the agent (``vaos kernel command pause``)."""
    controller = getattr(request.app.state, "controller", None)
    if controller is not None and controller.is_paused(agent_id):
        raise ApiError(
            503,
            "paused",
            "the daemon is paused by a kernel command; it takes new work after `resume`",
            headers={"Retry-After": "30"},
        )
