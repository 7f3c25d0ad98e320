"""``task_write``: the session's task list (add, start, complete, fail, list, ...)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from vaos.tools.base import Safety, Tool, ToolArgs, ToolContext, ToolError, ToolServices
from vaos.tools.tasks import TaskError


class TaskWriteArgs(ToolArgs):
    action: Literal["add", "add_multiple", "start", "complete", "fail", "update", "list", "clear", "next"]
    title: str | None = Field(default=None, max_length=300, description="add, update.")
    titles: list[str] | None = Field(default=None, max_length=50, description="add_multiple.")
    task_id: str | None = Field(default=None, description="start, complete, fail, update.")
    reason: str | None = Field(default=None, max_length=500, description="fail.")
    blocked_by: list[str] | None = Field(default=None, description="add: ids this task waits for.")


class TaskWrite(Tool[TaskWriteArgs]):
    name = "task_write"
    description = (
        "Keep a task list for this session: add / add_multiple, start, complete, fail, update, list, "
        "clear, next. Use it to plan multi-step work and track progress."
    )
    args_model = TaskWriteArgs
    safety: Safety = "write"

    def unavailable(self, services: ToolServices) -> str | None:
        return None if services.tasks is not None else "no task store"

    def resources(self, args: TaskWriteArgs, services: ToolServices) -> frozenset[str] | None:
        return frozenset({"tasks"})

    async def run(self, args: TaskWriteArgs, ctx: ToolContext) -> str:
        if ctx.services.tasks is None:
            raise ToolError("no task store")
        if not ctx.session_id:
            raise ToolError("task lists belong to a session; there is none")
        fields = args.model_dump(exclude={"action"})
        try:
            return ctx.services.tasks.apply(ctx.session_id, args.action, **fields)
        except TaskError as exc:
            raise ToolError(str(exc)) from None


TOOLS: tuple[type[Tool[Any]], ...] = (TaskWrite,)
