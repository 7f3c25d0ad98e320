"""VAOS as an MCP server (``vaos mcp serve``): its tools and ``classify`` for any MCP client.

The server is the SDK's low-level ``Server`` with the registry's own names, descriptions
and JSON schemas. Calls go through a ``call`` function the caller supplies — the agent's
executor, so hooks, governance (kernel token and audit record) and the output limit apply
exactly as in the loop. Tools of other MCP servers and ``ask_user`` are not re-exported.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from vaos import __version__
from vaos.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from mcp.server.lowlevel import Server

CallFn = Callable[[str, dict[str, Any]], Awaitable[tuple[str, bool]]]
"""``call(name, arguments)`` -> ``(text, is_error)``."""
ClassifyFn = Callable[[str], Awaitable[dict[str, Any]]]

EXCLUDED = frozenset({"ask_user"})
CLASSIFY_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"message": {"type": "string", "description": "The message to classify."}},
    "required": ["message"],
    "additionalProperties": False,
}
CLASSIFY_DESCRIPTION = (
    "Classify a message as a VAOS signal: mode, genre, type, format, weight, confidence, tier, "
    "noise verdict and intent hash."
)


def exported(registry: ToolRegistry) -> list[Any]:
    """The registry's tools this server offers."""
    return [t for t in registry.available() if t.source != "mcp" and t.name not in EXCLUDED]


def build_server(registry: ToolRegistry, call: CallFn, classify: ClassifyFn) -> Server[Any]:
    import mcp_types as types
    from mcp.server.lowlevel import Server

    async def list_tools(ctx: Any, params: Any) -> types.ListToolsResult:
        tools = [
            types.Tool(
                name="classify",
                description=CLASSIFY_DESCRIPTION,
                input_schema=CLASSIFY_SCHEMA,
                annotations=types.ToolAnnotations(read_only_hint=True),
            )
        ]
        for tool in exported(registry):
            tools.append(
                types.Tool(
                    name=tool.name,
                    description=tool.description,
                    input_schema=tool.parameters(),
                    annotations=types.ToolAnnotations(
                        read_only_hint=tool.safety == "read_only",
                        destructive_hint=tool.safety == "execute",
                        open_world_hint=tool.network,
                    ),
                )
            )
        return types.ListToolsResult(tools=tools)

    async def call_tool(ctx: Any, params: types.CallToolRequestParams) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        if params.name == "classify":
            message = arguments.get("message")
            if not isinstance(message, str) or not message.strip():
                return _text("classify needs a non-empty 'message' string", error=True)
            try:
                signal = await classify(message)
            except ValueError as exc:
                return _text(str(exc), error=True)
            return types.CallToolResult(
                content=[types.TextContent(type="text", text=json.dumps(signal))],
                structured_content=signal,
                is_error=False,
            )
        names = {t.name for t in exported(registry)}
        if params.name not in names:
            return _text(f"unknown tool {params.name!r}", error=True)
        text, is_error = await call(params.name, arguments)
        return _text(text, error=is_error)

    def _text(text: str, *, error: bool) -> types.CallToolResult:
        return types.CallToolResult(content=[types.TextContent(type="text", text=text)], is_error=error)

    return Server(
        "vaos",
        version=__version__,
        instructions="VAOS tools: workspace files, shell under a policy, git, memory, web; and classify.",
        on_list_tools=list_tools,
        on_call_tool=call_tool,
    )


async def serve_stdio(server: Server[Any]) -> None:
    """Serve one client over this process's stdin and stdout until it disconnects."""
    from mcp.server.stdio import stdio_server

    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, server.create_initialization_options())
