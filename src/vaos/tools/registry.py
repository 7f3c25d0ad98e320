"""The tool registry: every tool by name (built-in and MCP), their schemas, and the listing
``vaos tools --json`` and ``GET /api/v1/tools`` print.

The registry is read at every model call, so a tool added later (an MCP server that came up,
a plugin) is offered from the next call on — the original froze each session's tool list.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from vaos.providers.types import ToolSpec
from vaos.tools.base import Tool, ToolServices, model_schema

NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,127}$")


@dataclass
class McpServerStatus:
    """One configured MCP server: how it is reached, and what came of connecting."""

    name: str
    transport: str
    target: str
    status: str = "pending"  # connected | failed | disabled
    error: str | None = None
    tools: int = 0
    resources: int = 0
    prompts: int = 0
    server_info: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "transport": self.transport,
            "target": self.target,
            "status": self.status,
            "error": self.error,
            "tools": self.tools,
            "resources": self.resources,
            "prompts": self.prompts,
        }


class ToolRegistry:
    def __init__(
        self,
        tools: Iterable[Tool[Any]] = (),
        *,
        services: ToolServices | None = None,
        disabled: Iterable[str] = (),
    ) -> None:
        self._tools: dict[str, Tool[Any]] = {}
        self.services = services
        self.disabled = frozenset(disabled)
        self.mcp_servers: dict[str, McpServerStatus] = {}
        self._specs: dict[str, tuple[Tool[Any], ToolSpec]] = {}
        for tool in tools:
            self.register(tool)

    # -- contents ------------------------------------------------------------------------

    def register(self, tool: Tool[Any], *, replace: bool = False) -> None:
        if not NAME.match(tool.name):
            raise ValueError(f"invalid tool name {tool.name!r}")
        if tool.name in self._tools and not replace:
            raise ValueError(f"a tool named {tool.name!r} is already registered")
        self._tools[tool.name] = tool

    def unregister(self, name: str) -> Tool[Any] | None:
        return self._tools.pop(name, None)

    def get(self, name: str) -> Tool[Any] | None:
        return self._tools.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Iterator[Tool[Any]]:
        return iter(list(self._tools.values()))

    def __len__(self) -> int:
        return len(self._tools)

    @property
    def names(self) -> list[str]:
        return list(self._tools)

    def unavailable(self, tool: Tool[Any]) -> str | None:
        """Why ``tool`` is not offered (disabled by settings, or its own reason), or None."""
        if tool.name in self.disabled:
            return "disabled in the settings (VAOS_TOOLS__DISABLED)"
        if self.services is None:
            return None
        return tool.unavailable(self.services)

    def available(self) -> list[Tool[Any]]:
        return [t for t in self._tools.values() if self.unavailable(t) is None]

    # -- what the model and the edges see ------------------------------------------------

    def specs(self, names: Iterable[str] | None = None) -> list[ToolSpec]:
        """The tools offered to a model (available ones; only ``names`` when given).

        Built once per tool and shared: treat the schemas as read-only."""
        wanted = None if names is None else set(names)
        return [self._spec(t) for t in self.available() if wanted is None or t.name in wanted]

    def _spec(self, tool: Tool[Any]) -> ToolSpec:
        cached = self._specs.get(tool.name)
        if cached is not None and cached[0] is tool:
            return cached[1]
        spec = ToolSpec(tool.name, tool.description, model_schema(tool.parameters()))
        self._specs[tool.name] = (tool, spec)
        return spec

    def describe(self, tool: Tool[Any]) -> dict[str, Any]:
        reason = self.unavailable(tool)
        return {
            "name": tool.name,
            "description": tool.description,
            "parameters": tool.parameters(),
            "source": tool.source,
            "safety": tool.safety,
            "network": tool.network,
            "timeout": tool.timeout,
            "available": reason is None,
            "unavailable_reason": reason,
        }

    def to_json(self) -> dict[str, Any]:
        """Every tool with its schema, and the MCP servers (``vaos tools --json``)."""
        return {
            "tools": [self.describe(t) for t in self._tools.values()],
            "mcp_servers": [s.to_dict() for s in self.mcp_servers.values()],
        }
