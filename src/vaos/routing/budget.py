"""Spending limits per session and per day (UTC), from the cost of every call.

Each call is recorded with its tokens, latency and cost; with a ``path`` the records are
appended to a JSON Lines file and today's totals are read back on start, so limits hold
across processes (``vaos ask`` runs one per process).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Literal

from vaos.providers.types import Usage

logger = logging.getLogger(__name__)
OverBudget = Literal["downgrade", "refuse"]
ZERO = Decimal(0)


@dataclass(frozen=True, slots=True)
class CallRecord:
    """One model call, as stored."""

    ts: float
    day: str
    session_id: str | None
    provider: str
    model: str
    tier: str
    input_tokens: int
    output_tokens: int
    latency_s: float
    cost_usd: str | None
    ok: bool

    def to_json(self) -> str:
        return json.dumps(asdict(self), separators=(",", ":"))


def _day(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d")


class BudgetTracker:
    def __init__(
        self,
        *,
        session_limit_usd: float | None = None,
        daily_limit_usd: float | None = None,
        policy: OverBudget = "downgrade",
        path: Path | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.session_limit = Decimal(str(session_limit_usd)) if session_limit_usd is not None else None
        self.daily_limit = Decimal(str(daily_limit_usd)) if daily_limit_usd is not None else None
        self.policy: OverBudget = policy
        self.path = path
        self._clock = clock
        self._by_day: dict[str, Decimal] = {}
        self._by_session: dict[str, Decimal] = {}
        if path is not None:
            self._load(path)

    @property
    def limited(self) -> bool:
        return self.session_limit is not None or self.daily_limit is not None

    def _load(self, path: Path) -> None:
        if not path.exists():
            return
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            logger.warning("cannot read the call log %s: %s", path, exc)
            return
        for line in lines:
            try:
                row = json.loads(line)
                cost = Decimal(row["cost_usd"]) if row.get("cost_usd") else ZERO
            except (ValueError, KeyError, ArithmeticError, TypeError):
                continue
            self._add(row.get("day", ""), row.get("session_id"), cost)

    def _add(self, day: str, session_id: str | None, cost: Decimal) -> None:
        self._by_day[day] = self._by_day.get(day, ZERO) + cost
        if session_id:
            self._by_session[session_id] = self._by_session.get(session_id, ZERO) + cost

    def spent_today(self) -> Decimal:
        return self._by_day.get(_day(self._clock()), ZERO)

    def spent_session(self, session_id: str | None) -> Decimal:
        return self._by_session.get(session_id, ZERO) if session_id else ZERO

    def over(self, session_id: str | None = None) -> str | None:
        """Why spending is over a limit, or None."""
        if not self.limited:
            return None
        if self.daily_limit is not None:
            spent = self.spent_today()
            if spent >= self.daily_limit:
                return f"daily budget spent (${spent:.4f} of ${self.daily_limit})"
        if self.session_limit is not None and session_id:
            spent = self.spent_session(session_id)
            if spent >= self.session_limit:
                return f"session budget spent (${spent:.4f} of ${self.session_limit})"
        return None

    def record(
        self,
        *,
        session_id: str | None,
        provider: str,
        model: str,
        tier: str,
        usage: Usage,
        latency_s: float,
        cost_usd: Decimal | None,
        ok: bool = True,
    ) -> CallRecord:
        now = self._clock()
        record = CallRecord(
            ts=now,
            day=_day(now),
            session_id=session_id,
            provider=provider,
            model=model,
            tier=tier,
            input_tokens=usage.input_tokens,
            output_tokens=usage.output_tokens,
            latency_s=round(latency_s, 6),
            cost_usd=str(cost_usd) if cost_usd is not None else None,
            ok=ok,
        )
        self._add(record.day, session_id, cost_usd or ZERO)
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                with self.path.open("a", encoding="utf-8") as fh:
                    fh.write(record.to_json() + "\n")
            except OSError as exc:
                logger.warning("cannot append to the call log %s: %s", self.path, exc)
        return record
