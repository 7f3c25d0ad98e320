"""``POST /api/v1/classify`` and ``POST /api/v1/route``: the signal, and where it would go."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from vaos.api.context import ApiContext, context_of
from vaos.api.errors import NOT_FOUND, ApiError, JSONBytes
from vaos.api.schemas import ClassifyRequest, RouteRequest, RouteResponse, SignalOut
from vaos.providers.registry import UnknownProviderError
from vaos.routing.router import RoutingInputError
from vaos.signal.validation import InvalidMessageError, validate_message

router = APIRouter(tags=["signal"])


def checked(ctx: ApiContext, text: str, field: str) -> str:
    """``text`` if it is a message VAOS accepts, else 422 naming the problem (and the limit)."""
    try:
        return validate_message(text, ctx.settings.signal.max_message_bytes)
    except InvalidMessageError as exc:
        raise ApiError(422, "invalid_message", str(exc), param=field) from None


async def _llm_signal(ctx: ApiContext, text: str, session_id: str | None) -> Any:
    from vaos.signal.llm_classifier import LLMSignalClassifier
    from vaos.signal.service import SignalService

    routing = ctx.runtime.routing

    async def call(request: Any) -> Any:
        decision = routing.router.decide(tier="utility")
        return (await routing.runner.complete(request, decision, session_id=session_id)).completion

    service = SignalService(
        ctx.runtime.bus if session_id else None,
        deterministic=ctx.classifier,
        llm=LLMSignalClassifier(call),
        llm_below=ctx.settings.signal.llm_below_confidence,
    )
    return await service.classify(text, session_id=session_id, channel="http", use_llm=True)


@router.post(
    "/classify",
    response_model=SignalOut,
    summary="Classify a message into its signal (`llm: true` asks a model when one answers)",
)
async def classify(body: ClassifyRequest, request: Request) -> Response:
    ctx = context_of(request)
    text = checked(ctx, body.message, "message")
    if body.llm:
        signal = await _llm_signal(ctx, text, body.session_id)
    else:
        signal = ctx.classifier.classify(text)
        if body.session_id:
            await ctx.runtime.bus.emit(
                "signal_classified",
                {"signal": signal.to_dict(), "channel": "http", "input_preview": text[:200]},
                session_id=body.session_id,
            )
    return JSONBytes(signal.to_dict())


@router.post(
    "/route",
    response_model=RouteResponse,
    responses=NOT_FOUND,
    summary="The signal and the routing decision (tier, provider, model, why); no model call",
)
async def route(body: RouteRequest, request: Request) -> Response:
    ctx = context_of(request)
    text = checked(ctx, body.message, "message")
    signal = ctx.classifier.classify(text)
    try:
        decision = ctx.runtime.routing.router.decide(
            signal,
            text,
            tier=body.tier,
            provider=body.provider,
            model=body.model,
            session_id=body.session_id,
        )
    except UnknownProviderError as exc:
        raise ApiError(404, "unknown_provider", str(exc).strip("'\""), param="provider") from None
    except RoutingInputError as exc:
        raise ApiError(422, "invalid_routing", str(exc).strip("'\""), param="model") from None
    return JSONBytes({"signal": signal.to_dict(), "decision": decision.to_dict()})
