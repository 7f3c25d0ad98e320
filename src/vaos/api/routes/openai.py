"""``POST /v1/chat/completions``, ``GET /v1/models`` and ``GET /v1/models/{id}``: OpenAI-
compatible, so any OpenAI client gets VAOS routing, fallback, budgets and the audit trail."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from starlette.responses import Response, StreamingResponse

from vaos.api import openai_compat as oa
from vaos.api.context import context_of, ensure_taking_work
from vaos.api.errors import NOT_FOUND, SSE_EVENT_SCHEMA, UPSTREAM, ApiError, JSONBytes
from vaos.api.openai_models import ChatCompletion, ChatCompletionRequest, ModelCard, ModelList

router = APIRouter(tags=["openai"])


def _headers(p: oa.Prepared, provider: str, model: str) -> dict[str, str]:
    headers = {"x-vaos-tier": p.decision.tier, "x-vaos-provider": provider, "x-vaos-model": model}
    if p.session_id:
        headers["x-vaos-session-id"] = p.session_id
    return headers


@router.post(
    "/chat/completions",
    response_model=ChatCompletion,
    responses={
        200: {
            "description": "A `chat.completion`, or with `stream: true` a stream of "
            "`chat.completion.chunk` events ending with `data: [DONE]`.",
            "content": {"text/event-stream": {"schema": SSE_EVENT_SCHEMA}},
        },
        **NOT_FOUND,
        **UPSTREAM,
    },
    summary="Chat completion (OpenAI-compatible); model = a model id, a tier, or auto",
)
async def chat_completions(body: ChatCompletionRequest, request: Request) -> Response:
    ctx = context_of(request)
    ensure_taking_work(request)
    prepared = await oa.prepare(ctx, body)
    if body.stream:
        include_usage = bool(body.stream_options and body.stream_options.include_usage)
        chunks = await oa.open_stream(ctx, prepared, include_usage)
        headers = _headers(prepared, prepared.decision.provider, prepared.decision.model)
        headers.update({"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})
        return StreamingResponse(chunks, media_type="text/event-stream", headers=headers)
    completion = await oa.complete(ctx, prepared)
    info = completion["vaos"]
    headers = _headers(prepared, info["provider"], info["model"])
    if info["cost_usd"] is not None:
        headers["x-vaos-cost-usd"] = f"{info['cost_usd']:.8f}"
    return JSONBytes(completion, headers=headers)


@router.get("/models", response_model=ModelList, summary="Models (OpenAI-compatible list)")
async def list_models(request: Request) -> Response:
    return JSONBytes({"object": "list", "data": oa.model_cards(context_of(request))})


@router.get("/models/{model_id:path}", response_model=ModelCard, responses=NOT_FOUND, summary="One model")
async def get_model(
    model_id: Annotated[str, Path(min_length=1, max_length=200)], request: Request
) -> Response:
    for card in oa.model_cards(context_of(request)):
        if card["id"] == model_id:
            return JSONBytes(card)
    raise ApiError(404, "model_not_found", f"the model {model_id!r} does not exist here", param="model")
