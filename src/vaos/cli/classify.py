"""``vaos classify``: one message, or one per stdin line with ``-``."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from typing import TYPE_CHECKING

import typer

from vaos.cli.app import app
from vaos.cli.errors import bad_input

if TYPE_CHECKING:
    from vaos.signal.classifier import DeterministicClassifier
    from vaos.signal.models import Signal
    from vaos.signal.noise_filter import NoiseThresholds

_STDIN = "-"


@app.command()
def classify(
    text: str = typer.Argument(..., help="The message, or - to read one message per stdin line."),
    json_output: bool = typer.Option(False, "--json", help="Print JSON (JSON Lines for stdin)."),
    llm: bool = typer.Option(False, "--llm", help="Ask the LLM classifier (falls back when unavailable)."),
    save: bool = typer.Option(False, "--save", help="Store the signals and emit signal_classified events."),
) -> None:
    """Classify a message into its signal: mode, genre, type, format, weight, tier, noise."""
    max_bytes, thresholds = _signal_limits()
    from vaos.signal.classifier import DeterministicClassifier
    from vaos.signal.noise_filter import NoiseFilter

    classifier = DeterministicClassifier(noise_filter=NoiseFilter(thresholds))
    messages = list(_read_stdin(max_bytes)) if text == _STDIN else [_checked(text, max_bytes, None)]
    if llm or save:
        signals = _classify_with_service(classifier, messages, use_llm=llm, save=save)
    else:
        signals = [classifier.classify(message) for message in messages]
    if json_output:
        _print_json(signals)
    else:
        _print_table(messages, signals)


def _signal_limits() -> tuple[int, NoiseThresholds]:
    """Message size limit and noise thresholds; settings are read only when some exist."""
    from vaos.paths import config_file
    from vaos.signal.noise_filter import NoiseThresholds
    from vaos.signal.validation import DEFAULT_MAX_BYTES

    configured = config_file().exists() or any(k.startswith("VAOS_SIGNAL__") for k in os.environ)
    if not configured:
        return DEFAULT_MAX_BYTES, NoiseThresholds()
    from vaos.config import get_settings

    try:
        signal = get_settings().signal
    except Exception as exc:  # a broken config file is bad input, not a crash
        bad_input(f"invalid settings: {str(exc).splitlines()[0]}")
    return signal.max_message_bytes, NoiseThresholds(signal.likely_noise, signal.uncertain)


def _checked(text: str, max_bytes: int, line: int | None) -> str:
    from vaos.signal.validation import InvalidMessageError, validate_message

    try:
        return validate_message(text, max_bytes)
    except InvalidMessageError as exc:
        where = f"line {line}: " if line is not None else ""
        bad_input(f"{where}{exc}")


def _read_stdin(max_bytes: int) -> Iterator[str]:
    """Every line of stdin, validated before anything is classified or printed."""
    data = sys.stdin.buffer.read()
    lines = data.split(b"\n")
    if lines and lines[-1] == b"":
        lines.pop()
    if not lines:
        bad_input("no input on stdin: expected one message per line")
    for number, raw in enumerate(lines, start=1):
        raw = raw.removesuffix(b"\r")
        if len(raw) > max_bytes:
            bad_input(f"line {number}: message is {len(raw)} bytes, over the limit of {max_bytes} bytes")
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            bad_input(f"line {number}: not valid UTF-8 (byte {exc.start + 1})")
        yield _checked(line, max_bytes, number)


def _classify_with_service(
    classifier: DeterministicClassifier, messages: list[str], *, use_llm: bool, save: bool
) -> list[Signal]:
    import asyncio

    from vaos.cli.runtime import signal_service

    async def run() -> list[Signal]:
        async with signal_service(classifier, save=save) as service:
            if use_llm and service.llm is None:
                print("vaos: no LLM classifier is available; using the deterministic one", file=sys.stderr)
            return [await service.classify(m, use_llm=use_llm or None) for m in messages]

    return asyncio.run(run())


def _print_json(signals: list[Signal]) -> None:
    import orjson

    out = sys.stdout.buffer
    out.write(b"".join(orjson.dumps(s.to_dict()) + b"\n" for s in signals))
    out.flush()


def _print_table(messages: list[str], signals: list[Signal]) -> None:
    from rich.console import Console
    from rich.table import Table

    console = Console()
    if len(signals) == 1:
        console.print(_signal_card(signals[0]))
        return
    table = Table(title=f"{len(signals)} signals")
    for column in ("message", "mode", "genre", "type", "format", "weight", "tier", "noise"):
        table.add_column(column, overflow="fold", ratio=3 if column == "message" else None)
    for message, s in zip(messages, signals, strict=True):
        preview = message if len(message) <= 120 else message[:117] + "…"
        table.add_row(preview, s.mode, s.genre, s.type, s.format, f"{s.weight:.2f}", s.tier, s.noise.verdict)
    console.print(table)


def _signal_card(s: Signal) -> object:
    from rich.table import Table

    card = Table(show_header=False, box=None, pad_edge=False)
    card.add_column(style="bold")
    card.add_column()
    card.add_row("mode", s.mode)
    card.add_row("genre", s.genre)
    card.add_row("type", s.type)
    card.add_row("format", s.format)
    card.add_row("weight", f"{s.weight:.2f}")
    card.add_row("tier", s.tier)
    card.add_row("confidence", s.confidence)
    card.add_row("noise", s.noise.verdict + (f" ({s.noise.reply})" if s.noise.reply else ""))
    card.add_row("classifier", s.classifier)
    card.add_row("intent hash", s.intent_hash)
    return card
