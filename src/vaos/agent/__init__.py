"""The agent: the loop, context building and compaction, hooks, sessions, slash commands.

    from vaos.agent import open_runtime

    async with open_runtime() as runtime:
        result = await runtime.agent().run("What is in README.md?")
        async for event in runtime.agent().stream("and in pyproject.toml?", session_id=result.session_id):
            ...

Names are imported lazily (``import vaos.agent`` loads nothing heavy).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vaos.agent.agent import Agent
    from vaos.agent.commands import COMMANDS, Command, CommandResult, SessionState, is_command, run_command
    from vaos.agent.errors import AgentCallError, AgentError, AgentInputError
    from vaos.agent.hooks import Block, HookCall, HookEvent, Hooks
    from vaos.agent.result import AgentResult
    from vaos.agent.runtime import AgentRuntime, open_runtime
    from vaos.agent.tool_execution import ToolCallRecord, ToolExecutor

_EXPORTS: dict[str, str] = {
    "Agent": "vaos.agent.agent",
    "COMMANDS": "vaos.agent.commands",
    "Command": "vaos.agent.commands",
    "CommandResult": "vaos.agent.commands",
    "SessionState": "vaos.agent.commands",
    "is_command": "vaos.agent.commands",
    "run_command": "vaos.agent.commands",
    "AgentCallError": "vaos.agent.errors",
    "AgentError": "vaos.agent.errors",
    "AgentInputError": "vaos.agent.errors",
    "Block": "vaos.agent.hooks",
    "HookCall": "vaos.agent.hooks",
    "HookEvent": "vaos.agent.hooks",
    "Hooks": "vaos.agent.hooks",
    "AgentResult": "vaos.agent.result",
    "AgentRuntime": "vaos.agent.runtime",
    "open_runtime": "vaos.agent.runtime",
    "ToolCallRecord": "vaos.agent.tool_execution",
    "ToolExecutor": "vaos.agent.tool_execution",
}

__all__ = [
    "COMMANDS",
    "Agent",
    "AgentCallError",
    "AgentError",
    "AgentInputError",
    "AgentResult",
    "AgentRuntime",
    "Block",
    "Command",
    "CommandResult",
    "HookCall",
    "HookEvent",
    "Hooks",
    "SessionState",
    "ToolCallRecord",
    "ToolExecutor",
    "is_command",
    "open_runtime",
    "run_command",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
