"""``vaos tools [--json]``: every registered tool (built-in and MCP) with its JSON schema."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from vaos.cli.app import app

if TYPE_CHECKING:
    from vaos.config import Settings


@app.command("tools")
def tools_command(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document."),
    no_mcp: bool = typer.Option(False, "--no-mcp", help="Do not start the servers of mcp.json."),
) -> None:
    """List the tools the agent can use, with their schemas (and the MCP servers)."""
    import asyncio

    from vaos.cli.route import load_settings

    settings = load_settings()
    document = asyncio.run(_listing(settings, mcp=not no_mcp))
    if json_output:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(document) + b"\n")
        sys.stdout.flush()
        return
    _print(document)


async def _listing(settings: Settings, *, mcp: bool) -> dict[str, Any]:
    from vaos.store.database import Database
    from vaos.tools.setup import open_tools

    db = Database.from_settings(settings)
    try:
        async with open_tools(settings, db=db, mcp=mcp) as registry:
            return registry.to_json()
    finally:
        await db.dispose()


def _print(document: dict[str, Any]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console(highlight=False)
    tools: list[dict[str, Any]] = document.get("tools") or []
    table = Table(box=None, pad_edge=False, show_edge=False, show_header=True)
    table.add_column("tool", no_wrap=True, min_width=max((len(t["name"]) + 2 for t in tools), default=4))
    table.add_column("source", no_wrap=True, min_width=7)
    table.add_column("safety", no_wrap=True, min_width=9)
    table.add_column("description", no_wrap=True, overflow="ellipsis", max_width=72)
    unavailable = []
    for tool in tools:
        name = tool["name"] if tool["available"] else f"({tool['name']})"
        table.add_row(name, tool["source"], tool["safety"], tool["description"].splitlines()[0])
        if not tool["available"]:
            unavailable.append(f"  ({tool['name']}) not offered: {tool['unavailable_reason']}")
    console.print(table)
    for line in unavailable:
        console.print(line)
    for server in document.get("mcp_servers") or []:
        detail = f" ({server['error']})" if server.get("error") else ""
        console.print(
            f"mcp {server['name']} [{server['transport']}] {server['status']}{detail}: "
            f"{server['tools']} tools, {server['resources']} resources, {server['prompts']} prompts"
        )
    console.print(f"{len(tools)} tools; `vaos tools --json` prints their JSON schemas")
