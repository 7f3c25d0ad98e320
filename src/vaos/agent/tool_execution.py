"""Running tool calls: validation, hooks, governance, timeout, truncation, events.

For each call, in this order: the tool must exist; its arguments are validated (pydantic);
``pre_tool`` hooks may change the arguments (validated again) or block; the governance gate
asks the kernel for a token (in ``enforce`` mode a refusal means the tool does not run) and
confirms the outcome in the audit ledger afterwards; the tool runs under its timeout;
``post_tool`` hooks see the result; the result is cut to the output limit with a note.
The model always gets an answer: ``Error:``, ``Blocked:`` or ``Refused:`` say what happened.

A batch runs in parallel where the calls are independent: read-only calls together, writes
to different files together, and a call that may touch anything (the shell, git writes, an
MCP tool that does not say it is read-only) after the calls before it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from vaos.agent.hooks import Hooks
from vaos.providers.types import ToolCall
from vaos.tools.base import Tool, ToolContext, ToolError, ToolServices
from vaos.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.events import EventBus
    from vaos.governance.gate import Governance

PREVIEW_CHARS = 500


@dataclass
class ToolCallRecord:
    id: str
    name: str
    arguments: dict[str, Any]
    status: str  # ok | error | invalid | blocked | refused | timeout
    result: str
    duration_ms: float
    audit_id: str | None = None

    @property
    def failed(self) -> bool:
        return self.status != "ok"

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "arguments": self.arguments,
            "status": self.status,
            "result": self.result,
            "duration_ms": round(self.duration_ms, 3),
        }


def truncate_output(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` UTF-8 bytes (at a character boundary) with a note saying so."""
    data = text.encode("utf-8", errors="replace")
    if len(data) <= limit:
        return text
    kept = data[:limit].decode("utf-8", errors="ignore")
    return kept + f"\n\n[Output truncated — {len(data)} bytes total, showing first {limit} bytes]"


def _jsonable(arguments: Any) -> dict[str, Any]:
    try:
        value = orjson.loads(orjson.dumps(arguments, default=str))
    except (TypeError, orjson.JSONEncodeError):
        return {"_unserialisable": str(arguments)[:200]}
    return value if isinstance(value, dict) else {"value": value}


class ToolExecutor:
    def __init__(
        self,
        registry: ToolRegistry,
        services: ToolServices,
        *,
        hooks: Hooks | None = None,
        governance: Governance | None = None,
        bus: EventBus | None = None,
        settings: Settings,
    ) -> None:
        self.registry = registry
        self.services = services
        self.hooks = hooks or Hooks()
        self.governance = governance
        self.bus = bus
        self.settings = settings

    async def run_batch(
        self,
        calls: Sequence[ToolCall],
        *,
        session_id: str | None,
        agent_id: str,
        intent: str,
        iteration: int = 0,
    ) -> list[ToolCallRecord]:
        """Every call of one model answer; results in the calls' order."""
        if len(calls) == 1:
            return [
                await self.run_one(
                    calls[0], session_id=session_id, agent_id=agent_id, intent=intent, iteration=iteration
                )
            ]
        footprints = [self._footprint(call) for call in calls]
        done = [asyncio.Event() for _ in calls]
        slots = asyncio.Semaphore(self.settings.agent.tool_concurrency)
        results: list[ToolCallRecord | None] = [None] * len(calls)

        async def one(i: int) -> None:
            try:
                for j in range(i):
                    if _conflict(footprints[i], footprints[j]):
                        await done[j].wait()
                async with slots:
                    results[i] = await self.run_one(
                        calls[i], session_id=session_id, agent_id=agent_id, intent=intent, iteration=iteration
                    )
            finally:
                done[i].set()

        async with asyncio.TaskGroup() as group:
            for i in range(len(calls)):
                group.create_task(one(i))
        return [r for r in results if r is not None]

    def _footprint(self, call: ToolCall) -> frozenset[str] | None:
        tool = self.registry.get(call.name)
        if tool is None:
            return frozenset()
        try:
            args = tool.validate(call.arguments)
            return tool.resources(args, self.services)
        except Exception:  # invalid arguments touch nothing: the call will only report them
            return frozenset()

    async def run_one(
        self,
        call: ToolCall,
        *,
        session_id: str | None,
        agent_id: str,
        intent: str,
        iteration: int = 0,
    ) -> ToolCallRecord:
        started = time.perf_counter()
        arguments = _jsonable(call.arguments)
        await self._emit(
            "tool_call",
            {"id": call.id, "name": call.name, "arguments": arguments, "iteration": iteration},
            session_id,
            agent_id,
        )
        record = await self._execute(call, arguments, session_id, agent_id, intent)
        record.duration_ms = (time.perf_counter() - started) * 1000
        record.result = truncate_output(record.result, self.settings.agent.max_tool_output_bytes)
        data: dict[str, Any] = {
            "id": record.id,
            "name": record.name,
            "status": record.status,
            "result": record.result,
            "preview": record.result[:PREVIEW_CHARS],
            "duration_ms": round(record.duration_ms, 3),
            "iteration": iteration,
        }
        if record.audit_id:
            data["audit_id"] = record.audit_id
        await self._emit("tool_result", data, session_id, agent_id)
        return record

    async def _execute(
        self, call: ToolCall, arguments: dict[str, Any], session_id: str | None, agent_id: str, intent: str
    ) -> ToolCallRecord:
        record = ToolCallRecord(call.id, call.name, arguments, "ok", "", 0.0)
        tool = self.registry.get(call.name)
        if tool is None or self.registry.unavailable(tool) is not None:
            why = "" if tool is None else f" ({self.registry.unavailable(tool)})"
            offered = ", ".join(t.name for t in self.registry.available())
            return self._fail(
                record, "error", f"Error: unknown tool {call.name!r}{why}. Available: {offered}"
            )
        try:
            args = tool.validate(arguments)
        except ToolError as exc:
            return self._fail(record, "invalid", f"Error: {exc}")
        if self.hooks.has("pre_tool"):
            outcome = await self.hooks.run(
                "pre_tool",
                {
                    "tool_name": tool.name,
                    "arguments": dict(arguments),
                    "safety": tool.safety,
                    "intent": intent,
                },
                session_id=session_id,
                agent_id=agent_id,
            )
            if outcome.blocked is not None:
                return self._fail(record, "blocked", f"Blocked: {outcome.blocked}")
            changed = outcome.data.get("arguments")
            if isinstance(changed, dict) and changed != arguments:
                record.arguments = arguments = _jsonable(changed)
                try:
                    args = tool.validate(arguments)
                except ToolError as exc:
                    return self._fail(record, "invalid", f"Error: {exc}")
        ctx = ToolContext(self.services, session_id=session_id, agent_id=agent_id, call_id=call.id)
        await self._governed(tool, args, arguments, ctx, intent, record)
        if self.hooks.has("post_tool"):
            outcome = await self.hooks.run(
                "post_tool",
                {
                    "tool_name": tool.name,
                    "arguments": arguments,
                    "status": record.status,
                    "result": record.result,
                },
                session_id=session_id,
                agent_id=agent_id,
            )
            if isinstance(outcome.data.get("result"), str):
                record.result = outcome.data["result"]
        return record

    async def _governed(
        self,
        tool: Tool[Any],
        args: Any,
        arguments: dict[str, Any],
        ctx: ToolContext,
        intent: str,
        record: ToolCallRecord,
    ) -> None:
        gate = self.governance
        if gate is None or gate.mode == "off":
            await self._run(tool, args, ctx, record)
            return
        from vaos.governance.errors import ActionRefused

        try:
            async with gate.authorize(
                tool.name,
                intent=intent,
                args=arguments,
                agent_id=ctx.agent_id,
                session_id=ctx.session_id,
                metadata={"tool_call_id": record.id} if record.id else None,
            ) as auth:
                auth.note("tool_call_id", record.id)
                await self._run(tool, args, ctx, record)
                auth.note("status", record.status)
                if record.status != "ok":
                    auth.context["outcome_detail"] = record.result[:500]
        except ActionRefused as exc:
            self._fail(record, "refused", f"Refused: governance did not authorise {tool.name}: {exc.reason}")
            record.audit_id = exc.refusal_id or None
            return
        record.audit_id = auth.audit_id

    async def _run(self, tool: Tool[Any], args: Any, ctx: ToolContext, record: ToolCallRecord) -> None:
        limit = tool.timeout or self.settings.agent.tool_timeout
        try:
            async with asyncio.timeout(limit):
                result = await tool.run(args, ctx)
        except ToolError as exc:
            self._fail(record, "error", f"Error: {exc}")
            return
        except TimeoutError:
            self._fail(record, "timeout", f"Error: {tool.name} timed out after {limit:g} s")
            return
        except Exception as exc:  # a tool bug is reported to the model, never crashes the loop
            self._fail(record, "error", f"Error: {tool.name} failed: {type(exc).__name__}: {exc}")
            return
        record.status, record.result = "ok", result if isinstance(result, str) else str(result)

    @staticmethod
    def _fail(record: ToolCallRecord, status: str, message: str) -> ToolCallRecord:
        record.status, record.result = status, message
        return record

    async def _emit(self, kind: str, data: dict[str, Any], session_id: str | None, agent_id: str) -> None:
        if self.bus is not None:
            await self.bus.emit(kind, data, session_id=session_id, agent_id=agent_id)


def _conflict(a: frozenset[str] | None, b: frozenset[str] | None) -> bool:
    """Whether two calls must not overlap: None touches anything; a shared resource conflicts
    unless both only read it (``r:``/``read`` resources)."""
    if a is None or b is None:
        return True
    for x in a:
        for y in b:
            if _same(x, y) and not (_reads(x) and _reads(y)):
                return True
    return False


def _reads(resource: str) -> bool:
    return resource.startswith("r:") or resource.endswith(":read")


def _same(x: str, y: str) -> bool:
    def key(r: str) -> str:
        if r.startswith(("r:", "w:")):
            return r[2:]
        return r.rsplit(":", 1)[0] if r.endswith((":read", ":write")) else r

    return key(x) == key(y)
