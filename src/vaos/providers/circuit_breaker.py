"""A circuit breaker per provider: closed -> open after ``threshold`` consecutive failures;
after ``reset_after`` seconds one probe is let through (half-open); its success closes the
circuit, its failure opens it again. Only one probe at a time. A provider's rate-limit hint
(Retry-After) also keeps it out of use until then.

The clock is injectable so tests do not wait 30 s.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

State = Literal["closed", "open", "half_open"]
Clock = Callable[[], float]
DEFAULT_THRESHOLD = 3
DEFAULT_RESET_AFTER = 30.0


@dataclass(frozen=True, slots=True)
class BreakerSnapshot:
    state: State
    failures: int
    opened_at: float | None
    retry_in: float
    rate_limited_for: float

    def to_dict(self) -> dict[str, object]:
        return {
            "state": self.state,
            "failures": self.failures,
            "retry_in_s": round(self.retry_in, 3),
            "rate_limited_for_s": round(self.rate_limited_for, 3),
        }


class CircuitBreaker:
    def __init__(
        self,
        name: str = "",
        *,
        threshold: int = DEFAULT_THRESHOLD,
        reset_after: float = DEFAULT_RESET_AFTER,
        clock: Clock = time.monotonic,
    ) -> None:
        if threshold < 1:
            raise ValueError("threshold must be at least 1")
        self.name = name
        self.threshold = threshold
        self.reset_after = reset_after
        self._clock = clock
        self._state: State = "closed"
        self._failures = 0
        self._opened_at: float | None = None
        self._probe_out = False
        self._blocked_until = 0.0

    @property
    def state(self) -> State:
        """The state now (an open circuit whose wait is over reads as half-open)."""
        if self._state == "open" and self._wait_over():
            return "half_open"
        return self._state

    def _wait_over(self) -> bool:
        return self._opened_at is not None and self._clock() - self._opened_at >= self.reset_after

    def available(self) -> bool:
        """Whether ``acquire`` would let a call through now (does not take the probe)."""
        if self._clock() < self._blocked_until:
            return False
        state = self.state
        return state == "closed" or (state == "half_open" and not self._probe_out)

    def acquire(self) -> bool:
        """Ask to make a call. In half-open, True for exactly one caller (the probe)."""
        if self._clock() < self._blocked_until:
            return False
        if self._state == "closed":
            return True
        if self._state == "open":
            if not self._wait_over():
                return False
            self._state = "half_open"
        if self._probe_out:
            return False
        self._probe_out = True
        return True

    def record_success(self) -> None:
        if self._state == "half_open":
            self._state = "closed"
            self._opened_at = None
        if self._state == "closed":
            self._failures = 0
        # a late success while open (a call admitted before the circuit opened) changes nothing
        self._probe_out = False

    def record_failure(self) -> None:
        self._failures += 1
        if self._state == "half_open" or (self._state == "closed" and self._failures >= self.threshold):
            self._state = "open"
            self._opened_at = self._clock()
        self._probe_out = False

    def release(self) -> None:
        """The admitted call ended without saying anything about health (e.g. cancelled)."""
        if self._state == "half_open":
            self._probe_out = False

    def rate_limited(self, seconds: float) -> None:
        """Keep callers away for ``seconds`` (the provider's Retry-After)."""
        self._blocked_until = max(self._blocked_until, self._clock() + max(0.0, seconds))

    def reset(self) -> None:
        self._state, self._failures, self._opened_at, self._probe_out, self._blocked_until = (
            "closed",
            0,
            None,
            False,
            0.0,
        )

    def snapshot(self) -> BreakerSnapshot:
        now = self._clock()
        retry_in = 0.0
        if self._state == "open" and self._opened_at is not None:
            retry_in = max(0.0, self._opened_at + self.reset_after - now)
        return BreakerSnapshot(
            self.state, self._failures, self._opened_at, retry_in, max(0.0, self._blocked_until - now)
        )


class BreakerBoard:
    """One breaker per provider name, created on first use."""

    def __init__(
        self,
        *,
        threshold: int = DEFAULT_THRESHOLD,
        reset_after: float = DEFAULT_RESET_AFTER,
        clock: Clock = time.monotonic,
    ) -> None:
        self.threshold = threshold
        self.reset_after = reset_after
        self.clock = clock
        self._breakers: dict[str, CircuitBreaker] = {}

    def __getitem__(self, name: str) -> CircuitBreaker:
        breaker = self._breakers.get(name)
        if breaker is None:
            breaker = CircuitBreaker(
                name, threshold=self.threshold, reset_after=self.reset_after, clock=self.clock
            )
            self._breakers[name] = breaker
        return breaker

    def states(self) -> dict[str, BreakerSnapshot]:
        return {name: b.snapshot() for name, b in self._breakers.items()}
