"""Web tools against loopback servers only: fetch (SSRF guard, redirects, offline) and search."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path

import pytest
from aiohttp import web
from tool_helpers import make_services, run_tool

from vaos.providers.testing import LoopbackServer
from vaos.tools import default_registry
from vaos.tools.base import ToolError
from vaos.tools.registry import ToolRegistry

PAGE = """<!doctype html><html><head><title>T</title><style>p{}</style><script>alert(1)</script></head>
<body><h1>Hello &amp; welcome</h1><p>First paragraph.</p><!-- hidden --><p>Second</p></body></html>"""


def site() -> web.Application:
    async def page(_: web.Request) -> web.Response:
        return web.Response(text=PAGE, content_type="text/html")

    async def moved(request: web.Request) -> web.Response:
        raise web.HTTPFound("/page")

    async def search(request: web.Request) -> web.Response:
        q = request.query["q"]
        rows = [{"title": f"Result about {q}", "url": "https://example.org/1", "content": "snippet one"}]
        return web.json_response({"results": rows})

    app = web.Application()
    app.router.add_get("/page", page)
    app.router.add_get("/moved", moved)
    app.router.add_get("/search", search)
    return app


@pytest.fixture(scope="module")
def server() -> Iterator[LoopbackServer]:
    with LoopbackServer(site()) as running:
        yield running


def web_registry(home: Path, workspace: Path, **settings: object) -> ToolRegistry:
    return default_registry(make_services(home, workspace, **settings))


async def test_fetch_strips_html_and_follows_redirects(
    vaos_home: Path, workspace: Path, server: LoopbackServer
) -> None:
    registry = web_registry(vaos_home, workspace, web_allow_private=True)
    out = await run_tool(registry, "web_fetch", url=server.url + "/moved")
    assert out.startswith(f"Content of {server.url}/page:")
    assert "Hello & welcome" in out and "First paragraph." in out
    assert "alert" not in out and "hidden" not in out and "p{}" not in out


async def test_fetch_refuses_private_addresses_by_default(
    registry: ToolRegistry, server: LoopbackServer
) -> None:
    with pytest.raises(ToolError, match=r"non-public address \(127\.0\.0\.1\); refused"):
        await run_tool(registry, "web_fetch", url=server.url + "/page")
    with pytest.raises(ToolError, match="non-public address"):
        await run_tool(registry, "web_fetch", url="http://[::1]:9/")
    with pytest.raises(ToolError, match="only http"):
        await run_tool(registry, "web_fetch", url="file:///etc/passwd")


async def test_offline_is_a_clear_error(vaos_home: Path, workspace: Path) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]  # closed again: nothing listens there
    registry = web_registry(vaos_home, workspace, web_allow_private=True)
    with pytest.raises(ToolError, match=r"cannot reach 127\.0\.0\.1: .*\(offline\?\)"):
        await run_tool(registry, "web_fetch", url=f"http://127.0.0.1:{port}/")
    registry = web_registry(vaos_home, workspace, searxng_url=f"http://127.0.0.1:{port}")
    with pytest.raises(ToolError, match=r"cannot be reached.*\(offline\?\)"):
        await run_tool(registry, "web_search", query="vaos")


async def test_search_is_pluggable_and_says_what_is_missing(
    vaos_home: Path, workspace: Path, server: LoopbackServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("BRAVE_API_KEY", raising=False)
    registry = web_registry(vaos_home, workspace)
    tool = registry.get("web_search")
    assert tool is not None
    reason = registry.unavailable(tool)
    assert reason is not None and "BRAVE_API_KEY" in reason and "VAOS_TOOLS__SEARXNG_URL" in reason
    assert "web_search" not in [s.name for s in registry.specs()]
    registry = web_registry(vaos_home, workspace, searxng_url=server.url)
    out = await run_tool(registry, "web_search", query="agent loops")
    assert out == "**Result about agent loops**\nhttps://example.org/1\nsnippet one"
