"""Helpers for the agent tests: settings on a temporary home and workspace, scripted models."""

from __future__ import annotations

import asyncio
import itertools
from pathlib import Path
from typing import Any

from vaos.config import Settings
from vaos.providers.testing import Reply
from vaos.providers.types import Message, ToolCall
from vaos.tools.base import Tool, ToolArgs, ToolContext, ToolError

# A message that passes the noise filter with a weight above the tool gate (0.20).
TASK = "Please read the README.md file and summarize it for me"
_ids = itertools.count(1)


def make_settings(home: Path, workspace: Path, **agent: Any) -> Settings:
    return Settings(
        home=home,
        tools={"workspace": workspace},
        agent=agent,
        signal={"llm_enabled": False},
    )


def call(name: str, **arguments: Any) -> ToolCall:
    return ToolCall(f"call_{next(_ids)}", name, arguments)


def tools(*calls: ToolCall, text: str = "") -> Reply:
    return Reply(text, calls)


def roles(messages: tuple[Message, ...] | list[Message]) -> list[str]:
    return [m.role for m in messages]


class SleepArgs(ToolArgs):
    seconds: float = 0.3
    label: str = ""


class SleepTool(Tool[SleepArgs]):
    """A read-only tool that waits (parallel execution, timeouts)."""

    name = "nap"
    description = "Wait a little."
    args_model = SleepArgs

    def __init__(self) -> None:
        self.log: list[tuple[str, str]] = []

    async def run(self, args: SleepArgs, ctx: ToolContext) -> str:
        self.log.append(("start", args.label))
        await asyncio.sleep(args.seconds)
        self.log.append(("end", args.label))
        return f"slept {args.seconds}"


class BrokenArgs(ToolArgs):
    how: str = "error"


class BrokenTool(Tool[BrokenArgs]):
    name = "broken"
    description = "Fails in the way asked."
    args_model = BrokenArgs

    async def run(self, args: BrokenArgs, ctx: ToolContext) -> str:
        if args.how == "error":
            raise ToolError("it did not work")
        if args.how == "bug":
            raise RuntimeError("unexpected None")
        if args.how == "big":
            return "x" * 100_000
        await asyncio.sleep(30)
        return "never"
