"""A circuit breaker for calls to the kernel: closed, open, half-open (one probe at a time).

After ``failure_threshold`` consecutive failures the circuit opens and calls fail at once,
without touching the network. ``reset_timeout`` seconds later the next call is let through
as a probe (half-open): its success closes the circuit, its failure opens it for another
``reset_timeout``. The transition is checked on each call, so no timer has to fire for the
circuit to recover.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Literal

State = Literal["closed", "open", "half_open"]


class CircuitBreaker:
    def __init__(
        self,
        failure_threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if failure_threshold < 1 or reset_timeout <= 0:
            raise ValueError("failure_threshold must be >= 1 and reset_timeout > 0")
        self.failure_threshold = failure_threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._state: State = "closed"
        self._failures = 0
        self._opened_at = 0.0
        self._probing = False

    @property
    def state(self) -> State:
        if self._state == "open" and self._clock() - self._opened_at >= self.reset_timeout:
            return "half_open"
        return self._state

    @property
    def failures(self) -> int:
        return self._failures

    def retry_in(self) -> float:
        """Seconds until an open circuit lets a probe through (0 when not open)."""
        if self._state != "open":
            return 0.0
        return max(0.0, self.reset_timeout - (self._clock() - self._opened_at))

    def allow(self) -> bool:
        """May a call go out now? In half-open, only one probe at a time."""
        if self._state == "closed":
            return True
        if self._state == "open":
            if self._clock() - self._opened_at < self.reset_timeout:
                return False
            self._state = "half_open"
        if self._probing:
            return False
        self._probing = True
        return True

    def record_success(self) -> None:
        self._state, self._failures, self._probing = "closed", 0, False

    def record_failure(self) -> None:
        self._failures += 1
        if self._state == "half_open" or self._failures >= self.failure_threshold:
            self._state, self._opened_at = "open", self._clock()
        self._probing = False

    def record_abandoned(self) -> None:
        """A call ended with neither success nor failure (cancelled): free the probe slot."""
        if self._state == "half_open" and self._probing:
            self._state, self._probing = "open", False
            self._opened_at = self._clock() - self.reset_timeout  # the next call probes again
