"""Building the tools from the settings: the services they share (workspace, vault, skills,
tasks), the registry of built-ins, and the MCP servers of ``$VAOS_HOME/mcp.json``."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from vaos.tools.base import ToolServices
from vaos.tools.registry import ToolRegistry
from vaos.tools.workspace import Workspace

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.routing.budget import BudgetTracker
    from vaos.store.database import Database


def workspace_for(settings: Settings) -> Workspace:
    """The configured workspace (default: the current directory); VAOS's home is off limits."""
    root = settings.tools.workspace or Path(os.getcwd())
    return Workspace(root, protected=[settings.home])


@asynccontextmanager
async def open_tools(
    settings: Settings,
    *,
    db: Database | None = None,
    budget: BudgetTracker | None = None,
    mcp: bool = True,
) -> AsyncIterator[ToolRegistry]:
    """The registry (``registry.services`` holds the shared services), MCP servers connected
    when ``mcp``; everything closed on exit."""
    from vaos.tools import default_registry
    from vaos.tools.skills import SkillLibrary
    from vaos.tools.tasks import TaskStore
    from vaos.tools.vault import Vault

    async with AsyncExitStack() as stack:
        vault = Vault(settings.path("vault"))
        stack.callback(vault.close)
        services = ToolServices(
            settings=settings,
            workspace=workspace_for(settings),
            vault=vault,
            skills=SkillLibrary(settings.path("skills")),
            tasks=TaskStore(settings.path("tasks")),
            db=db,
            budget=budget,
        )
        registry = default_registry(services)
        if mcp:
            from vaos.tools.mcp_client import McpHub

            hub = McpHub(
                settings.tools.mcp_config or settings.path("mcp.json"),
                log_dir=settings.path("logs"),
                connect_timeout=settings.tools.mcp_connect_timeout,
            )
            stack.push_async_callback(hub.aclose)
            await hub.start(registry)
        yield registry
