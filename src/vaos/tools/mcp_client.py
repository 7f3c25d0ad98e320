"""MCP client: the servers of ``$VAOS_HOME/mcp.json`` and their tools, resources and prompts
beside the built-in tools, through the official ``mcp`` SDK.

``mcp.json`` has the common shape::

    {"mcpServers": {
        "files": {"command": "npx", "args": ["-y", "@modelcontextprotocol/server-filesystem", "."],
                  "env": {"TOKEN": "${MY_TOKEN}"}, "allowed_tools": ["read_file"]},
        "remote": {"url": "https://example.com/mcp", "headers": {"Authorization": "Bearer ${KEY}"}}
    }}

A ``command`` entry is a stdio server (its stderr goes to ``$VAOS_HOME/logs/mcp-<name>.log``);
a ``url`` entry is a streamable-HTTP server. ``${VAR}`` in ``env``, ``args``, ``url`` and
``headers`` comes from the environment. ``"disabled": true`` skips a server.

Tools are named ``mcp__<server>__<tool>`` (at most 64 characters, the kernel policy's
``mcp__*`` family) with the server's own description and input schema; a server with
resources gets ``mcp__<server>__read_resource`` and one with prompts
``mcp__<server>__get_prompt``. A server that cannot be reached is reported, never fatal.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import json
import logging
import os
import re
from collections.abc import Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from vaos.tools.base import Tool, ToolContext, ToolError, ToolServices
from vaos.tools.registry import McpServerStatus, ToolRegistry

logger = logging.getLogger(__name__)

PREFIX = "mcp__"
MAX_TOOL_NAME = 64
_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


class McpConfigError(ValueError):
    pass


class McpServerConfig(BaseModel):
    model_config = ConfigDict(extra="ignore")

    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] = Field(default_factory=dict)
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] = Field(default_factory=dict)
    type: str | None = None
    allowed_tools: list[str] | None = None
    disabled: bool = False
    timeout: float | None = Field(default=None, gt=0)

    @property
    def transport(self) -> str:
        return "stdio" if self.command else "http"


def _expand(value: str, missing: set[str]) -> str:
    def sub(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in os.environ:
            missing.add(name)
        return os.environ.get(name, "")

    return _VAR.sub(sub, value)


def load_config(path: Path) -> dict[str, McpServerConfig]:
    """The servers of an ``mcp.json`` (empty when the file does not exist)."""
    if not path.exists():
        return {}
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise McpConfigError(f"{path}: not valid JSON ({exc})") from None
    servers = document.get("mcpServers") if isinstance(document, dict) else None
    if servers is None:
        servers = document.get("servers", {}) if isinstance(document, dict) else {}
    if not isinstance(servers, dict):
        raise McpConfigError(f"{path}: 'mcpServers' must be an object")
    out: dict[str, McpServerConfig] = {}
    for name, raw in servers.items():
        try:
            config = McpServerConfig.model_validate(raw)
        except ValidationError as exc:
            raise McpConfigError(f"{path}: server {name!r}: {exc.errors()[0]['msg']}") from None
        if not config.command and not config.url:
            raise McpConfigError(f"{path}: server {name!r} needs 'command' (stdio) or 'url' (HTTP)")
        if config.transport == "http" and config.type not in (
            None,
            "http",
            "streamable-http",
            "streamableHttp",
        ):
            raise McpConfigError(f"{path}: server {name!r}: transport {config.type!r} is not supported")
        missing: set[str] = set()
        config = config.model_copy(
            update={
                "args": [_expand(a, missing) for a in config.args],
                "env": {k: _expand(v, missing) for k, v in config.env.items()},
                "url": _expand(config.url, missing) if config.url else None,
                "headers": {k: _expand(v, missing) for k, v in config.headers.items()},
            }
        )
        if missing:
            logger.warning(
                "MCP server %s: unset variables %s (used as empty)", name, ", ".join(sorted(missing))
            )
        out[str(name)] = config
    return out


def tool_name(server: str, tool: str) -> str:
    """``mcp__<server>__<tool>``, made safe and at most 64 characters (hash-suffixed if cut)."""
    name = f"{PREFIX}{_UNSAFE.sub('_', server)}__{_UNSAFE.sub('_', tool)}"
    if len(name) <= MAX_TOOL_NAME:
        return name
    digest = hashlib.sha256(name.encode()).hexdigest()[:8]
    return f"{name[: MAX_TOOL_NAME - 9]}_{digest}"


def result_text(result: Any) -> tuple[str, bool]:
    """The text of a ``CallToolResult`` (or prompt/resource result) and whether it is an error."""
    parts: list[str] = []
    for block in getattr(result, "content", None) or []:
        kind = getattr(block, "type", "")
        if kind == "text":
            parts.append(str(block.text))
        elif kind in ("image", "audio"):
            parts.append(
                f"[{kind} {getattr(block, 'mime_type', '')}, {len(getattr(block, 'data', '') or '')} bytes]"
            )
        elif kind == "resource":
            inner = getattr(block, "resource", None)
            text = getattr(inner, "text", None)
            parts.append(str(text) if text is not None else f"[resource {getattr(inner, 'uri', '')}]")
        elif kind == "resource_link":
            parts.append(f"[resource {getattr(block, 'uri', '')}]")
        else:
            parts.append(str(block))
    structured = getattr(result, "structured_content", None)
    if not parts and structured is not None:
        parts.append(json.dumps(structured, ensure_ascii=False, default=str))
    return "\n".join(parts), bool(getattr(result, "is_error", False))


@dataclass
class _Connection:
    name: str
    config: McpServerConfig
    client: Any  # mcp.Client
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)


class _McpTool(Tool[Any]):
    """A tool of an MCP server; its arguments are the server's schema, checked there."""

    source: str = "mcp"
    args_model = dict

    def __init__(
        self, connection: _Connection, name: str, description: str, schema: Mapping[str, Any]
    ) -> None:
        self.connection = connection
        self.name = name
        self.description = description
        self._schema = dict(schema) if schema else {"type": "object", "properties": {}}
        self._schema.setdefault("type", "object")
        self._schema.setdefault("properties", {})

    def parameters(self) -> dict[str, Any]:
        copied: dict[str, Any] = json.loads(json.dumps(self._schema))
        return copied

    def validate(self, arguments: Mapping[str, Any]) -> Any:
        args = dict(arguments)
        missing = [k for k in self._schema.get("required", []) if k not in args]
        if missing:
            raise ToolError(
                f"invalid arguments for {self.name}:\n" + "\n".join(f"  - {k}: required" for k in missing)
            )
        return args

    def resources(self, args: Any, services: ToolServices) -> frozenset[str] | None:
        return frozenset({f"mcp:{self.connection.name}"}) if self.safety == "read_only" else None

    @property
    def timeout_s(self) -> float | None:
        return self.connection.config.timeout


class McpServerTool(_McpTool):
    def __init__(self, connection: _Connection, remote: Any) -> None:
        description = (remote.description or remote.title or f"MCP tool {remote.name}").strip()
        super().__init__(
            connection,
            tool_name(connection.name, remote.name),
            f"[MCP {connection.name}] {description}",
            remote.input_schema or {},
        )
        self.remote_name = str(remote.name)
        hints = getattr(remote, "annotations", None)
        read_only = hints is not None and bool(getattr(hints, "read_only_hint", False))
        self.safety = "read_only" if read_only else "execute"

    async def run(self, args: Any, ctx: ToolContext) -> str:
        client = self.connection.client
        try:
            result = await client.call_tool(self.remote_name, dict(args), read_timeout_seconds=self.timeout_s)
        except Exception as exc:  # the SDK's errors (MCPError, transport errors, validation)
            raise ToolError(f"MCP server {self.connection.name}: {_describe(exc)}") from None
        text, is_error = result_text(result)
        if is_error:
            raise ToolError(text or "the MCP tool reported an error")
        return text or "(no output)"


class McpResourceTool(_McpTool):
    def __init__(self, connection: _Connection, resources: list[Any]) -> None:
        uris = [str(r.uri) for r in resources][:200]
        listing = "; ".join(
            f"{r.uri}"
            + (f" ({(r.description or r.name or '').strip()[:80]})" if (r.description or r.name) else "")
            for r in resources[:30]
        )
        schema = {
            "type": "object",
            "properties": {"uri": {"type": "string", "description": "A resource URI.", "enum": uris}},
            "required": ["uri"],
            "additionalProperties": False,
        }
        super().__init__(
            connection,
            tool_name(connection.name, "read_resource"),
            f"[MCP {connection.name}] Read a resource: {listing}",
            schema,
        )

    async def run(self, args: Any, ctx: ToolContext) -> str:
        try:
            result = await self.connection.client.read_resource(str(args["uri"]))
        except Exception as exc:
            raise ToolError(f"MCP server {self.connection.name}: {_describe(exc)}") from None
        parts = []
        for item in getattr(result, "contents", []) or []:
            text = getattr(item, "text", None)
            parts.append(str(text) if text is not None else f"[binary {getattr(item, 'mime_type', '')}]")
        return "\n".join(parts) or "(empty resource)"


class McpPromptTool(_McpTool):
    def __init__(self, connection: _Connection, prompts: list[Any]) -> None:
        names = [str(p.name) for p in prompts][:200]
        listing = "; ".join(
            f"{p.name}({', '.join(a.name for a in (p.arguments or []))})"
            + (f": {(p.description or '').strip()[:80]}" if p.description else "")
            for p in prompts[:30]
        )
        schema = {
            "type": "object",
            "properties": {
                "name": {"type": "string", "enum": names},
                "arguments": {"type": "object", "additionalProperties": {"type": "string"}},
            },
            "required": ["name"],
            "additionalProperties": False,
        }
        super().__init__(
            connection,
            tool_name(connection.name, "get_prompt"),
            f"[MCP {connection.name}] Get a prompt template: {listing}",
            schema,
        )

    async def run(self, args: Any, ctx: ToolContext) -> str:
        arguments = {str(k): str(v) for k, v in (args.get("arguments") or {}).items()}
        try:
            result = await self.connection.client.get_prompt(str(args["name"]), arguments)
        except Exception as exc:
            raise ToolError(f"MCP server {self.connection.name}: {_describe(exc)}") from None
        lines = [result.description] if getattr(result, "description", None) else []
        for message in getattr(result, "messages", []) or []:
            content = getattr(message, "content", None)
            text = getattr(content, "text", None)
            lines.append(f"{message.role}: {text if text is not None else content}")
        return "\n".join(lines) or "(empty prompt)"


def _describe(exc: BaseException) -> str:
    if isinstance(exc, BaseExceptionGroup):
        return "; ".join(_describe(e) for e in exc.exceptions)
    text = str(exc).strip() or type(exc).__name__
    return text.splitlines()[0][:500]


class McpHub:
    """The connections to every configured server, entered and left in one task."""

    def __init__(self, config_path: Path, *, log_dir: Path, connect_timeout: float = 20.0) -> None:
        self.config_path = config_path
        self.log_dir = log_dir
        self.connect_timeout = connect_timeout
        self.connections: dict[str, _Connection] = {}
        self._stack = AsyncExitStack()

    async def start(self, registry: ToolRegistry) -> None:
        """Connect every server and register its tools; failures are recorded, not raised."""
        try:
            configs = load_config(self.config_path)
        except McpConfigError as exc:
            logger.warning("MCP configuration ignored: %s", exc)
            registry.mcp_servers["(config)"] = McpServerStatus(
                "(config)", "-", str(self.config_path), status="failed", error=str(exc)
            )
            return
        for name, config in configs.items():
            target = config.url or " ".join([config.command or "", *config.args]).strip()
            status = McpServerStatus(name, config.transport, target)
            registry.mcp_servers[name] = status
            if config.disabled:
                status.status = "disabled"
                continue
            try:
                await self._connect(name, config, registry, status)
            except Exception as exc:  # one broken server must not take the others down
                status.status, status.error = "failed", _describe(exc)
                logger.warning("MCP server %s: %s", name, status.error)

    async def _connect(
        self, name: str, config: McpServerConfig, registry: ToolRegistry, status: McpServerStatus
    ) -> None:
        from mcp import Client

        transport = await self._transport(name, config)
        client = Client(transport, read_timeout_seconds=config.timeout)
        async with asyncio.timeout(self.connect_timeout):
            await self._stack.enter_async_context(client)
        connection = _Connection(name, config, client)
        self.connections[name] = connection
        info = getattr(client, "server_info", None)
        status.server_info = {"name": getattr(info, "name", None), "version": getattr(info, "version", None)}
        capabilities = client.server_capabilities
        allowed = set(config.allowed_tools) if config.allowed_tools is not None else None
        tools: list[Any] = []
        if capabilities.tools is not None:
            async with asyncio.timeout(self.connect_timeout):
                tools = await _all_pages(client.list_tools, "tools")
        for remote in tools:
            if allowed is not None and remote.name not in allowed:
                continue
            self._add(registry, McpServerTool(connection, remote), status)
        if capabilities.resources is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.connect_timeout):
                    resources = await _all_pages(client.list_resources, "resources")
                if resources:
                    status.resources = len(resources)
                    self._add(registry, McpResourceTool(connection, resources), None)
        if capabilities.prompts is not None:
            with contextlib.suppress(Exception):
                async with asyncio.timeout(self.connect_timeout):
                    prompts = await _all_pages(client.list_prompts, "prompts")
                if prompts:
                    status.prompts = len(prompts)
                    self._add(registry, McpPromptTool(connection, prompts), None)
        status.status = "connected"

    def _add(self, registry: ToolRegistry, tool: _McpTool, status: McpServerStatus | None) -> None:
        if tool.name in registry:
            logger.warning("MCP tool %s skipped: the name is taken", tool.name)
            return
        registry.register(tool)
        if status is not None:
            status.tools += 1

    async def _transport(self, name: str, config: McpServerConfig) -> Any:
        if config.command:
            from mcp.client.stdio import StdioServerParameters, stdio_client

            params = StdioServerParameters(
                command=config.command, args=config.args, env=config.env or None, cwd=config.cwd
            )
            return stdio_client(params, errlog=self._errlog(name))
        from mcp.client.streamable_http import streamable_http_client

        http_client = None
        if config.headers:
            import httpx2

            http_client = await self._stack.enter_async_context(
                httpx2.AsyncClient(headers=config.headers, timeout=httpx2.Timeout(30.0, read=300.0))
            )
        assert config.url is not None
        return streamable_http_client(config.url, http_client=http_client)

    def _errlog(self, name: str) -> TextIO:
        self.log_dir.mkdir(parents=True, exist_ok=True)
        log = (self.log_dir / f"mcp-{_UNSAFE.sub('_', name)}.log").open("a", encoding="utf-8")
        self._stack.callback(log.close)
        return log

    async def aclose(self) -> None:
        self.connections.clear()
        try:
            await self._stack.aclose()
        except Exception as exc:  # a server that dies on the way out is not our failure
            logger.debug("closing MCP connections: %s", _describe(exc))


async def _all_pages(fetch: Any, attr: str, max_pages: int = 20) -> list[Any]:
    items: list[Any] = []
    cursor: str | None = None
    for _ in range(max_pages):
        page = await fetch(cursor=cursor)
        items.extend(getattr(page, attr, []) or [])
        cursor = getattr(page, "next_cursor", None)
        if not cursor:
            break
    return items


__all__ = [
    "McpConfigError",
    "McpHub",
    "McpServerConfig",
    "load_config",
    "result_text",
    "tool_name",
]
