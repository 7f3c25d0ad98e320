"""Helpers for the tool tests: services on a temporary workspace, and running one tool."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vaos.config import Settings
from vaos.tools.base import ToolContext, ToolServices
from vaos.tools.registry import ToolRegistry
from vaos.tools.skills import SkillLibrary
from vaos.tools.tasks import TaskStore
from vaos.tools.vault import Vault
from vaos.tools.workspace import Workspace


def make_services(home: Path, workspace: Path, **tool_settings: Any) -> ToolServices:
    settings = Settings(
        home=home, tools={"workspace": workspace, **tool_settings}, signal={"llm_enabled": False}
    )
    return ToolServices(
        settings=settings,
        workspace=Workspace(workspace, protected=[home]),
        vault=Vault(home / "vault"),
        skills=SkillLibrary(home / "skills"),
        tasks=TaskStore(home / "tasks"),
    )


async def run_tool(
    registry: ToolRegistry, tool_name: str, /, session_id: str | None = "s1", **arguments: Any
) -> str:
    """Validate and run a tool directly (no hooks, no governance): its text, or ToolError."""
    tool = registry.get(tool_name)
    assert tool is not None, tool_name
    assert registry.services is not None
    args = tool.validate(arguments)
    return await tool.run(args, ToolContext(registry.services, session_id=session_id))
