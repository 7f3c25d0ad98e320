"""``vaos mcp serve``: VAOS's tools and ``classify`` as an MCP server over stdio.

Every call goes through the agent's executor: hooks, governance (a kernel token before, an
audit record after) and the output limit apply as in the loop. Nothing but the protocol is
written to stdout; logs go to stderr.
"""

from __future__ import annotations

import typer

from vaos.cli.app import app

mcp_app = typer.Typer(help="Model Context Protocol: serve VAOS's tools to MCP clients.", no_args_is_help=True)
app.add_typer(mcp_app, name="mcp")


@mcp_app.command("serve")
def serve(
    agent_id: str = typer.Option("vaos", "--agent", help="The agent the kernel authorises the calls for."),
) -> None:
    """Serve the tools and classify over stdio (for Claude Desktop, IDEs, any MCP client)."""
    import asyncio
    import contextlib
    import logging
    import sys

    from vaos.cli.route import load_settings

    logging.basicConfig(
        stream=sys.stderr, level=logging.WARNING, format="vaos mcp: %(levelname)s %(message)s"
    )
    settings = load_settings()
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(settings, agent_id))


async def _serve(settings: object, agent_id: str) -> None:
    import uuid

    from vaos.agent.runtime import open_runtime
    from vaos.providers.types import ToolCall
    from vaos.tools.mcp_server import build_server, serve_stdio

    session_id = f"mcp-{uuid.uuid4().hex[:12]}"
    async with open_runtime(settings, mcp=False) as runtime:  # type: ignore[arg-type]

        async def call(name: str, arguments: dict[str, object]) -> tuple[str, bool]:
            record = await runtime.executor.run_one(
                ToolCall(f"mcp_{uuid.uuid4().hex[:12]}", name, dict(arguments)),
                session_id=session_id,
                agent_id=agent_id,
                intent=f"MCP client call: {name}",
            )
            return record.result, record.failed

        async def classify(message: str) -> dict[str, object]:
            from vaos.signal.validation import validate_message

            text = validate_message(message, runtime.settings.signal.max_message_bytes)
            signal = await runtime.signals.classify(text, channel="mcp", use_llm=False)
            return signal.to_dict()

        await serve_stdio(build_server(runtime.tools, call, classify))
