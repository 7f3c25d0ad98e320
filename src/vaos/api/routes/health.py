"""``GET /health`` (liveness and what the daemon is connected to) and ``GET /metrics``."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from vaos import __version__
from vaos.api.context import context_of
from vaos.api.errors import JSONBytes
from vaos.api.metrics import CONTENT_TYPE
from vaos.api.schemas import Health

router = APIRouter(tags=["health"])


def kernel_status(governance: object) -> str:
    status = getattr(governance, "kernel_status", None)
    if governance is None or status is None:
        return "disabled"
    value = str(status())
    return value if value in ("up", "down", "disabled") else "down"


@router.get("/health", response_model=Health, summary="Liveness, kernel and provider state")
async def health(request: Request) -> Response:
    ctx = context_of(request)
    routing = ctx.runtime.routing
    registry = routing.registry
    providers = {}
    for name in routing.router.order:
        providers[name] = {
            "configured": registry.statuses[name].configured,
            "in_chain": True,
            "circuit": registry.breakers[name].state,
        }
    return JSONBytes(
        {
            "status": "ok",
            "version": __version__,
            "kernel": kernel_status(ctx.runtime.governance),
            "providers": providers,
            "uptime_s": round(ctx.uptime_s, 3),
        }
    )


@router.get(
    "/metrics",
    summary="Prometheus metrics (text format)",
    response_class=Response,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}},
)
async def metrics(request: Request) -> Response:
    ctx = context_of(request)
    return Response(ctx.metrics.render(), media_type=CONTENT_TYPE)
