"""Slash commands of the REPL: the table every front end shares (``vaos.agent.COMMANDS``).

The REPL holds the conversation's ``SessionState`` (session, tier/model overrides, totals);
a command runs against it in this process (``run_command``) or, through a daemon, with
``POST /api/v1/commands`` (the state goes along and comes back updated). The REPL acts on
the result's ``action``: ``quit`` leaves, ``clear`` clears the screen.
"""

from __future__ import annotations

import dataclasses
import difflib
from typing import Any

from vaos.agent.commands import COMMANDS, SessionState

__all__ = ["SessionState", "record_turn", "state_from_dict", "state_to_dict", "suggestion"]


def state_to_dict(state: SessionState) -> dict[str, Any]:
    return dataclasses.asdict(state)


def state_from_dict(data: dict[str, Any]) -> SessionState:
    known = {f.name for f in dataclasses.fields(SessionState)}
    return SessionState(**{k: v for k, v in data.items() if k in known})


def record_turn(state: SessionState, result: dict[str, Any]) -> None:
    """Account one answer (``agent_response`` data) like ``SessionState.record``."""
    usage = result.get("usage") or {}
    sid = result.get("session_id")
    if isinstance(sid, str) and sid:
        state.session_id = sid
    state.prompt_tokens += int(usage.get("prompt_tokens") or 0)
    state.completion_tokens += int(usage.get("completion_tokens") or 0)
    state.cost_usd += float(result.get("cost_usd") or 0.0)
    state.turns += 1
    state.tool_calls += len(result.get("tool_calls") or ())


def suggestion(name: str) -> str:
    names = [*COMMANDS, *(a for c in COMMANDS.values() for a in c.aliases)]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return f" (did you mean /{close[0]}?)" if close else ""
