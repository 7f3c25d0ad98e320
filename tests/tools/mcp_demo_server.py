"""An MCP server written with the official SDK, for the client tests: stdio by default,
streamable HTTP with ``--http PORT`` (on 127.0.0.1)."""

from __future__ import annotations

import sys

from mcp.server.mcpserver import MCPServer
from mcp.server.mcpserver.exceptions import ToolError
from mcp.types import ToolAnnotations

app = MCPServer("demo", version="1.0")


@app.tool(annotations=ToolAnnotations(read_only_hint=True))
def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


@app.tool()
def shout(text: str) -> str:
    """Upper-case a text (and pretend it has side effects)."""
    return text.upper()


@app.tool()
def explode(reason: str) -> str:
    """Always fails."""
    raise ToolError(f"exploded: {reason}")


@app.resource("memo://greeting", description="A greeting")
def greeting() -> str:
    return "hello from the demo server"


@app.prompt()
def review(language: str) -> str:
    """Ask for a code review."""
    return f"Review this {language} code carefully."


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--http":
        app.run("streamable-http", host="127.0.0.1", port=int(sys.argv[2]))
    else:
        app.run()
