"""How a run fails: bad input (exit 2 / HTTP 4xx) or a model call that no provider answered."""

from __future__ import annotations

from typing import Any


class AgentError(Exception):
    """Base of the agent's errors."""


class AgentInputError(AgentError, ValueError):
    """The message, session id or an override (tier, provider, model) cannot be used."""


class AgentCallError(AgentError):
    """No provider answered (``attempts`` says why, per provider), or the budget refused."""

    def __init__(
        self, message: str, attempts: list[dict[str, Any]] | None = None, *, kind: str = "routing"
    ) -> None:
        super().__init__(message)
        self.attempts = attempts or []
        self.kind = kind
