"""Stored sessions and their messages, and the live events of a session (SSE)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request
from starlette.responses import Response, StreamingResponse

from vaos.api.context import context_of
from vaos.api.errors import CONFLICT, NOT_FOUND, ApiError, JSONBytes, sse_response
from vaos.api.routes.agent import SSE_HEADERS
from vaos.api.schemas import SESSION_ID_PATTERN, SessionCreate, SessionDetail, SessionList, SessionOut
from vaos.api.sse import session_stream

router = APIRouter(tags=["sessions"])

SessionPath = Annotated[str, Path(pattern=SESSION_ID_PATTERN, description="Session id.")]


@router.get("/sessions", response_model=SessionList, summary="Stored sessions, most recently active first")
async def list_sessions(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000)] = 50,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
    channel: Annotated[str | None, Query(min_length=1, max_length=64)] = None,
) -> Response:
    ctx = context_of(request)
    sessions = await ctx.runtime.sessions.list_sessions(channel=channel, limit=limit, offset=offset)
    return JSONBytes(
        {
            "sessions": [s.to_dict() for s in sessions],
            "count": len(sessions),
            "limit": limit,
            "offset": offset,
        }
    )


@router.post(
    "/sessions", response_model=SessionOut, status_code=201, responses=CONFLICT, summary="Start a session"
)
async def create_session(body: SessionCreate, request: Request) -> Response:
    ctx = context_of(request)
    try:
        session = await ctx.runtime.sessions.create_session(
            channel="http", title=body.title, session_id=body.session_id
        )
    except ValueError as exc:
        raise ApiError(409, "session_exists", str(exc), param="session_id") from None
    return JSONBytes(session.to_dict(), status_code=201)


@router.get(
    "/sessions/{session_id}",
    response_model=SessionDetail,
    responses=NOT_FOUND,
    summary="One session and its messages",
)
async def get_session(
    session_id: SessionPath,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=1000, description="At most this many messages.")] = 1000,
    after_id: Annotated[int | None, Query(ge=0, le=2**62, description="Only messages after this id.")] = None,
) -> Response:
    ctx = context_of(request)
    store = ctx.runtime.sessions
    session = await store.get_session(session_id)
    if session is None:
        raise ApiError(404, "session_not_found", f"no session {session_id!r}", param="session_id")
    messages = await store.list_messages(session_id, after_id=after_id, limit=limit)
    count = await store.count_messages(session_id)
    return JSONBytes(
        {**session.to_dict(), "messages": [m.to_dict() for m in messages], "message_count": count}
    )


@router.get(
    "/stream/{session_id}",
    summary="The events of a session as Server-Sent Events",
    response_class=StreamingResponse,
    responses=sse_response(
        "`id:` + `event: <type>` + `data: <flat envelope>` frames, `: keepalive` comments "
        "between them. Reconnect with `Last-Event-ID` to get what was missed."
    ),
)
async def stream(
    session_id: SessionPath,
    request: Request,
    last_event_id: Annotated[
        str | None, Header(alias="Last-Event-ID", max_length=128, description="Resume after this event.")
    ] = None,
    after: Annotated[
        str | None, Query(max_length=128, description="Same as the `Last-Event-ID` header.")
    ] = None,
    replay: Annotated[bool, Query(description="Start with every buffered event of the session.")] = False,
) -> Response:
    ctx = context_of(request)
    resume = last_event_id or after or ("" if replay else None)
    body = session_stream(ctx.hub, session_id, resume, ctx.settings.api.sse_heartbeat)
    return StreamingResponse(body, media_type="text/event-stream", headers=SSE_HEADERS)
