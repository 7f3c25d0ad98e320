"""MCP through the official SDK: a server written here (stdio and streamable HTTP) seen by
VAOS's client, and ``vaos mcp serve`` listed and called by the SDK's own client."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from vaos.agent.tool_execution import ToolExecutor
from vaos.config import Settings
from vaos.providers.types import ToolCall
from vaos.tools.mcp_client import load_config, tool_name
from vaos.tools.registry import ToolRegistry
from vaos.tools.setup import open_tools

DEMO = Path(__file__).with_name("mcp_demo_server.py")
SRC = Path(__file__).resolve().parents[2] / "src"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture(scope="module")
def http_url() -> Iterator[str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, str(DEMO), "--http", str(port)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None:
                pytest.fail("the demo MCP server did not start")
            time.sleep(0.1)
    yield f"http://127.0.0.1:{port}/mcp"
    proc.terminate()
    proc.wait(10)


def settings_for(home: Path, workspace: Path, servers: dict[str, object]) -> Settings:
    (home / "mcp.json").write_text(json.dumps({"mcpServers": servers}))
    return Settings(home=home, tools={"workspace": workspace}, signal={"llm_enabled": False})


@asynccontextmanager
async def mcp_tools(settings: Settings) -> AsyncIterator[tuple[ToolRegistry, ToolExecutor]]:
    async with open_tools(settings) as registry:
        assert registry.services is not None
        yield registry, ToolExecutor(registry, registry.services, settings=settings)


async def call(executor: ToolExecutor, name: str, /, **arguments: object) -> tuple[str, str]:
    record = await executor.run_one(
        ToolCall("c1", name, dict(arguments)), session_id="s", agent_id="vaos", intent="t"
    )
    return record.status, record.result


def test_names_are_namespaced_safe_and_short() -> None:
    assert tool_name("demo", "add") == "mcp__demo__add"
    assert tool_name("my server", "files/read.v2") == "mcp__my_server__files_read_v2"
    long = tool_name("s" * 40, "t" * 40)
    assert len(long) == 64 and long.startswith("mcp__sss")


def test_config_interpolates_variables(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DEMO_TOKEN", "abc")
    path = tmp_path / "mcp.json"
    path.write_text(
        json.dumps({"mcpServers": {"a": {"url": "http://h/mcp", "headers": {"X": "Bearer ${DEMO_TOKEN}"}}}})
    )
    assert load_config(path)["a"].headers == {"X": "Bearer abc"}
    path.write_text(json.dumps({"mcpServers": {"a": {"args": []}}}))
    with pytest.raises(ValueError, match="needs 'command'"):
        load_config(path)


async def test_stdio_server_tools_resources_and_prompts(vaos_home: Path, tmp_path: Path) -> None:
    servers = {
        "demo": {"command": sys.executable, "args": [str(DEMO)]},
        "broken": {"command": str(tmp_path / "no-such-program")},
        "off": {"command": "unused", "disabled": True},
    }
    async with mcp_tools(settings_for(vaos_home, tmp_path, servers)) as (registry, executor):
        status = {s.name: s for s in registry.mcp_servers.values()}
        assert status["demo"].status == "connected" and (status["demo"].tools, status["demo"].resources) == (
            3,
            1,
        )
        assert status["broken"].status == "failed" and status["broken"].error
        assert status["off"].status == "disabled"
        add = registry.get("mcp__demo__add")
        assert add is not None and add.safety == "read_only" and add.source == "mcp"
        assert add.description == "[MCP demo] Add two integers."
        assert add.parameters()["required"] == ["a", "b"]
        shout = registry.get("mcp__demo__shout")
        assert shout is not None and shout.safety == "execute"
        assert await call(executor, "mcp__demo__add", a=2, b=3) == ("ok", "5")
        status_, text = await call(executor, "mcp__demo__explode", reason="boom")
        assert status_ == "error" and "exploded: boom" in text
        assert (await call(executor, "mcp__demo__add", a=2))[0] == "invalid"
        resource = await call(executor, "mcp__demo__read_resource", uri="memo://greeting")
        assert resource == ("ok", "hello from the demo server")
        prompt = await call(
            executor, "mcp__demo__get_prompt", name="review", arguments={"language": "Python"}
        )
        assert prompt[0] == "ok" and "Review this Python code carefully." in prompt[1]
        listed = {t["name"]: t for t in registry.to_json()["tools"]}
        assert listed["mcp__demo__add"]["source"] == "mcp"


async def test_streamable_http_server_with_an_allow_list(
    vaos_home: Path, tmp_path: Path, http_url: str
) -> None:
    servers = {"remote": {"url": http_url, "headers": {"X-Client": "vaos"}, "allowed_tools": ["add"]}}
    async with mcp_tools(settings_for(vaos_home, tmp_path, servers)) as (registry, executor):
        assert registry.mcp_servers["remote"].status == "connected"
        mcp_names = sorted(n for n in registry.names if n.startswith("mcp__"))
        assert mcp_names == ["mcp__remote__add", "mcp__remote__get_prompt", "mcp__remote__read_resource"]
        assert await call(executor, "mcp__remote__add", a=40, b=2) == ("ok", "42")


async def test_vaos_mcp_serve_is_listed_and_called_by_the_official_client(
    vaos_home: Path, tmp_path: Path
) -> None:
    from mcp import Client, StdioServerParameters
    from mcp.client.stdio import stdio_client

    from vaos.governance.ledger import read_records

    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / "README.md").write_text("served by vaos\n")
    env = {
        "VAOS_HOME": str(vaos_home),
        "VAOS_TOOLS__WORKSPACE": str(workspace),
        "VAOS_SIGNAL__LLM_ENABLED": "false",
        "PYTHONPATH": str(SRC),
    }
    params = StdioServerParameters(command=sys.executable, args=["-m", "vaos", "mcp", "serve"], env=env)
    with (tmp_path / "serve.log").open("w") as errlog:  # the SDK's default errlog is bound at import time
        await _serve_session(Client(stdio_client(params, errlog=errlog)))
    kinds = [(r.get("kind"), r.get("action_type")) for r in read_records(vaos_home / "ledger", limit=100)]
    assert ("audit_confirmed", "file_read") in kinds


async def _serve_session(client: Any) -> None:
    async with client:
        tools = {t.name: t for t in (await client.list_tools()).tools}
        assert {"classify", "file_read", "shell_execute", "memory_save"} <= set(tools)
        assert "ask_user" not in tools and tools["file_read"].input_schema["required"] == ["path"]
        assert tools["file_read"].annotations is not None and tools["file_read"].annotations.read_only_hint
        read = await client.call_tool("file_read", {"path": "README.md"})
        assert not read.is_error and read.content[0].text == "served by vaos\n"  # type: ignore[union-attr]
        signal = await client.call_tool("classify", {"message": "Build a REST API"})
        assert signal.structured_content is not None
        assert signal.structured_content["intent_hash"] == (
            "6d8aa9b978c32673fa41ed872aa08b495e5a384c5c6b69d44c012b968d34be7c"
        )
        blocked = await client.call_tool("shell_execute", {"command": "rm -rf /"})
        assert blocked.is_error and blocked.content[0].text.startswith("Blocked: dangerous command")  # type: ignore[union-attr]
        escape = await client.call_tool("file_read", {"path": "../../etc/passwd"})
        assert escape.is_error and "outside the workspace" in escape.content[0].text  # type: ignore[union-attr]
