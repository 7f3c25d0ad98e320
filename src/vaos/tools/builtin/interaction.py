"""Talking to the user (``ask_user``) and the spending so far (``budget_status``)."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from vaos.tools.base import NoArgs, Tool, ToolArgs, ToolContext, ToolError, ToolServices


class AskUserArgs(ToolArgs):
    question: str = Field(min_length=1, max_length=2000)
    options: list[str] | None = Field(default=None, max_length=10, description="Choices to offer.")


class AskUser(Tool[AskUserArgs]):
    name = "ask_user"
    description = "Ask the user a question and wait for the answer (only when you cannot decide yourself)."
    args_model = AskUserArgs
    timeout: float | None = 300.0

    def unavailable(self, services: ToolServices) -> str | None:
        return None if services.ask_user is not None else "no interactive user on this channel"

    def resources(self, args: AskUserArgs, services: ToolServices) -> frozenset[str] | None:
        return frozenset({"user"})

    async def run(self, args: AskUserArgs, ctx: ToolContext) -> str:
        if ctx.services.ask_user is None:
            raise ToolError("no user can be asked on this channel: decide with what you know")
        answer = await ctx.services.ask_user(args.question, list(args.options or []), ctx.session_id)
        return f"User answered: {answer}" if answer.strip() else "The user gave no answer."


class BudgetStatus(Tool[NoArgs]):
    name = "budget_status"
    description = "How much has been spent on model calls today and in this session, and the limits."
    args_model = NoArgs

    async def run(self, args: NoArgs, ctx: ToolContext) -> str:
        budget = ctx.services.budget
        if budget is None:
            return "No spending is tracked."
        lines = [f"Spent today: ${budget.spent_today():.6f}"]
        if budget.daily_limit is not None:
            lines[0] += f" of ${budget.daily_limit} (daily limit)"
        spent = budget.spent_session(ctx.session_id)
        line = f"Spent in this session: ${spent:.6f}"
        if budget.session_limit is not None:
            line += f" of ${budget.session_limit} (session limit)"
        lines.append(line)
        over = budget.over(ctx.session_id)
        lines.append(f"Over budget: {over}" if over else "Within budget.")
        return "\n".join(lines)


TOOLS: tuple[type[Tool[Any]], ...] = (AskUser, BudgetStatus)
