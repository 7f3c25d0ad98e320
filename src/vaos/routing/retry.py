"""Retries of one provider: exponential backoff with jitter, for retryable errors only."""

from __future__ import annotations

import random
from dataclasses import dataclass

from vaos.providers.errors import ProviderError


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """``max_attempts`` calls at most per provider (the first one included).

    The wait before retry n is ``base_delay * 2**(n-1)`` capped at ``max_delay``, half of it
    fixed and half random ("equal jitter"), and never shorter than the provider's
    ``Retry-After``; a ``Retry-After`` longer than ``max_retry_after`` moves on to the next
    provider instead of waiting.
    """

    max_attempts: int = 3
    base_delay: float = 0.5
    max_delay: float = 8.0
    max_retry_after: float = 30.0

    def delay(self, attempt: int, error: ProviderError, rng: random.Random | None = None) -> float | None:
        """Seconds to wait before the next attempt, or None to stop retrying this provider.

        ``attempt`` is the number of attempts made so far (1 after the first call failed).
        """
        if not error.retryable or attempt >= self.max_attempts:
            return None
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        wait: float = backoff / 2 + (rng or random).uniform(0, backoff / 2)
        if error.retry_after is not None:
            if error.retry_after > self.max_retry_after:
                return None
            wait = max(wait, error.retry_after)
        return wait


NO_RETRY = RetryPolicy(max_attempts=1)
