"""Tools: the built-in ones, the registry, the memory vault, skills, and MCP (client and server).

Public names (imported lazily, so ``import vaos.tools`` is cheap)::

    from vaos.tools import ToolRegistry, Tool, ToolArgs, ToolContext, ToolError, ToolServices
    registry = default_registry(services)      # every built-in tool
    registry.specs()                           # ToolSpec list for a model (JSON schemas from pydantic)
    registry.to_json()                         # what `vaos tools --json` prints
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vaos.tools.base import (
        NoArgs,
        Safety,
        Tool,
        ToolArgs,
        ToolContext,
        ToolError,
        ToolServices,
    )
    from vaos.tools.mcp_client import McpHub, load_config
    from vaos.tools.registry import McpServerStatus, ToolRegistry
    from vaos.tools.skills import Skill, SkillLibrary
    from vaos.tools.tasks import TaskStore
    from vaos.tools.vault import Vault, VaultEntry, VaultHit
    from vaos.tools.workspace import PathRefusedError, Workspace

_EXPORTS: dict[str, str] = {
    "NoArgs": "vaos.tools.base",
    "Safety": "vaos.tools.base",
    "Tool": "vaos.tools.base",
    "ToolArgs": "vaos.tools.base",
    "ToolContext": "vaos.tools.base",
    "ToolError": "vaos.tools.base",
    "ToolServices": "vaos.tools.base",
    "McpHub": "vaos.tools.mcp_client",
    "load_config": "vaos.tools.mcp_client",
    "McpServerStatus": "vaos.tools.registry",
    "ToolRegistry": "vaos.tools.registry",
    "Skill": "vaos.tools.skills",
    "SkillLibrary": "vaos.tools.skills",
    "TaskStore": "vaos.tools.tasks",
    "Vault": "vaos.tools.vault",
    "VaultEntry": "vaos.tools.vault",
    "VaultHit": "vaos.tools.vault",
    "PathRefusedError": "vaos.tools.workspace",
    "Workspace": "vaos.tools.workspace",
    "default_registry": "vaos.tools",
    "builtin_tools": "vaos.tools.builtin",
}

__all__ = [
    "McpHub",
    "McpServerStatus",
    "NoArgs",
    "PathRefusedError",
    "Safety",
    "Skill",
    "SkillLibrary",
    "TaskStore",
    "Tool",
    "ToolArgs",
    "ToolContext",
    "ToolError",
    "ToolRegistry",
    "ToolServices",
    "Vault",
    "VaultEntry",
    "VaultHit",
    "Workspace",
    "builtin_tools",
    "default_registry",
    "load_config",
]


def default_registry(services: ToolServices | None = None) -> ToolRegistry:
    """A registry with every built-in tool (tools named in ``VAOS_TOOLS__DISABLED`` are listed
    but not offered)."""
    from vaos.tools.builtin import builtin_tools
    from vaos.tools.registry import ToolRegistry

    disabled = services.settings.tools.disabled if services is not None else ()
    return ToolRegistry(builtin_tools(), services=services, disabled=disabled)


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None or module == __name__:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value
