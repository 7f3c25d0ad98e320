"""``vaos ask``: one message through the agent loop, the answer streamed, then usage and cost.

classify -> route -> the agent loop (model calls through the routing layer; tool calls under
hooks and governance) -> the answer. Text streams to stdout as it comes; the routing decision,
tool calls and the usage line go to stderr. ``--json`` prints one document instead: the
agent's result (``output``, ``signal``, ``tier``, ``provider``, ``model``, ``usage``,
``cost_usd``, ``tool_calls``, ``decision``, ``latency_s``, ``first_token_s``,
``failed_attempts``, ``session_id``, ``iterations``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import typer

from vaos.cli.app import app
from vaos.cli.errors import bad_input, fail
from vaos.cli.route import MODEL_HELP, PROVIDER_HELP, TIER_HELP, checked_message, load_settings

if TYPE_CHECKING:
    from vaos.agent.result import AgentResult
    from vaos.config import Settings
    from vaos.events import Event


async def ask_async(
    text: str,
    *,
    settings: Settings,
    tier: str | None,
    provider: str | None,
    model: str | None,
    session_id: str | None = None,
    on_event: Callable[[Event], None] | None = None,
) -> AgentResult:
    """Run the agent once; ``on_event`` sees every event of the run as it happens."""
    from vaos.agent.runtime import open_runtime

    async with open_runtime(settings) as runtime:
        unsubscribe = None
        if on_event is not None:
            callback = on_event

            async def forward(event: Event) -> None:
                callback(event)

            unsubscribe = runtime.bus.subscribe(forward)
        try:
            return await runtime.agent().run(
                text, session_id=session_id, tier=tier, provider=provider, model=model, channel="cli"
            )
        finally:
            if unsubscribe is not None:
                unsubscribe()


class _Printer:
    """The streamed answer on stdout; decision, tools and progress on stderr."""

    def __init__(self) -> None:
        self.streamed = False
        self.at_line_start = True

    def __call__(self, event: Event) -> None:
        kind, data = event.type, event.data
        if kind == "llm_token":
            piece = str(data.get("text", ""))
            if piece:
                sys.stdout.write(piece)
                sys.stdout.flush()
                self.streamed = True
                self.at_line_start = piece.endswith("\n")
        elif kind == "llm_request" and not self.at_line_start:
            self._newline()
        elif kind == "routing_decided":
            _print_decision(data)
        elif kind == "tool_call":
            if not self.at_line_start:
                self._newline()
            print(f"  -> {data.get('name')}({_hint(data.get('arguments'))})", file=sys.stderr, flush=True)
        elif kind == "tool_result":
            status = data.get("status")
            mark = "ok" if status == "ok" else f"{status}: {str(data.get('preview', ''))[:120]}"
            print(
                f"     {data.get('name')} {mark} ({data.get('duration_ms', 0):.0f} ms)",
                file=sys.stderr,
                flush=True,
            )

    def _newline(self) -> None:
        sys.stdout.write("\n")
        sys.stdout.flush()
        self.at_line_start = True


def _hint(arguments: Any) -> str:
    if not isinstance(arguments, dict):
        return ""
    for key in ("command", "path", "query", "url", "pattern"):
        if key in arguments:
            return f"{key}={str(arguments[key])[:60]!r}"
    return ", ".join(list(arguments)[:2])


def _print_decision(data: dict[str, Any]) -> None:
    signal = data.get("signal") or {}
    print(
        f"{data.get('tier')} -> {data.get('provider') or '(none)'} / {data.get('model') or '-'}"
        f"   {signal.get('mode')}/{signal.get('genre')}/{signal.get('type')},"
        f" weight {signal.get('weight', 0):.2f}, confidence {signal.get('confidence')},"
        f" complexity {data.get('complexity')}/10",
        file=sys.stderr,
        flush=True,
    )


@app.command()
def ask(
    text: str = typer.Argument(..., help="The question or task."),
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document instead of streaming."),
    tier: str | None = typer.Option(None, "--tier", help=TIER_HELP),
    provider: str | None = typer.Option(None, "--provider", help=PROVIDER_HELP),
    model: str | None = typer.Option(None, "--model", help=MODEL_HELP),
    session: str | None = typer.Option(
        None, "--session", help="Session id: continue (or start) that conversation."
    ),
) -> None:
    """One-shot: classify, route, run the agent loop (tools under governance), print the answer."""
    import asyncio

    from vaos.agent.errors import AgentCallError, AgentInputError

    settings = load_settings()
    message = checked_message(text, settings)
    printer = None if json_output else _Printer()
    try:
        result = asyncio.run(
            ask_async(
                message,
                settings=settings,
                tier=tier,
                provider=provider,
                model=model,
                session_id=session,
                on_event=printer,
            )
        )
    except AgentInputError as exc:
        if printer is not None and printer.streamed:
            sys.stdout.write("\n")
        bad_input(str(exc))
    except AgentCallError as exc:
        if printer is not None and printer.streamed and not printer.at_line_start:
            sys.stdout.write("\n")
        fail(str(exc))
    if json_output:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(result.to_dict()) + b"\n")
        sys.stdout.flush()
        return
    assert printer is not None
    if result.stop_reason == "noise":
        print(result.output)
        print("(filtered as noise: no model call)", file=sys.stderr)
        return
    if printer.streamed and result.stop_reason == "answer":
        if not printer.at_line_start:
            sys.stdout.write("\n")
    else:
        if printer.streamed and not printer.at_line_start:
            sys.stdout.write("\n")
        print(result.output)
    _print_usage(result)


def _print_usage(result: AgentResult) -> None:
    usage = result.usage
    first = f", first token {result.first_token_s:.2f} s" if result.first_token_s is not None else ""
    retried = f", {len(result.failed_attempts)} failed attempt(s)" if result.failed_attempts else ""
    tools = f", {len(result.tool_calls)} tool call(s)" if result.tool_calls else ""
    steps = f", {result.iterations} steps" if result.iterations > 1 else ""
    print(
        f"[{result.provider}/{result.model} {result.tier}] tokens in {usage.get('prompt_tokens', 0)}, "
        f"out {usage.get('completion_tokens', 0)}; cost ${result.cost_usd:.6f}; {result.latency_s:.2f} s"
        f"{first}{tools}{steps}{retried}; session {result.session_id}",
        file=sys.stderr,
    )
