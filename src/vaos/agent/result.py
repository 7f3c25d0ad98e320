"""What one message through the agent gives back."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from vaos.signal.models import Signal


@dataclass
class AgentResult:
    """The answer and what it took: model calls (``iterations``), tool calls, tokens, cost.

    ``usage`` has ``prompt_tokens``, ``completion_tokens`` and ``total_tokens`` (and the
    providers' names for the same counts: ``input_tokens``, ``output_tokens``,
    ``cache_read_tokens``, ``cache_write_tokens``). Each tool call is
    ``{"id", "name", "arguments", "status", "result", "duration_ms"}`` with ``status`` one of
    ``ok``, ``error``, ``invalid``, ``blocked``, ``refused`` (governance), ``timeout``.
    """

    session_id: str
    output: str
    signal: Signal
    tier: str | None
    provider: str | None
    model: str | None
    usage: dict[str, int]
    cost_usd: float
    tool_calls: list[dict[str, Any]]
    iterations: int
    stop_reason: str = "answer"
    """``answer``, ``noise`` (short reply, no model call), ``max_iterations``, ``blocked`` (a
    hook stopped the model call), ``doom_loop`` (the same tools kept failing), ``context``."""
    decision: dict[str, Any] | None = None
    latency_s: float = 0.0
    first_token_s: float | None = None
    failed_attempts: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "output": self.output,
            "signal": self.signal.to_dict(),
            "tier": self.tier,
            "provider": self.provider,
            "model": self.model,
            "usage": dict(self.usage),
            "cost_usd": self.cost_usd,
            "tool_calls": [dict(c) for c in self.tool_calls],
            "iterations": self.iterations,
            "stop_reason": self.stop_reason,
            "decision": self.decision,
            "latency_s": round(self.latency_s, 4),
            "first_token_s": round(self.first_token_s, 4) if self.first_token_s is not None else None,
            "failed_attempts": list(self.failed_attempts),
        }


def empty_usage() -> dict[str, int]:
    return {
        "prompt_tokens": 0,
        "completion_tokens": 0,
        "total_tokens": 0,
        "input_tokens": 0,
        "output_tokens": 0,
        "cache_read_tokens": 0,
        "cache_write_tokens": 0,
    }
