"""``/api/v1/swarm``: launch a multi-agent swarm, follow it, cancel it (``vaos.swarm.SwarmService``).

A launch returns at once (202) with the ``swarm_id``; the swarm runs in the daemon's
background (its events reach ``/api/v1/stream/...`` and telemetry) and its state lives in the
store. A build without the swarm layer answers 501.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from starlette.responses import Response

from vaos.api.context import ApiContext, context_of, ensure_taking_work
from vaos.api.errors import ApiError, ErrorResponse, JSONBytes
from vaos.api.schemas import SwarmLaunched, SwarmLaunchRequest, SwarmList, SwarmStatus

router = APIRouter(tags=["swarm"])

SwarmPath = Annotated[str, Path(pattern=r"^[A-Za-z0-9_.:-]{1,64}$", description="Swarm id.")]


def _ref(description: str) -> dict[str, Any]:
    return {"model": ErrorResponse, "description": description}


_ERRORS: dict[int | str, dict[str, Any]] = {
    403: _ref("Governance refused the launch"),
    404: _ref("No such swarm"),
    409: _ref("The swarm is not in a state that allows it"),
    501: _ref("This build has no swarm layer"),
    503: _ref("Something the swarm needs is missing (runtime, broker), or the daemon is paused"),
}


def service(ctx: ApiContext) -> Any:
    """The app's ``SwarmService`` (made on first use, closed with the app)."""
    found = ctx.extras.get("swarms")
    if found is not None:
        return found
    try:
        from vaos.swarm.service import SwarmService
    except ImportError:
        raise ApiError(501, "not_implemented", "swarms are not available in this build") from None
    made = SwarmService(ctx.runtime, settings=ctx.settings, bus=ctx.runtime.bus)
    ctx.extras["swarms"] = made
    ctx.closers.append(made.aclose)
    return made


def swarm_failure(exc: Exception) -> ApiError | None:
    from vaos.swarm import errors

    table: list[tuple[type[Exception], int, str, dict[str, str]]] = [
        (errors.SwarmInputError, 422, "invalid_swarm", {}),
        (errors.SwarmNotFoundError, 404, "swarm_not_found", {}),
        (errors.SwarmStateError, 409, "swarm_state", {}),
        (errors.SwarmBusyError, 429, "swarms_busy", {"Retry-After": "30"}),
        (errors.SwarmRefusedError, 403, "swarm_refused", {}),
        (errors.SwarmUnavailableError, 503, "swarm_unavailable", {}),
    ]
    for kind, status, code, headers in table:
        if isinstance(exc, kind):
            return ApiError(status, code, str(exc), headers=headers)
    return None


async def _call(ctx: ApiContext, method: str, *args: Any, **kwargs: Any) -> Any:
    svc = service(ctx)
    try:
        return await getattr(svc, method)(*args, **kwargs)
    except Exception as exc:
        mapped = swarm_failure(exc)
        if mapped is None:
            raise
        raise mapped from None


@router.post(
    "/swarm/launch",
    response_model=SwarmLaunched,
    status_code=202,
    responses=_ERRORS,
    summary="Launch a multi-agent swarm (returns at once)",
)
async def launch(body: SwarmLaunchRequest, request: Request) -> Response:
    ctx = context_of(request)
    ensure_taking_work(request)
    options = body.model_dump(exclude={"task", "pattern"}, exclude_none=True)
    swarm_id = await _call(ctx, "launch", body.task, body.pattern, **options)
    return JSONBytes({"swarm_id": swarm_id}, status_code=202)


@router.get("/swarm", response_model=SwarmList, responses=_ERRORS, summary="The latest swarms")
async def list_swarms(
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    status: Annotated[str | None, Query(pattern=r"^[a-z_]{1,32}$")] = None,
) -> Response:
    ctx = context_of(request)
    swarms = await _call(ctx, "list_swarms", limit=limit, status=status)
    return JSONBytes({"swarms": swarms, "count": len(swarms)})


@router.get(
    "/swarm/{swarm_id}",
    response_model=SwarmStatus,
    responses=_ERRORS,
    summary="A swarm's status, its agents and their results",
)
async def status(swarm_id: SwarmPath, request: Request) -> Response:
    ctx = context_of(request)
    found = await _call(ctx, "status", swarm_id)
    if found is None:
        raise ApiError(404, "swarm_not_found", f"no swarm {swarm_id!r}", param="swarm_id")
    return JSONBytes(found)


@router.post(
    "/swarm/{swarm_id}/cancel",
    response_model=SwarmStatus,
    responses=_ERRORS,
    summary="Stop a queued or running swarm (results so far are kept)",
)
async def cancel(swarm_id: SwarmPath, request: Request) -> Response:
    ctx = context_of(request)
    return JSONBytes(await _call(ctx, "cancel", swarm_id))
