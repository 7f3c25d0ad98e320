"""Running one model call along a routing decision: circuit breakers, retries, fallback,
cost and events.

``CallRunner.stream(request, decision)`` yields ``TextDelta`` and ``ToolCallEvent`` as they
come, then ``Finished`` with the ``CallResult``. A provider that fails before its first
token is retried (retryable errors) and then replaced by the next one in the chain; once a
token has been shown a failure cannot be undone, so the stream ends with ``StreamFailed``
(and an ``error`` event on the bus). ``complete`` is the same without the deltas.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import time
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from vaos.events import EventBus
from vaos.providers.errors import ProviderError
from vaos.providers.pricing import cost_usd
from vaos.providers.registry import ProviderRegistry
from vaos.providers.types import Completion, Done, Request, StreamEvent, TextDelta, ToolCallEvent, Usage
from vaos.routing.budget import BudgetTracker
from vaos.routing.decision import Route, RoutingDecision
from vaos.routing.retry import RetryPolicy
from vaos.tiers import Tier

DEFAULT_FIRST_TOKEN_TIMEOUT = 60.0
DEFAULT_IDLE_TIMEOUT = 120.0


@dataclass(frozen=True, slots=True)
class Attempt:
    """One try of one provider: its error, or why it was not tried."""

    provider: str
    model: str
    error: ProviderError | None = None
    skipped: str | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"provider": self.provider, "model": self.model}
        if self.error is not None:
            out["error"] = self.error.to_dict()
        if self.skipped is not None:
            out["skipped"] = self.skipped
        return out

    def describe(self) -> str:
        if self.skipped is not None:
            return f"{self.provider}: skipped ({self.skipped})"
        return str(self.error) if self.error is not None else f"{self.provider}: ok"


@dataclass(frozen=True, slots=True)
class CallResult:
    """A successful call: the completion and what it took."""

    completion: Completion
    tier: Tier
    cost_usd: Decimal | None
    latency_s: float
    first_token_s: float | None
    attempts: tuple[Attempt, ...] = ()

    @property
    def provider(self) -> str:
        return self.completion.provider

    @property
    def model(self) -> str:
        return self.completion.model

    def to_dict(self) -> dict[str, Any]:
        return {
            **self.completion.to_dict(),
            "tier": self.tier,
            "cost_usd": float(self.cost_usd) if self.cost_usd is not None else None,
            "latency_s": round(self.latency_s, 4),
            "first_token_s": round(self.first_token_s, 4) if self.first_token_s is not None else None,
            "failed_attempts": [a.to_dict() for a in self.attempts],
        }


@dataclass(frozen=True, slots=True)
class Finished:
    """The last event of a successful stream."""

    result: CallResult


@dataclass(frozen=True, slots=True)
class StreamFailed:
    """The stream broke after its first token: ``partial`` is what was already shown."""

    error: ProviderError
    partial: str
    provider: str
    model: str
    attempts: tuple[Attempt, ...] = ()


RunEvent = TextDelta | ToolCallEvent | Finished | StreamFailed


class RoutingError(Exception):
    """No provider of the chain gave an answer."""

    def __init__(self, message: str, attempts: tuple[Attempt, ...] = ()) -> None:
        super().__init__(message)
        self.attempts = attempts

    @classmethod
    def exhausted(cls, attempts: list[Attempt]) -> RoutingError:
        if not attempts:
            return cls("no provider to try")
        detail = "; ".join(a.describe() for a in attempts)
        return cls(f"every provider failed: {detail}", tuple(attempts))


class BudgetExceededError(RoutingError):
    pass


class StreamInterruptedError(RoutingError):
    """``complete`` saw a stream break after its first token."""

    def __init__(self, failed: StreamFailed) -> None:
        super().__init__(f"the answer broke off: {failed.error}", failed.attempts)
        self.failed = failed


class CallRunner:
    """Runs model calls for a ``ProviderRegistry`` (the seam the agent loop calls)."""

    def __init__(
        self,
        registry: ProviderRegistry,
        *,
        retry: RetryPolicy | None = None,
        bus: EventBus | None = None,
        budget: BudgetTracker | None = None,
        first_token_timeout: float = DEFAULT_FIRST_TOKEN_TIMEOUT,
        idle_timeout: float = DEFAULT_IDLE_TIMEOUT,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        rng: random.Random | None = None,
        clock: Callable[[], float] = time.perf_counter,
        emit_tokens: bool = True,
    ) -> None:
        self.registry = registry
        self.retry = retry or RetryPolicy()
        self.bus = bus
        self.budget = budget
        self.first_token_timeout = first_token_timeout
        self.idle_timeout = idle_timeout
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._clock = clock
        self.emit_tokens = emit_tokens

    async def _emit(
        self, kind: str, data: dict[str, Any], session_id: str | None, agent_id: str | None
    ) -> None:
        if self.bus is not None:
            await self.bus.emit(kind, data, session_id=session_id, agent_id=agent_id)

    async def complete(
        self,
        request: Request,
        decision: RoutingDecision,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
    ) -> CallResult:
        """The whole answer, or ``RoutingError``."""
        async for event in self.stream(request, decision, session_id=session_id, agent_id=agent_id):
            if isinstance(event, Finished):
                return event.result
            if isinstance(event, StreamFailed):
                raise StreamInterruptedError(event)
        raise RoutingError("the call ended without a result")  # pragma: no cover

    async def stream(
        self,
        request: Request,
        decision: RoutingDecision,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
    ) -> AsyncIterator[RunEvent]:
        """Deltas, then ``Finished`` or ``StreamFailed``; ``RoutingError`` if nothing came."""
        if decision.refused:
            await self._emit("error", {"kind": "budget", "message": decision.refused}, session_id, agent_id)
            raise BudgetExceededError(f"over budget: {decision.refused}")
        request = decision.apply(request)
        attempts: list[Attempt] = []
        for route in decision.chain:
            async with contextlib.aclosing(
                self._try_route(request, route, decision, attempts, session_id, agent_id)
            ) as events:
                async for event in events:
                    yield event
                    if isinstance(event, Finished | StreamFailed):
                        return
        error = RoutingError.exhausted(attempts)
        await self._emit(
            "error",
            {"kind": "routing", "message": str(error), "attempts": [a.to_dict() for a in attempts]},
            session_id,
            agent_id,
        )
        raise error

    async def _try_route(
        self,
        request: Request,
        route: Route,
        decision: RoutingDecision,
        attempts: list[Attempt],
        session_id: str | None,
        agent_id: str | None,
    ) -> AsyncGenerator[RunEvent]:
        breaker = self.registry.breakers[route.provider]
        try:
            provider = self.registry.get(route.provider)
        except ProviderError as exc:
            attempts.append(Attempt(route.provider, route.model, error=exc))
            return
        call = request.with_model(route.model)
        tries = 0
        while True:
            if not breaker.acquire():
                snap = breaker.snapshot()
                why = (
                    f"rate limited for {snap.rate_limited_for:.1f} s"
                    if snap.rate_limited_for > 0
                    else f"circuit {snap.state}, retry in {snap.retry_in:.1f} s"
                )
                attempts.append(Attempt(route.provider, route.model, skipped=why))
                return
            tries += 1
            await self._emit(
                "llm_request",
                {"provider": route.provider, "model": route.model, "tier": decision.tier, "attempt": tries},
                session_id,
                agent_id,
            )
            started = self._clock()
            first_token: float | None = None
            shown: list[str] = []
            events = provider.stream(call)
            settled = False
            try:
                while True:
                    limit = self.first_token_timeout if first_token is None else self.idle_timeout
                    try:
                        async with asyncio.timeout(limit):
                            event: StreamEvent = await anext(events)
                    except StopAsyncIteration:
                        raise ProviderError(
                            "the stream ended without a result",
                            provider=route.provider,
                            kind="stream_cut",
                            model=route.model,
                        ) from None
                    except TimeoutError:
                        what = "first token" if first_token is None else "next token"
                        raise ProviderError(
                            f"no {what} within {limit:g} s",
                            provider=route.provider,
                            kind="timeout",
                            model=route.model,
                        ) from None
                    if isinstance(event, Done):
                        breaker.record_success()
                        settled = True
                        result = await self._finish(
                            event.completion, decision, started, first_token, attempts, session_id, agent_id
                        )
                        yield Finished(result)
                        return
                    if first_token is None:
                        first_token = self._clock() - started
                    if isinstance(event, TextDelta):
                        shown.append(event.text)
                        if self.emit_tokens and self.bus is not None:
                            await self._emit("llm_token", {"text": event.text}, session_id, agent_id)
                    yield event
            except ProviderError as exc:
                settled = True
                err = exc if exc.model else _with_model(exc, route.model)
                if err.counts_against_health:
                    breaker.record_failure()
                else:
                    breaker.record_success()  # it answered: the request was at fault, not the provider
                if err.kind == "rate_limited" and err.retry_after:
                    breaker.rate_limited(err.retry_after)
                attempts.append(Attempt(route.provider, route.model, error=err))
                self._record(session_id, route, decision.tier, started, ok=False)
                if first_token is not None:
                    await self._emit(
                        "error",
                        {
                            "kind": "stream_interrupted",
                            "error": err.to_dict(),
                            "partial_chars": len("".join(shown)),
                        },
                        session_id,
                        agent_id,
                    )
                    yield StreamFailed(err, "".join(shown), route.provider, route.model, tuple(attempts))
                    return
                wait = self.retry.delay(tries, err, self._rng)
                if wait is None:
                    return
                await self._sleep(wait)
            finally:
                if not settled:
                    breaker.release()  # cancelled or closed by the consumer: no verdict
                await _aclose(events)

    def _record(self, session_id: str | None, route: Route, tier: Tier, started: float, *, ok: bool) -> None:
        if self.budget is not None and not ok:
            self.budget.record(
                session_id=session_id,
                provider=route.provider,
                model=route.model,
                tier=tier,
                usage=Usage(),
                latency_s=self._clock() - started,
                cost_usd=None,
                ok=False,
            )

    async def _finish(
        self,
        completion: Completion,
        decision: RoutingDecision,
        started: float,
        first_token: float | None,
        attempts: list[Attempt],
        session_id: str | None,
        agent_id: str | None,
    ) -> CallResult:
        latency = self._clock() - started
        cost = cost_usd(completion.provider, completion.model, completion.usage)
        result = CallResult(completion, decision.tier, cost, latency, first_token, tuple(attempts))
        if self.budget is not None:
            self.budget.record(
                session_id=session_id,
                provider=completion.provider,
                model=completion.model,
                tier=decision.tier,
                usage=completion.usage,
                latency_s=latency,
                cost_usd=cost,
            )
        await self._emit(
            "llm_response",
            {
                "provider": completion.provider,
                "model": completion.model,
                "tier": decision.tier,
                "usage": completion.usage.to_dict(),
                "cost_usd": float(cost) if cost is not None else None,
                "latency_s": round(latency, 4),
                "first_token_s": round(first_token, 4) if first_token is not None else None,
                "finish_reason": completion.finish_reason,
                "tool_calls": len(completion.tool_calls),
            },
            session_id,
            agent_id,
        )
        return result


def _with_model(error: ProviderError, model: str) -> ProviderError:
    error.model = model
    return error


async def _aclose(events: AsyncIterator[StreamEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):  # a provider failing to close has failed already
            await aclose()
