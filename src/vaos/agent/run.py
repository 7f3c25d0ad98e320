"""One message through the agent loop, as a few single-purpose steps.

``prepare``   the session, the signal (noise filter and classification first: noise gets its
              short reply and no model call), the routing decision, the user message stored;
``turn``      per iteration: context (system prompt, history, tool schemas that fit, and
              compaction when the window is short), ``pre_model`` hooks, the model call through
              the routing layer, ``post_model`` hooks;
``act``       the tool calls of the answer, run by the executor (hooks, governance, timeout,
              truncation), results fed back;
``finish``    the answer stored, ``agent_response`` emitted, the result.

Limits: ``max_iterations`` model calls (the last one is offered no tools, so it answers with
what it has); a context overflow reported by a provider compacts and retries; the same
failing tool calls three times in a row stop the loop. Events go out on the bus (the single
seam for audit, telemetry and streaming): the routing layer emits ``llm_request``,
``llm_token``, ``llm_response``; the executor ``tool_call`` and ``tool_result``; this module
``routing_decided``, ``agent_response`` and ``error``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from vaos.agent.compaction import CompactionReport
from vaos.agent.context import message_tokens, messages_tokens
from vaos.agent.errors import AgentCallError, AgentInputError
from vaos.agent.result import AgentResult, empty_usage
from vaos.agent.tool_execution import ToolCallRecord
from vaos.providers.types import Message, Request, TextDelta, ToolCall, ToolSpec, Usage
from vaos.routing.decision import Route, RoutingDecision
from vaos.routing.runner import CallResult, Finished, RoutingError, StreamFailed
from vaos.signal.models import Signal

if TYPE_CHECKING:
    from vaos.agent.agent import Agent

logger = logging.getLogger(__name__)

LIMIT_NOTE = (
    "[System: this is the last step allowed for this request. Do not call tools; answer now with what "
    "you have, and say what is left undone.]"
)
LIMIT_REPLY = "I reached the limit of {n} steps for this request before finishing."
DOOM_REPLY = (
    "I'm stuck: the same tool calls failed {n} times in a row, so I stopped instead of repeating them. "
    "Last error: {error}"
)
OVERFLOW_REPLY = "The conversation no longer fits the model's context window, even after compaction."
DOOM_REPEATS = 3
OVERFLOW_MARKERS = (
    "context_length",
    "context length",
    "maximum context",
    "max_tokens",
    "token limit",
    "too many tokens",
    "context window",
    "prompt is too long",
)
TOOL_GATE_WEIGHT = 0.20
OVERFLOW_SHRINK = 0.6
CONTEXT_TOOLS = frozenset({"memory_save", "vault_remember", "task_write", "create_skill", "skill_manager"})


def is_overflow(error: BaseException) -> bool:
    text = str(error).lower()
    for attempt in getattr(error, "attempts", ()) or ():
        if attempt.error is not None:
            text += " " + str(attempt.error).lower()
    return any(marker in text for marker in OVERFLOW_MARKERS)


class AgentRun:
    """The state of one run; ``execute()`` does it."""

    def __init__(
        self,
        agent: Agent,
        text: str,
        *,
        session_id: str | None,
        tier: str | None,
        provider: str | None,
        model: str | None,
        channel: str,
    ) -> None:
        self.agent = agent
        self.runtime = agent.runtime
        self.text = text
        self.session_id = session_id
        self.tier = tier
        self.provider = provider
        self.model = model
        self.channel = channel
        self.agent_id = agent.agent_id
        self.settings = self.runtime.settings
        self.usage = Usage()
        self.cost = 0.0
        self.calls: list[ToolCallRecord] = []
        self.iterations = 0
        self.latency = 0.0
        self.first_token: float | None = None
        self.attempts: list[dict[str, Any]] = []
        self.last_result: CallResult | None = None
        self.decision: RoutingDecision | None = None
        self.signal: Signal | None = None
        self.history: list[Message] = []
        self._system: str | None = None
        self._token_cache: dict[int, int] = {}

    # -- the run -------------------------------------------------------------------------

    async def execute(self) -> AgentResult:
        text = self._checked_text()
        conversations = self.runtime.conversations
        try:
            sid, created = await conversations.ensure(self.session_id, channel=self.channel, title=text)
        except ValueError as exc:
            raise AgentInputError(str(exc)) from None
        self.session_id = sid
        if created:
            await self._hook("session_start", {"channel": self.channel})
        async with conversations.lock(sid):
            self.runtime.touch_session(sid)
            signal = await self._classify(text)
            if not signal.noise.passed:
                return await self._noise_reply(signal)
            decision = await self._route(signal, text)
            self.history = await conversations.load(sid)
            user = Message.user(text)
            conversations.append_later(
                sid, [(user, 0, 0, {"channel": self.channel, "signal": signal.to_dict()})]
            )
            self.history.append(user)
            output, reason = await self._loop(signal, decision)
            return await self._finish(signal, decision, output, reason)

    def _checked_text(self) -> str:
        from vaos.signal.validation import InvalidMessageError, validate_message

        try:
            return validate_message(self.text, self.settings.signal.max_message_bytes)
        except InvalidMessageError as exc:
            raise AgentInputError(str(exc)) from None

    async def _classify(self, text: str) -> Signal:
        use_llm = False if self.agent.model_override is not None else None
        signal = await self.runtime.signals.classify(
            text, session_id=self.session_id, channel=self.channel, use_llm=use_llm
        )
        self.signal = signal
        return signal

    async def _noise_reply(self, signal: Signal) -> AgentResult:
        sid = self._sid
        reply = signal.noise.reply or ""
        conversations = self.runtime.conversations
        await conversations.append(
            sid, Message.user(self.text), meta={"kind": "noise", "channel": self.channel}
        )
        await conversations.append(sid, Message.assistant(reply), meta={"kind": "noise"})
        result = self._result(signal, None, reply, "noise")
        await self._emit("agent_response", result.to_dict())
        return result

    async def _route(self, signal: Signal, text: str) -> RoutingDecision:
        from vaos.providers.registry import UnknownProviderError
        from vaos.routing.router import RoutingInputError

        router = self.runtime.routing.router
        override = self.agent.model_override
        try:
            if override is not None:
                decision = router.decide(signal, text, tier=self.tier, session_id=self.session_id)
                model = self.model or override.default_model or "default"
                decision = dataclasses.replace(
                    decision,
                    chain=(Route(override.name, model),),
                    pinned=True,
                    reasons=(*decision.reasons, f"model override {override.name}/{model}"),
                )
            else:
                decision = router.decide(
                    signal,
                    text,
                    tier=self.tier,
                    provider=self.provider,
                    model=self.model,
                    session_id=self.session_id,
                )
        except (UnknownProviderError, RoutingInputError) as exc:
            raise AgentInputError(str(exc).strip("'\"")) from None
        self.decision = decision
        await self._emit("routing_decided", {**decision.to_dict(), "signal": signal.to_dict()})
        return decision

    async def _loop(self, signal: Signal, decision: RoutingDecision) -> tuple[str, str]:
        limit = self.settings.agent.max_iterations
        failures: list[tuple[str, ...]] = []
        text = ""
        while self.iterations < limit:
            self.iterations += 1
            last = self.iterations == limit
            blocked = await self._hook("pre_model", {"iteration": self.iterations, "user_text": self.text})
            if blocked is not None:
                return blocked, "blocked"
            result = await self._call_model(signal, decision, last=last)
            if result is None:
                return OVERFLOW_REPLY, "context"
            completion = result.completion
            text = completion.text
            blocked = await self._hook(
                "post_model",
                {
                    "iteration": self.iterations,
                    "text": text,
                    "tool_calls": [c.to_dict() for c in completion.tool_calls],
                },
            )
            if blocked is not None:
                # the model sees why its answer was refused, and tries again
                # (kept for this run only: the refused answer is not stored)
                self.history.append(Message.assistant(text or "(tool calls withheld)"))
                self.history.append(Message.user(f"[System: your previous answer was blocked: {blocked}]"))
                continue
            calls = completion.tool_calls
            if not calls or last:
                if calls:
                    return (text.strip() + "\n\n" if text.strip() else "") + LIMIT_REPLY.format(
                        n=limit
                    ), "max_iterations"
                return text, "answer"
            calls = _unique_ids(calls)
            assistant = Message.assistant(text, calls)
            self.history.append(assistant)
            records = await self.runtime.executor.run_batch(
                calls,
                session_id=self.session_id,
                agent_id=self.agent_id,
                intent=self.text,
                iteration=self.iterations,
            )
            self.calls.extend(records)
            results = [Message.tool_result(c, r.result) for c, r in zip(calls, records, strict=True)]
            self.history.extend(results)
            usage = completion.usage
            self.runtime.conversations.append_later(
                self._sid,
                [
                    (assistant, usage.input_tokens, usage.output_tokens, None),
                    *((m, 0, 0, {"status": r.status}) for m, r in zip(results, records, strict=True)),
                ],
            )
            if any(r.name in CONTEXT_TOOLS and not r.failed for r in records):
                self._system = None  # memory, tasks or skills changed: rebuild the prompt
            if all(r.failed for r in records):
                failures.append(tuple(sorted(f"{r.name}:{r.status}" for r in records)))
                if len(failures) >= DOOM_REPEATS and len(set(failures[-DOOM_REPEATS:])) == 1:
                    return DOOM_REPLY.format(n=DOOM_REPEATS, error=records[-1].result[:300]), "doom_loop"
            else:
                failures.clear()
        return text or LIMIT_REPLY.format(n=limit), "max_iterations"  # pragma: no cover - loop returns

    # -- one model call --------------------------------------------------------------------

    async def _call_model(
        self, signal: Signal, decision: RoutingDecision, *, last: bool
    ) -> CallResult | None:
        overflow_retries = self.settings.agent.overflow_retries
        cap: int | None = None
        for attempt in range(overflow_retries + 1):
            request, sent = await self._request(signal, decision, last=last, cap=cap)
            try:
                return await self._stream(request, decision)
            except RoutingError as exc:
                self._note_attempts(exc)
                if is_overflow(exc) and attempt < overflow_retries:
                    # the window is smaller than we thought: send 40 % less history each time
                    cap = max(64, int(sent * OVERFLOW_SHRINK))
                    logger.info("context overflow reported; compacting the history to %d tokens", cap)
                    continue
                if is_overflow(exc):
                    return None
                await self._emit("error", {"kind": "model_call", "message": str(exc)})
                kind = "budget" if type(exc).__name__ == "BudgetExceededError" else "routing"
                raise AgentCallError(str(exc), self.attempts, kind=kind) from exc
        return None  # pragma: no cover

    async def _request(
        self, signal: Signal, decision: RoutingDecision, *, last: bool, cap: int | None
    ) -> tuple[Request, int]:
        """The request, and how many tokens of history it carries."""
        builder = self.runtime.context
        route = decision.chain[0] if decision.chain else None
        window = builder.window(route.provider if route else None, route.model if route else None)
        if self._system is None:
            self._system = builder.system_prompt(
                signal=signal,
                text=self.text,
                session_id=self.session_id,
                agent_id=self.agent_id,
                channel=self.channel,
            )
        system = self._system
        tools: list[ToolSpec] = []
        if not last and signal.weight >= TOOL_GATE_WEIGHT:
            specs = self.runtime.tools.specs()
            tools = builder.select_tools(
                specs, self.text, int(window * self.settings.agent.tool_schema_share)
            )
        notes = [Message.system(LIMIT_NOTE)] if last else []
        reserve = min(self.settings.agent.response_reserve_tokens, decision.max_tokens, window // 4)
        fixed = messages_tokens([Message.system(system), *notes]) + sum(builder.spec_cost(t) for t in tools)
        budget = max(256, int((window - reserve) * self.settings.agent.compaction_warn) - fixed)
        if cap is not None:
            budget = min(budget, cap)
        history = self.history
        history_tokens = self._tokens(history)
        if history_tokens > budget:
            if self.runtime.hooks.has("pre_compact"):
                await self._hook("pre_compact", {"messages": len(history), "budget": budget})
            history, report = await self.runtime.compactor.fit(history, budget)
            if report is not None:
                self._log_compaction(report)
        messages = (Message.system(system), *history, *notes)
        request = Request(messages, tools=tuple(tools), tool_choice="auto" if tools else "none")
        return request, history_tokens if history is self.history else messages_tokens(history)

    def _tokens(self, messages: Sequence[Message]) -> int:
        """Token estimate of ``messages``, each message counted once per run."""
        cache = self._token_cache
        total = 0
        for m in messages:
            n = cache.get(id(m))
            if n is None:
                n = cache[id(m)] = message_tokens(m)
            total += n
        return total

    def _log_compaction(self, report: CompactionReport) -> None:
        logger.info(
            "session %s: context compacted %d -> %d tokens (budget %d; %s)",
            self.session_id,
            report.before_tokens,
            report.after_tokens,
            report.budget,
            ", ".join(report.steps),
        )

    async def _stream(self, request: Request, decision: RoutingDecision) -> CallResult:
        runner = self.runtime.routing.runner
        started = time.perf_counter()
        async for event in runner.stream(
            request, decision, session_id=self.session_id, agent_id=self.agent_id
        ):
            if isinstance(event, TextDelta) and self.first_token is None:
                self.first_token = time.perf_counter() - started + self.latency
            elif isinstance(event, Finished):
                result = event.result
                self.last_result = result
                self.usage = self.usage + result.completion.usage
                self.cost += float(result.cost_usd or 0)
                self.latency += result.latency_s
                self.attempts.extend(a.to_dict() for a in result.attempts)
                return result
            elif isinstance(event, StreamFailed):
                from vaos.routing.runner import StreamInterruptedError

                raise StreamInterruptedError(event)
        raise RoutingError("the call ended without a result")  # pragma: no cover

    def _note_attempts(self, exc: RoutingError) -> None:
        self.attempts.extend(a.to_dict() for a in exc.attempts)

    # -- finishing -------------------------------------------------------------------------

    async def _finish(
        self, signal: Signal, decision: RoutingDecision, output: str, reason: str
    ) -> AgentResult:
        usage = (
            self.last_result.completion.usage
            if self.last_result is not None and reason == "answer"
            else Usage()
        )
        await self._store(
            Message.assistant(output),
            tokens_in=usage.input_tokens,
            tokens_out=usage.output_tokens,
            meta={"stop_reason": reason, "iterations": self.iterations},
        )
        result = self._result(signal, decision, output, reason)
        await self._emit("agent_response", result.to_dict())
        return result

    def _result(
        self, signal: Signal, decision: RoutingDecision | None, output: str, reason: str
    ) -> AgentResult:
        usage = empty_usage()
        u = self.usage
        usage.update(
            prompt_tokens=u.input_tokens,
            completion_tokens=u.output_tokens,
            total_tokens=u.total_tokens,
            input_tokens=u.input_tokens,
            output_tokens=u.output_tokens,
            cache_read_tokens=u.cache_read_tokens,
            cache_write_tokens=u.cache_write_tokens,
        )
        last = self.last_result
        return AgentResult(
            session_id=self._sid,
            output=output,
            signal=signal,
            tier=decision.tier if decision is not None else signal.tier,
            provider=last.provider if last is not None else None,
            model=last.model if last is not None else None,
            usage=usage,
            cost_usd=round(self.cost, 10),
            tool_calls=[r.to_dict() for r in self.calls],
            iterations=self.iterations,
            stop_reason=reason,
            decision=decision.to_dict() if decision is not None else None,
            latency_s=self.latency,
            first_token_s=self.first_token,
            failed_attempts=list(self.attempts),
        )

    # -- helpers ---------------------------------------------------------------------------

    @property
    def _sid(self) -> str:
        assert self.session_id is not None
        return self.session_id

    async def _store(
        self, message: Message, *, tokens_in: int = 0, tokens_out: int = 0, meta: dict[str, Any] | None = None
    ) -> None:
        self.history.append(message)
        await self.runtime.conversations.append(
            self._sid, message, tokens_in=tokens_in, tokens_out=tokens_out, meta=meta
        )

    async def _hook(self, event: Any, data: dict[str, Any]) -> str | None:
        hooks = self.runtime.hooks
        if not hooks.has(event):
            return None
        outcome = await hooks.run(event, data, session_id=self.session_id, agent_id=self.agent_id)
        return outcome.blocked

    async def _emit(self, kind: str, data: dict[str, Any]) -> None:
        await self.runtime.bus.emit(kind, data, session_id=self.session_id, agent_id=self.agent_id)


def _unique_ids(calls: Sequence[ToolCall]) -> tuple[ToolCall, ...]:
    """Tool call ids as the providers need them: present and distinct."""
    seen: set[str] = set()
    out: list[ToolCall] = []
    for i, call in enumerate(calls):
        cid = call.id or f"call_{i}"
        while cid in seen:
            cid = f"{cid}_{i}"
        seen.add(cid)
        out.append(call if cid == call.id else ToolCall(cid, call.name, call.arguments))
    return tuple(out)
