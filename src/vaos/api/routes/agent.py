"""``POST /api/v1/orchestrate``: one message through the agent loop, answered when done;
``POST /api/v1/orchestrate/stream``: the same, as the run's events (SSE) while it happens."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from vaos.agent.errors import AgentCallError
from vaos.api.context import ApiContext, context_of, ensure_taking_work
from vaos.api.errors import NOT_FOUND, UPSTREAM, ApiError, JSONBytes, sse_response
from vaos.api.openai_compat import routing_failure
from vaos.api.routes.signals import checked
from vaos.api.schemas import OrchestrateRequest, OrchestrateResponse
from vaos.api.sse import frame
from vaos.events import Event
from vaos.providers.registry import UnknownProviderError
from vaos.routing.router import RoutingInputError
from vaos.routing.runner import RoutingError

logger = logging.getLogger(__name__)
router = APIRouter(tags=["agent"])

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


def agent_failure(exc: Exception) -> ApiError | None:
    """The HTTP error for what the agent raised, or None when it is not the client's doing
    and not a known upstream failure (then it is a 500, logged)."""
    if isinstance(exc, ApiError):
        return exc
    if isinstance(exc, UnknownProviderError):
        return ApiError(404, "unknown_provider", str(exc).strip("'\""), param="provider")
    if isinstance(exc, RoutingInputError):
        return ApiError(422, "invalid_routing", str(exc).strip("'\""))
    if isinstance(exc, RoutingError):
        return routing_failure(exc)
    if isinstance(exc, AgentCallError):
        if exc.kind == "budget":
            return ApiError(429, "budget_exceeded", str(exc), headers={"x-should-retry": "false"})
        kinds = [str((a.get("error") or {}).get("kind", "")) for a in exc.attempts if isinstance(a, dict)]
        if kinds and all(k == "bad_request" for k in kinds):
            return ApiError(400, "invalid_request", f"the model refused the request: {exc}")
        return ApiError(502, "upstream_error", str(exc))
    if isinstance(exc, ValueError):
        return ApiError(422, "invalid_request", str(exc))
    return None


def _options(body: OrchestrateRequest) -> dict[str, Any]:
    return {
        "session_id": body.session_id,
        "tier": body.tier,
        "provider": body.provider,
        "model": body.model,
        "channel": body.channel,
    }


@router.post(
    "/orchestrate",
    response_model=OrchestrateResponse,
    responses={**NOT_FOUND, **UPSTREAM},
    summary="Run the agent on one message and answer when it is done",
)
async def orchestrate(body: OrchestrateRequest, request: Request) -> Response:
    ctx = context_of(request)
    text = checked(ctx, body.input, "input")
    ensure_taking_work(request)
    try:
        result = await ctx.runtime.agent("vaos").run(text, **_options(body))
    except Exception as exc:
        mapped = agent_failure(exc)
        if mapped is None:
            raise
        raise mapped from None
    return JSONBytes(result.to_dict())


async def _run_events(ctx: ApiContext, body: OrchestrateRequest, text: str) -> AsyncIterator[bytes]:
    events = ctx.runtime.agent("vaos").stream(text, **_options(body))
    try:
        first = await anext(aiter(events))
    except StopAsyncIteration:
        first = None
    except Exception as exc:
        mapped = agent_failure(exc)
        with contextlib.suppress(Exception):
            await events.aclose()  # type: ignore[attr-defined]
        if mapped is None:
            raise
        raise mapped from None
    return _frames(events, first, body.session_id)


async def _frames(
    events: AsyncIterator[Event], first: Event | None, session_id: str | None
) -> AsyncIterator[bytes]:
    try:
        event = first
        while event is not None:
            yield frame(event)
            try:
                event = await anext(events)
            except StopAsyncIteration:
                return
    except Exception as exc:
        logger.warning("agent stream failed: %r", exc)
        mapped = agent_failure(exc)
        data = (
            {"code": mapped.code, "message": mapped.message}
            if mapped is not None
            else {"code": "internal_error", "message": "the agent failed; see the server log"}
        )
        yield frame(Event(type="error", session_id=session_id, agent_id="vaos", data=data))
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()


@router.post(
    "/orchestrate/stream",
    summary="Run the agent on one message; its events as Server-Sent Events",
    response_class=StreamingResponse,
    responses={
        **sse_response(
            "`event: <type>` + `data: <flat envelope>` frames; the last is "
            "`agent_response` (data = the orchestrate answer) or `error`."
        ),
        **NOT_FOUND,
        **UPSTREAM,
    },
)
async def orchestrate_stream(body: OrchestrateRequest, request: Request) -> Response:
    ctx = context_of(request)
    text = checked(ctx, body.input, "input")
    ensure_taking_work(request)
    stream = await _run_events(ctx, body, text)
    return StreamingResponse(stream, media_type="text/event-stream", headers=SSE_HEADERS)
