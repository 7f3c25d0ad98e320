"""``GET /api/v1/commands`` and ``POST /api/v1/commands``: the slash-command table every front
end shares (``vaos.agent.COMMANDS``), run by the daemon for remote front ends (``vaos chat``).

The server keeps no per-client state: the client sends its ``SessionState`` with the line
and gets it back updated (tier, model, session, totals), so any number of clients and
daemon restarts are harmless.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Literal

from fastapi import APIRouter, Request
from pydantic import BaseModel, ConfigDict, Field
from starlette.responses import Response

from vaos.api.context import context_of
from vaos.api.errors import ApiError, ErrorResponse, JSONBytes
from vaos.api.schemas import SESSION_ID_PATTERN
from vaos.tiers import Tier

MAX_COUNT = 2**53

router = APIRouter(
    tags=["commands"],
    responses={501: {"model": ErrorResponse, "description": "This build has no command table"}},
)


class CommandState(BaseModel):
    """The front end's ``SessionState`` (``vaos.agent.commands``)."""

    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False)

    session_id: str | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    agent_id: str = Field(default="vaos", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    channel: str = Field(default="cli", pattern=r"^[a-z][a-z0-9_-]{0,31}$")
    tier: Tier | None = None
    provider: str | None = Field(default=None, max_length=64)
    model: str | None = Field(default=None, max_length=200)
    prompt_tokens: int = Field(default=0, ge=0, le=MAX_COUNT)
    completion_tokens: int = Field(default=0, ge=0, le=MAX_COUNT)
    cost_usd: float = Field(default=0.0, ge=0, le=1e12)
    turns: int = Field(default=0, ge=0, le=MAX_COUNT)
    tool_calls: int = Field(default=0, ge=0, le=MAX_COUNT)


class CommandRequest(BaseModel):
    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)

    line: str = Field(min_length=1, max_length=10_000, description="`/command args`.")
    state: CommandState = Field(default_factory=CommandState)


class CommandOutcome(BaseModel):
    model_config = ConfigDict(extra="allow")

    command: str
    ok: bool
    output: str
    action: Literal["quit", "clear"] | None
    data: dict[str, Any]


class CommandReply(BaseModel):
    result: CommandOutcome
    state: CommandState


class CommandInfo(BaseModel):
    name: str
    usage: str
    summary: str
    aliases: list[str]


def _table() -> Any:
    try:
        from vaos.agent import commands
    except ImportError:  # pragma: no cover - a build without the agent
        raise ApiError(501, "not_implemented", "this build has no command table") from None
    return commands


@router.get("/commands", response_model=list[CommandInfo], summary="The shared slash commands")
async def list_commands() -> Response:
    commands = _table()
    return JSONBytes(
        [
            {"name": c.name, "usage": c.usage, "summary": c.summary, "aliases": list(c.aliases)}
            for c in commands.COMMANDS.values()
        ]
    )


@router.post("/commands", response_model=CommandReply, summary="Run one slash command")
async def run_command(body: CommandRequest, request: Request) -> Response:
    ctx = context_of(request)
    commands = _table()
    known = {f.name for f in dataclasses.fields(commands.SessionState)}
    state = commands.SessionState(**{k: v for k, v in body.state.model_dump().items() if k in known})
    line = body.line if body.line.lstrip().startswith("/") else "/" + body.line.lstrip()
    result = await commands.run_command(ctx.runtime, state, line)
    return JSONBytes({"result": result.to_dict(), "state": dataclasses.asdict(state)})
