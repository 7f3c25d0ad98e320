"""``vaos route``: the signal and the routing decision for one message, without a model call."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any, NoReturn

import typer

from vaos.cli.app import app
from vaos.cli.errors import bad_input

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.routing.decision import RoutingDecision
    from vaos.signal.models import Signal

TIER_HELP = "Force a tier: utility, specialist or elite."
PROVIDER_HELP = "Use this provider (no fallback)."
MODEL_HELP = "Use this model (no fallback)."


def load_settings() -> Settings:
    """The settings, or exit 2 naming what is wrong with them."""
    from vaos.config import get_settings

    try:
        return get_settings()
    except Exception as exc:  # a broken config file or variable is bad input
        bad_input(f"invalid settings: {str(exc).splitlines()[0]}")


def checked_message(text: str, settings: Settings) -> str:
    from vaos.signal.validation import InvalidMessageError, validate_message

    try:
        return validate_message(text, settings.signal.max_message_bytes)
    except InvalidMessageError as exc:
        bad_input(str(exc))


def routing_problem(exc: Exception) -> NoReturn:
    """Exit 2 for an unknown provider/model/tier or an unusable override."""
    bad_input(str(exc).strip("'\""))


def deterministic_signal(text: str, settings: Settings) -> Signal:
    from vaos.signal.classifier import DeterministicClassifier
    from vaos.signal.noise_filter import NoiseFilter, NoiseThresholds

    thresholds = NoiseThresholds(settings.signal.likely_noise, settings.signal.uncertain)
    return DeterministicClassifier(noise_filter=NoiseFilter(thresholds)).classify(text)


def print_decision(signal: Signal, decision: RoutingDecision, *, err: bool = False) -> None:
    """The decision in a few lines (on stderr with ``err``)."""
    from rich.console import Console

    console = Console(stderr=err, highlight=False, soft_wrap=True)
    target = f"[bold]{decision.provider or '(none)'}[/bold] / {decision.model or '-'}"
    console.print(
        f"[bold]{decision.tier}[/bold] -> {target}"
        f"   [dim]{signal.mode}/{signal.genre}/{signal.type}, weight {signal.weight:.2f},"
        f" confidence {signal.confidence}, complexity {decision.complexity}/10[/dim]"
    )
    if err:
        return
    for reason in decision.reasons:
        console.print(f"  why: {reason}")
    if len(decision.chain) > 1:
        fallbacks = ", ".join(f"{r.provider}/{r.model}" for r in decision.chain[1:])
        console.print(f"  fallback: {fallbacks}")
    for name, why in decision.skipped:
        console.print(f"  skipped {name}: {why}")
    for name in decision.unavailable:
        console.print(f"  circuit open: {name}")
    if decision.refused:
        console.print(f"  [red]refused[/red]: {decision.refused}")
    if not signal.noise.passed:
        console.print(f"  noise: {signal.noise.verdict} -> reply {signal.noise.reply!r}, no model call")


@app.command()
def route(
    text: str = typer.Argument(..., help="The message to route."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document."),
    tier: str | None = typer.Option(None, "--tier", help=TIER_HELP),
    provider: str | None = typer.Option(None, "--provider", help=PROVIDER_HELP),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
) -> None:
    """Classify a message and show where it would go (tier, provider, model, why); no model call."""
    settings = load_settings()
    message = checked_message(text, settings)
    from vaos.providers.registry import ProviderRegistry, UnknownProviderError
    from vaos.routing.budget import BudgetTracker
    from vaos.routing.router import Router, RoutingInputError
    from vaos.routing.wiring import CALL_LOG

    signal = deterministic_signal(message, settings)
    r = settings.routing
    budget = BudgetTracker(
        session_limit_usd=r.budget_session_usd,
        daily_limit_usd=r.budget_daily_usd,
        policy=r.over_budget,
        path=settings.path(CALL_LOG) if r.budget_daily_usd is not None else None,
    )
    try:
        router = Router.from_settings(settings, ProviderRegistry(settings), budget)
        decision = router.decide(signal, message, tier=tier, provider=provider, model=model)
    except (UnknownProviderError, RoutingInputError) as exc:
        routing_problem(exc)
    if json_output:
        import orjson

        doc: dict[str, Any] = {"signal": signal.to_dict(), "decision": decision.to_dict()}
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
        sys.stdout.flush()
        return
    print_decision(signal, decision)
