"""What the API needs from the agent runtime (``vaos.agent.open_runtime``), as protocols.

The API is written against these shapes, not against the classes, so tests can serve a
small fake runtime and the API does not care how the runtime is built::

    async with open_runtime(settings, bus=bus) as runtime:
        result = await runtime.agent("vaos").run(text, session_id=sid, channel="http")
        async for event in runtime.agent().stream(text, session_id=sid): ...
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.events import Event, EventBus
    from vaos.routing.wiring import Routing
    from vaos.store.database import Database
    from vaos.store.sessions import SessionStore


class AgentResultLike(Protocol):
    session_id: str

    def to_dict(self) -> dict[str, Any]: ...


class AgentLike(Protocol):
    async def run(
        self,
        text: str,
        *,
        session_id: str | None = None,
        tier: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        channel: str = "http",
    ) -> AgentResultLike: ...

    def stream(
        self,
        text: str,
        *,
        session_id: str | None = None,
        tier: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        channel: str = "http",
    ) -> AsyncIterator[Event]: ...


class RuntimeLike(Protocol):
    """The parts of ``vaos.agent.AgentRuntime`` the API uses."""

    @property
    def bus(self) -> EventBus: ...

    @property
    def db(self) -> Database: ...

    @property
    def sessions(self) -> SessionStore: ...

    @property
    def routing(self) -> Routing: ...

    @property
    def governance(self) -> Any: ...

    @property
    def tools(self) -> Any: ...

    def agent(self, name: str = "vaos") -> AgentLike: ...


RuntimeFactory = Callable[["Settings", "EventBus"], AbstractAsyncContextManager[RuntimeLike]]
"""Opens a runtime for the settings on the bus (the default is ``vaos.agent.open_runtime``)."""


def default_runtime_factory(settings: Settings, bus: EventBus) -> AbstractAsyncContextManager[RuntimeLike]:
    """``vaos.agent.open_runtime(settings, bus=bus)``."""
    from vaos import agent

    open_runtime: Any = getattr(agent, "open_runtime", None)
    if open_runtime is None:
        raise RuntimeError("the agent runtime (vaos.agent.open_runtime) is not available in this build")
    manager: AbstractAsyncContextManager[RuntimeLike] = open_runtime(settings, bus=bus)
    return manager


def tools_document(tools: Any) -> dict[str, Any]:
    """The registered tools as ``vaos tools --json`` prints them: ``{"tools": [...],
    "mcp_servers": [...]}`` (a registry that gives a bare list gets it wrapped)."""
    import orjson

    value: Any = None
    for attr in ("to_json", "specs"):
        method = getattr(tools, attr, None)
        if method is not None:
            value = method()
            break
    if isinstance(value, (bytes, str)):
        value = orjson.loads(value)
    if isinstance(value, dict) and isinstance(value.get("tools"), list):
        return {
            **value,
            "tools": [_plain(t) for t in value["tools"]],
            "mcp_servers": value.get("mcp_servers", []),
        }
    if isinstance(value, list):
        return {"tools": [_plain(t) for t in value], "mcp_servers": []}
    return {"tools": [], "mcp_servers": []}


def _plain(item: Any) -> dict[str, Any]:
    if isinstance(item, dict):
        return item
    to_dict = getattr(item, "to_dict", None)
    if callable(to_dict):
        result: dict[str, Any] = to_dict()
        return result
    return {
        "name": getattr(item, "name", str(item)),
        "description": getattr(item, "description", ""),
        "parameters": dict(getattr(item, "parameters", {}) or {}),
    }
