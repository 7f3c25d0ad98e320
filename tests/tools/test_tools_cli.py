"""``vaos tools [--json]``: every tool with its JSON schema, MCP servers included."""

from __future__ import annotations

import json
import sys
import warnings
from pathlib import Path

with warnings.catch_warnings():
    # typer re-exports click names that click 8.3 deprecates (not ours; warnings are errors here)
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from vaos.cli.app import app

DEMO = Path(__file__).with_name("mcp_demo_server.py")


def test_tools_json_lists_builtins_and_mcp_tools(vaos_home: Path) -> None:
    (vaos_home / "mcp.json").write_text(
        json.dumps({"mcpServers": {"demo": {"command": sys.executable, "args": [str(DEMO)]}}})
    )
    result = CliRunner().invoke(app, ["tools", "--json"])
    assert result.exit_code == 0, result.stderr
    document = json.loads(result.stdout)
    tools = {t["name"]: t for t in document["tools"]}
    assert tools["file_read"]["parameters"]["properties"]["path"]["type"] == "string"
    assert tools["mcp__demo__add"]["source"] == "mcp" and tools["mcp__demo__add"]["available"] is True
    assert (
        document["mcp_servers"][0]["name"] == "demo" and document["mcp_servers"][0]["status"] == "connected"
    )
    plain = CliRunner().invoke(app, ["tools", "--no-mcp"])
    assert plain.exit_code == 0 and "file_read" in plain.stdout and "mcp__demo__add" not in plain.stdout
