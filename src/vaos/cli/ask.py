"""``vaos ask``: one question, one streamed answer, then usage and cost.

classify -> route -> one model call through the routing layer (breakers, retries,
fallback, budget). ``answer_once`` is the seam where the agent loop (tools, several model
calls) takes over: it gets the same signal, decision, runner and streaming callback.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import typer

from vaos.cli.app import app
from vaos.cli.errors import fail
from vaos.cli.route import (
    MODEL_HELP,
    PROVIDER_HELP,
    TIER_HELP,
    checked_message,
    load_settings,
    print_decision,
    routing_problem,
)

if TYPE_CHECKING:
    from vaos.routing.decision import RoutingDecision
    from vaos.routing.runner import CallResult
    from vaos.routing.wiring import Routing
    from vaos.signal.models import Signal

SYSTEM_PROMPT = "You are VAOS, a helpful assistant. Answer clearly and concisely."


@dataclass
class AskOutcome:
    signal: Signal
    decision: RoutingDecision | None
    text: str
    result: CallResult | None = None
    noise_reply: str | None = None

    def to_dict(self) -> dict[str, Any]:
        result = self.result
        return {
            "output": self.text,
            "signal": self.signal.to_dict(),
            "tier": self.decision.tier if self.decision else self.signal.tier,
            "provider": result.provider if result else None,
            "model": result.model if result else None,
            "usage": result.completion.usage.to_dict() if result else None,
            "cost_usd": float(result.cost_usd) if result and result.cost_usd is not None else None,
            "latency_s": round(result.latency_s, 4) if result else None,
            "first_token_s": round(result.first_token_s, 4) if result and result.first_token_s else None,
            "tool_calls": [c.to_dict() for c in result.completion.tool_calls] if result else [],
            "decision": self.decision.to_dict() if self.decision else None,
            "failed_attempts": [a.to_dict() for a in result.attempts] if result else [],
        }


async def answer_once(
    text: str,
    *,
    routing: Routing,
    signal: Signal,
    decision: RoutingDecision,
    on_text: Callable[[str], None],
    session_id: str | None = None,
) -> CallResult:
    """One model call for ``text`` (the agent loop's place), streaming text to ``on_text``."""
    from vaos.providers.types import Request, TextDelta
    from vaos.routing.runner import Finished, StreamFailed, StreamInterruptedError

    request = Request.of(text, system=SYSTEM_PROMPT)
    async for event in routing.runner.stream(request, decision, session_id=session_id):
        if isinstance(event, TextDelta):
            on_text(event.text)
        elif isinstance(event, Finished):
            return event.result
        elif isinstance(event, StreamFailed):
            raise StreamInterruptedError(event)
    raise RuntimeError("the call ended without a result")  # pragma: no cover


async def ask_async(
    text: str,
    *,
    tier: str | None,
    provider: str | None,
    model: str | None,
    on_text: Callable[[str], None],
    on_decision: Callable[[Signal, RoutingDecision], None],
    session_id: str | None = None,
) -> AskOutcome:
    settings = load_settings()
    from vaos.events import EventBus
    from vaos.providers.registry import UnknownProviderError
    from vaos.routing.router import RoutingInputError
    from vaos.routing.wiring import build_routing
    from vaos.signal.classifier import DeterministicClassifier
    from vaos.signal.llm_classifier import LLMSignalClassifier
    from vaos.signal.noise_filter import NoiseFilter, NoiseThresholds
    from vaos.signal.service import SignalService

    bus = EventBus()
    try:
        routing = build_routing(settings, bus=bus)
    except UnknownProviderError as exc:
        routing_problem(exc)
    try:

        async def classify_call(request: Any) -> Any:
            decision = routing.router.decide(tier="utility")
            return (await routing.runner.complete(request, decision, session_id=session_id)).completion

        thresholds = NoiseThresholds(settings.signal.likely_noise, settings.signal.uncertain)
        service = SignalService(
            bus,
            deterministic=DeterministicClassifier(noise_filter=NoiseFilter(thresholds)),
            llm=LLMSignalClassifier(classify_call) if settings.signal.llm_enabled else None,
            llm_below=settings.signal.llm_below_confidence,
        )
        signal = await service.classify(text, session_id=session_id)
        if not signal.noise.passed:
            return AskOutcome(signal, None, signal.noise.reply or "", noise_reply=signal.noise.reply)
        try:
            decision = routing.router.decide(
                signal, text, tier=tier, provider=provider, model=model, session_id=session_id
            )
        except (UnknownProviderError, RoutingInputError) as exc:
            routing_problem(exc)
        await bus.emit("routing_decided", decision.to_dict(), session_id=session_id)
        on_decision(signal, decision)
        pieces: list[str] = []

        def collect(piece: str) -> None:
            pieces.append(piece)
            on_text(piece)

        result = await answer_once(
            text, routing=routing, signal=signal, decision=decision, on_text=collect, session_id=session_id
        )
        return AskOutcome(signal, decision, result.completion.text or "".join(pieces), result)
    finally:
        await routing.aclose()


@app.command()
def ask(
    text: str = typer.Argument(..., help="The question or task."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document instead of streaming."),
    tier: str | None = typer.Option(None, "--tier", help=TIER_HELP),
    provider: str | None = typer.Option(None, "--provider", help=PROVIDER_HELP),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    session: str | None = typer.Option(None, "--session", help="Session id (for the session budget)."),
) -> None:
    """One-shot answer: classify, route, call the model (streamed), then usage and cost."""
    import asyncio

    settings = load_settings()
    message = checked_message(text, settings)
    from vaos.routing.runner import BudgetExceededError, RoutingError, StreamInterruptedError

    out = sys.stdout
    streamed = False

    def on_text(piece: str) -> None:
        nonlocal streamed
        if not json_output:
            streamed = True
            out.write(piece)
            out.flush()

    def on_decision(signal: Signal, decision: RoutingDecision) -> None:
        if not json_output:
            print_decision(signal, decision, err=True)

    try:
        outcome = asyncio.run(
            ask_async(
                message,
                tier=tier,
                provider=provider,
                model=model,
                on_text=on_text,
                on_decision=on_decision,
                session_id=session,
            )
        )
    except StreamInterruptedError as exc:
        if streamed:
            out.write("\n")
        fail(str(exc))
    except BudgetExceededError as exc:
        fail(str(exc))
    except RoutingError as exc:
        fail(str(exc))
    if json_output:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(outcome.to_dict()) + b"\n")
        sys.stdout.flush()
        return
    if outcome.result is None:
        print(outcome.text)
        print("(filtered as noise: no model call)", file=sys.stderr)
        return
    if streamed:
        out.write("\n")
    else:
        print(outcome.text)
    _print_usage(outcome.result)


def _print_usage(result: CallResult) -> None:
    usage = result.completion.usage
    cost = "unknown" if result.cost_usd is None else f"${result.cost_usd:.6f}"
    first = f", first token {result.first_token_s:.2f} s" if result.first_token_s is not None else ""
    retried = f", {len(result.attempts)} failed attempt(s) before" if result.attempts else ""
    print(
        f"[{result.provider}/{result.model} {result.tier}] tokens in {usage.input_tokens}, "
        f"out {usage.output_tokens}; cost {cost}; {result.latency_s:.2f} s{first}{retried}",
        file=sys.stderr,
    )
