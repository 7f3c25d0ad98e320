"""OpenAI Chat Completions on top of VAOS routing: translate, classify, route, call, answer.

One completion is: the OpenAI request becomes a ``vaos.providers.Request``; the last user
message is classified (deterministic classifier: microseconds, no model call); ``model``
picks the routing (``auto`` routes by the signal, a tier name forces the tier, a model id or
``provider/model`` pins it); one ``routing_decided`` event carries the signal and the
decision (the governance gate records it in the audit ledger, the SSE and telemetry see
it); ``CallRunner`` runs the call with breakers, retries, fallback, budget and cost; the
answer goes back in OpenAI's shape, streamed or not.

Noise is recorded in the signal but never short-circuits a completion here: a program that
calls a model API expects a model's answer.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import orjson

from vaos.api.errors import ApiError
from vaos.api.openai_models import ChatCompletionRequest, ChatMessage, NamedToolChoice
from vaos.providers.registry import UnknownProviderError
from vaos.providers.types import Message, Request, TextDelta, ToolCall, ToolCallEvent, ToolChoice, ToolSpec
from vaos.routing.router import NotConfiguredError, RoutingInputError, UnknownModelError
from vaos.routing.runner import (
    BudgetExceededError,
    CallResult,
    CallRunner,
    Finished,
    RoutingError,
    RunEvent,
    StreamFailed,
)
from vaos.signal.validation import InvalidMessageError, validate_message
from vaos.tiers import TIERS

if TYPE_CHECKING:
    from vaos.api.context import ApiContext
    from vaos.routing.decision import RoutingDecision
    from vaos.signal.models import Signal

AUTO_MODELS = frozenset({"auto", "vaos", "vaos-auto"})
NO_RETRY = {"x-should-retry": "false"}
_FINISH = {"stop": "stop", "length": "length", "tool_calls": "tool_calls", "content_filter": "content_filter"}


# -- request translation ------------------------------------------------------------------


def _text(message: ChatMessage, index: int) -> str:
    content = message.content
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    pieces = []
    for part in content:
        if part.type not in ("text", "input_text") or part.text is None:
            raise ApiError(
                400,
                "unsupported_content",
                f"messages[{index}]: only text content is supported, not {part.type!r}",
                param=f"messages.{index}.content",
                headers=NO_RETRY,
            )
        pieces.append(part.text)
    return "".join(pieces)


def _arguments(raw: str, where: str) -> dict[str, Any]:
    try:
        value = orjson.loads(raw) if raw.strip() else {}
    except orjson.JSONDecodeError:
        raise ApiError(
            400,
            "invalid_tool_arguments",
            f"{where}: arguments are not valid JSON",
            param=where,
            headers=NO_RETRY,
        ) from None
    if not isinstance(value, dict):
        raise ApiError(
            400,
            "invalid_tool_arguments",
            f"{where}: arguments must be a JSON object",
            param=where,
            headers=NO_RETRY,
        )
    return value


def to_messages(messages: list[ChatMessage]) -> tuple[tuple[Message, ...], str]:
    """VAOS messages, and the text to classify (the last user message, else the last text)."""
    out: list[Message] = []
    names: dict[str, str] = {}
    last_user = ""
    last_any = ""
    for i, m in enumerate(messages):
        text = _text(m, i)
        if text:
            last_any = text
        if m.role in ("system", "developer"):
            out.append(Message.system(text))
        elif m.role == "user":
            out.append(Message.user(text))
            last_user = text
        elif m.role == "assistant":
            calls = []
            for j, call in enumerate(m.tool_calls or ()):
                where = f"messages.{i}.tool_calls.{j}.function.arguments"
                calls.append(
                    ToolCall(call.id, call.function.name, _arguments(call.function.arguments, where))
                )
                names[call.id] = call.function.name
            out.append(Message.assistant(text, calls))
        else:  # tool
            if not m.tool_call_id:
                raise ApiError(
                    400,
                    "invalid_request",
                    f"messages[{i}]: a tool message needs tool_call_id",
                    param=f"messages.{i}.tool_call_id",
                    headers=NO_RETRY,
                )
            name = m.name or names.get(m.tool_call_id)
            out.append(Message("tool", text, tool_call_id=m.tool_call_id, name=name))
    return tuple(out), last_user or last_any


def to_request(body: ChatCompletionRequest) -> tuple[Request, str]:
    if body.n is not None and body.n > 1:
        raise ApiError(400, "unsupported_parameter", "only n=1 is supported", param="n", headers=NO_RETRY)
    messages, text = to_messages(body.messages)
    tools = tuple(
        ToolSpec(
            t.function.name,
            t.function.description or "",
            t.function.parameters or {"type": "object", "properties": {}},
        )
        for t in body.tools or ()
    )
    choice = body.tool_choice
    tool_choice: ToolChoice = "auto"
    if isinstance(choice, NamedToolChoice):
        wanted = [t for t in tools if t.name == choice.function.name]
        if not wanted:
            raise ApiError(
                400,
                "invalid_request",
                f"tool_choice names {choice.function.name!r}, which is not among the tools",
                param="tool_choice",
                headers=NO_RETRY,
            )
        tools, tool_choice = tuple(wanted), "required"
    elif choice is not None:
        tool_choice = choice
    if tool_choice == "required" and not tools:
        raise ApiError(
            400,
            "invalid_request",
            "tool_choice 'required' needs tools",
            param="tool_choice",
            headers=NO_RETRY,
        )
    schema: dict[str, Any] | None = None
    rf = body.response_format
    if rf is not None and rf.type == "json_object":
        schema = {"type": "object"}
    elif rf is not None and rf.type == "json_schema":
        schema = (rf.json_schema.schema_ if rf.json_schema else None) or {"type": "object"}
    stop = (body.stop,) if isinstance(body.stop, str) else tuple(body.stop or ())
    request = Request(
        messages,
        tools=tools,
        tool_choice=tool_choice,
        temperature=body.temperature,
        max_tokens=body.max_completion_tokens or body.max_tokens,
        json_schema=schema,
        stop=stop,
    )
    return request, text


# -- routing ------------------------------------------------------------------------------


def decide(ctx: ApiContext, model: str, signal: Signal, text: str, session_id: str | None) -> RoutingDecision:
    """The routing decision for ``model`` (``auto``, a tier, a model id or ``provider/model``)."""
    router = ctx.runtime.routing.router
    name = model.strip()
    try:
        if name.lower() in AUTO_MODELS:
            return router.decide(signal, text, session_id=session_id)
        if name in TIERS:
            return router.decide(signal, text, tier=name, session_id=session_id)
        try:
            return router.decide(signal, text, model=name, session_id=session_id)
        except UnknownModelError:
            provider, sep, rest = name.partition("/")
            if not sep or not rest or provider not in router.registry.statuses:
                raise
            return router.decide(signal, text, provider=provider, model=rest, session_id=session_id)
    except (UnknownModelError, UnknownProviderError):
        raise ApiError(
            404,
            "model_not_found",
            f"the model {name!r} does not exist here; GET /v1/models lists the ones that do "
            "(or use auto, utility, specialist, elite)",
            param="model",
            headers=NO_RETRY,
        ) from None
    except NotConfiguredError as exc:
        raise ApiError(400, "model_not_available", str(exc), param="model", headers=NO_RETRY) from None
    except RoutingInputError as exc:
        raise ApiError(400, "invalid_request", str(exc), param="model", headers=NO_RETRY) from None


def routing_failure(exc: RoutingError) -> ApiError:
    """The HTTP error for a call that got no answer."""
    if isinstance(exc, BudgetExceededError):
        return ApiError(429, "budget_exceeded", str(exc), headers=NO_RETRY)
    errors = [a.error for a in exc.attempts if a.error is not None]
    if errors and all(e.kind == "bad_request" for e in errors):
        return ApiError(
            400, "invalid_request", f"the model refused the request: {errors[0]}", headers=NO_RETRY
        )
    if exc.attempts and all(a.skipped is not None for a in exc.attempts):
        return ApiError(503, "providers_unavailable", str(exc), headers={"Retry-After": "5"})
    return ApiError(502, "upstream_error", str(exc))


# -- the completion -------------------------------------------------------------------------


@dataclass
class Prepared:
    request: Request
    signal: Signal
    decision: RoutingDecision
    session_id: str | None
    completion_id: str
    created: int


async def prepare(ctx: ApiContext, body: ChatCompletionRequest) -> Prepared:
    request, text = to_request(body)
    try:
        validate_message(text or " ", ctx.settings.signal.max_message_bytes)
    except InvalidMessageError as exc:
        raise ApiError(400, "message_too_large", str(exc), param="messages", headers=NO_RETRY) from None
    signal = ctx.classifier.classify(text)
    session_id = body.session_id
    decision = decide(ctx, body.model, signal, text, session_id)
    data = decision.to_dict()
    data["signal"] = signal.to_dict()
    data["channel"] = "openai"
    await ctx.runtime.bus.emit("routing_decided", data, session_id=session_id)
    return Prepared(request, signal, decision, session_id, f"chatcmpl-{uuid.uuid4().hex}", int(time.time()))


def _tool_call_out(call: ToolCall) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": "function",
        "function": {"name": call.name, "arguments": orjson.dumps(call.arguments).decode()},
    }


def _usage(result: CallResult) -> dict[str, int]:
    u = result.completion.usage
    return {
        "prompt_tokens": u.input_tokens,
        "completion_tokens": u.output_tokens,
        "total_tokens": u.input_tokens + u.output_tokens,
    }


def vaos_info(p: Prepared, result: CallResult | None) -> dict[str, Any]:
    return {
        "tier": p.decision.tier,
        "provider": result.provider if result else p.decision.provider,
        "model": result.model if result else p.decision.model,
        "cost_usd": float(result.cost_usd) if result and result.cost_usd is not None else None,
        "session_id": p.session_id,
        "signal": p.signal.to_dict(),
    }


def completion_body(p: Prepared, result: CallResult) -> dict[str, Any]:
    c = result.completion
    message: dict[str, Any] = {"role": "assistant", "content": c.text or None, "refusal": None}
    if c.tool_calls:
        message["tool_calls"] = [_tool_call_out(call) for call in c.tool_calls]
    elif message["content"] is None:
        message["content"] = ""
    return {
        "id": p.completion_id,
        "object": "chat.completion",
        "created": p.created,
        "model": c.model,
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": _FINISH.get(c.finish_reason, "stop"),
                "logprobs": None,
            }
        ],
        "usage": _usage(result),
        "system_fingerprint": None,
        "vaos": vaos_info(p, result),
    }


def runner_for(ctx: ApiContext, session_id: str | None) -> CallRunner:
    """The runtime's runner, or for calls outside a session a twin that publishes no
    ``llm_token`` events (the client gets the tokens itself; nobody watches a session that
    does not exist): same providers, breakers, retries and budget, ten fewer events a call."""
    runner: CallRunner = ctx.runtime.routing.runner
    if session_id is not None or not runner.emit_tokens:
        return runner
    quiet: CallRunner | None = ctx.extras.get("quiet_runner")
    if quiet is None or quiet.registry is not runner.registry:
        quiet = CallRunner(
            runner.registry,
            retry=runner.retry,
            bus=runner.bus,
            budget=runner.budget,
            first_token_timeout=runner.first_token_timeout,
            idle_timeout=runner.idle_timeout,
            emit_tokens=False,
        )
        ctx.extras["quiet_runner"] = quiet
    return quiet


async def complete(ctx: ApiContext, p: Prepared) -> dict[str, Any]:
    try:
        result = await runner_for(ctx, p.session_id).complete(p.request, p.decision, session_id=p.session_id)
    except RoutingError as exc:
        raise routing_failure(exc) from None
    return completion_body(p, result)


_CHUNK = (
    b'data: %s%s,"system_fingerprint":null,"choices":[{"index":0,"delta":%s,'
    b'"logprobs":null,"finish_reason":%s}]%s}\n\n'
)


class ChunkWriter:
    """The ``chat.completion.chunk`` frames of one streamed completion."""

    def __init__(self, p: Prepared, include_usage: bool) -> None:
        self.include_usage = include_usage
        head = {"id": p.completion_id, "object": "chat.completion.chunk", "created": p.created}
        self._prefix = orjson.dumps(head)[:-1] + b',"model":'
        self._model = orjson.dumps(p.decision.model)
        self._usage_null = b',"usage":null' if include_usage else b""
        self.tool_index = 0

    def _chunk(self, delta: bytes, finish: bytes = b"null", model: bytes | None = None) -> bytes:
        return _CHUNK % (self._prefix, model or self._model, delta, finish, self._usage_null)

    def role(self) -> bytes:
        return self._chunk(b'{"role":"assistant","content":""}')

    def text(self, piece: str) -> bytes:
        return self._chunk(b'{"content":%s}' % orjson.dumps(piece))

    def tool_call(self, call: ToolCall) -> bytes:
        out = _tool_call_out(call)
        out["index"] = self.tool_index
        self.tool_index += 1
        return self._chunk(b'{"tool_calls":[%s]}' % orjson.dumps(out))

    def finish(self, result: CallResult) -> bytes:
        reason = _FINISH.get(result.completion.finish_reason, "stop")
        frames = self._chunk(b"{}", orjson.dumps(reason), orjson.dumps(result.model))
        if self.include_usage:
            usage = orjson.dumps(_usage(result))
            frames += b'data: %s%s,"system_fingerprint":null,"choices":[],"usage":%s}\n\n' % (
                self._prefix,
                orjson.dumps(result.model),
                usage,
            )
        return frames + b"data: [DONE]\n\n"


def stream_error(status: int, code: str, message: str) -> bytes:
    body = {"error": {"code": code, "message": message, "type": "api_error", "param": None}}
    return b"data: %s\n\n" % orjson.dumps(body)


async def open_stream(ctx: ApiContext, p: Prepared, include_usage: bool) -> AsyncIterator[bytes]:
    """The SSE bytes of a streamed completion; raises ``ApiError`` before the first byte
    when no provider could start (so the client gets a proper HTTP error)."""
    events = runner_for(ctx, p.session_id).stream(p.request, p.decision, session_id=p.session_id)
    try:
        first: RunEvent = await anext(aiter(events))
    except RoutingError as exc:
        await _aclose(events)
        raise routing_failure(exc) from None
    except StopAsyncIteration:  # pragma: no cover - the runner always ends with Finished
        raise ApiError(502, "upstream_error", "the model gave no answer") from None
    return _chunks(events, first, ChunkWriter(p, include_usage))


async def _chunks(
    events: AsyncIterator[RunEvent], first: RunEvent, writer: ChunkWriter
) -> AsyncIterator[bytes]:
    try:
        yield writer.role()
        event: RunEvent | None = first
        while event is not None:
            if isinstance(event, TextDelta):
                if event.text:
                    yield writer.text(event.text)
            elif isinstance(event, ToolCallEvent):
                yield writer.tool_call(event.call)
            elif isinstance(event, Finished):
                yield writer.finish(event.result)
                return
            elif isinstance(event, StreamFailed):
                yield stream_error(502, "stream_interrupted", f"the answer broke off: {event.error}")
                return
            try:
                event = await anext(events)
            except StopAsyncIteration:
                event = None
            except RoutingError as exc:
                yield stream_error(502, "upstream_error", str(exc))
                return
    finally:
        await _aclose(events)


async def _aclose(events: AsyncIterator[RunEvent]) -> None:
    aclose = getattr(events, "aclose", None)
    if aclose is not None:
        with contextlib.suppress(Exception):
            await aclose()


# -- /v1/models ---------------------------------------------------------------------------


def model_cards(ctx: ApiContext) -> list[dict[str, Any]]:
    router = ctx.runtime.routing.router
    registry = router.registry
    created = int(time.time() - ctx.uptime_s)
    cards: dict[str, dict[str, Any]] = {}
    for name in ("auto", *TIERS):
        cards[name] = {"id": name, "object": "model", "created": created, "owned_by": "vaos"}
    for provider in router.order:
        for model in registry.known_models(provider):
            if model not in cards:
                cards[model] = {"id": model, "object": "model", "created": created, "owned_by": provider}
    return list(cards.values())
