"""``vaos swarm run|status|cancel|list|patterns``: multi-agent swarms from the command line.

``vaos swarm run --pattern NAME [--json] TASK`` runs a swarm to its end with live progress per
agent on stderr, then prints the answer (or, with ``--json``, the whole status as one JSON
document) on stdout. Exit 0 when the swarm completed, 1 when it failed, timed out, ran out of
budget or was cancelled (Ctrl-C cancels it), 2 for bad input.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
import time
from typing import TYPE_CHECKING, Annotated, Any

import typer

from vaos.cli.app import app
from vaos.cli.errors import bad_input, fail

if TYPE_CHECKING:
    from rich.console import Console

    from vaos.config import Settings
    from vaos.swarm.service import SwarmService

swarm_app = typer.Typer(
    name="swarm",
    help="Multi-agent swarms: parallel, pipeline, debate, review, pact, and named configurations.",
    no_args_is_help=True,
)
app.add_typer(swarm_app)

JsonOption = Annotated[bool, typer.Option("--json", help="Print one JSON document on stdout.")]
STATUS_MARKS = {
    "queued": "·",
    "running": "…",
    "done": "✓",
    "failed": "✗",
    "cancelled": "⊘",
    "skipped": "−",
}


def _settings() -> Settings:
    from vaos.cli.route import load_settings

    return load_settings()


def _print_json(value: Any) -> None:
    import orjson

    sys.stdout.write(orjson.dumps(value, option=orjson.OPT_INDENT_2).decode() + "\n")


class Progress:
    """Per-agent progress: a live Rich table on a terminal, one line per change otherwise."""

    def __init__(self, console: Console, *, live: bool, quiet: bool) -> None:
        self.console = console
        self.quiet = quiet
        self.rows: dict[str, dict[str, Any]] = {}
        self.started: dict[str, float] = {}
        self._live: Any = None
        if live and not quiet:
            from rich.live import Live

            self._live = Live(
                console=console, refresh_per_second=8, transient=False, get_renderable=self._table
            )

    def __enter__(self) -> Progress:
        if self._live is not None:
            self._live.__enter__()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.refresh()
            self._live.__exit__(None, None, None)

    def update(self, event: dict[str, Any]) -> None:
        step, status = event["step"], event["status"]
        if status == "running":
            self.started[step] = time.monotonic()
        self.rows[step] = dict(event)
        if self.quiet:
            return
        if self._live is not None:
            self._live.refresh()
            return
        line = f"{STATUS_MARKS.get(status, '?')} {status:<9} {event['member']} ({event['agent_id']}) [{step}]"
        if status != "running":
            line += f" {event.get('duration_s', 0):.1f}s"
            if event.get("error"):
                line += f" — {event['error']}"
        self.console.print(line, markup=False, highlight=False)

    def _table(self) -> Any:
        from rich.table import Table

        table = Table(title="swarm agents", expand=False)
        for column in ("step", "member", "agent", "status", "time", "cost", "output"):
            table.add_column(column)
        now = time.monotonic()
        for step, row in self.rows.items():
            status = row["status"]
            seconds = row.get("duration_s") if status != "running" else now - self.started.get(step, now)
            preview = " ".join(str(row.get("result") or row.get("error") or "").split())[:60]
            table.add_row(
                step,
                row["member"],
                row["agent_id"],
                f"{STATUS_MARKS.get(status, '?')} {status}",
                f"{seconds or 0:.1f}s",
                f"${row.get('cost_usd') or 0:.4f}",
                preview,
            )
        return table


@swarm_app.command("run")
def run(
    task: Annotated[str, typer.Argument(help="What the swarm should do.")],
    pattern: Annotated[
        str,
        typer.Option(
            "--pattern", "-p", help="parallel, pipeline, debate, review, pact, or a named configuration."
        ),
    ] = "parallel",
    json_output: JsonOption = False,
    max_agents: Annotated[int | None, typer.Option("--max-agents", help="Agents in the plan.")] = None,
    rounds: Annotated[int | None, typer.Option("--rounds", help="Debate rounds / review iterations.")] = None,
    timeout: Annotated[float | None, typer.Option("--timeout", help="Seconds for the whole swarm.")] = None,
    budget: Annotated[float | None, typer.Option("--budget", help="Most model spend, USD.")] = None,
    executor: Annotated[
        str | None, typer.Option("--executor", help="auto, local (this process) or queue (workers).")
    ] = None,
) -> None:
    """Run a swarm on TASK and print its answer."""
    from vaos.swarm.errors import SwarmError
    from vaos.swarm.plan import check_pattern
    from vaos.swarm.roster import load_roster

    settings = _settings()
    if executor is not None and executor not in ("auto", "local", "queue"):
        bad_input(f"unknown executor {executor!r}; use auto, local or queue")
    if not task.strip():
        bad_input("the task must not be empty")
    try:
        check_pattern(load_roster(), pattern)
    except SwarmError as exc:
        bad_input(str(exc))
    options = {"max_agents": max_agents, "rounds": rounds, "timeout": timeout, "budget_usd": budget}
    status = asyncio.run(_run(settings, task, pattern, options, executor, json_output))
    if json_output:
        _print_json(status)
    else:
        if status.get("result"):
            print(status["result"])
        done = sum(1 for a in status["agents"] if a["status"] == "done")
        summary = (
            f"swarm {status['swarm_id']}: {status['status']} — {done}/{len(status['agents'])} agents done, "
            f"${status['cost_usd']:.4f}"
        )
        if status.get("error"):
            summary += f" — {status['error']}"
        print(summary, file=sys.stderr)
    if status["status"] != "completed":
        raise SystemExit(1)


async def _run(
    settings: Settings,
    task: str,
    pattern: str,
    options: dict[str, Any],
    executor: str | None,
    quiet: bool,
) -> dict[str, Any]:
    from rich.console import Console

    from vaos.events import EventBus
    from vaos.swarm.errors import (
        SwarmBusyError,
        SwarmInputError,
        SwarmRefusedError,
        SwarmUnavailableError,
    )
    from vaos.swarm.executor import load_runtime_factory
    from vaos.swarm.service import SwarmService

    try:
        factory = load_runtime_factory(settings.swarm.runtime)
    except SwarmUnavailableError as exc:
        fail(str(exc))
    console = Console(stderr=True)
    bus = EventBus()
    async with factory(settings, bus) as runtime:
        service = SwarmService(runtime, settings=settings, bus=bus, executor=executor)  # type: ignore[arg-type]
        swarm_id: str | None = None
        try:
            with Progress(console, live=console.is_terminal, quiet=quiet) as progress:
                try:
                    swarm_id = await service.launch(task, pattern, on_progress=progress.update, **options)
                except SwarmInputError as exc:
                    bad_input(str(exc))
                except (SwarmRefusedError, SwarmUnavailableError, SwarmBusyError) as exc:
                    fail(str(exc))
                if not quiet:
                    console.print(f"swarm {swarm_id} ({pattern})", markup=False, highlight=False)
                try:
                    return await service.wait(swarm_id)
                except asyncio.CancelledError:
                    await _cancel(service, swarm_id)
                    print("interrupted: swarm cancelled", file=sys.stderr)
                    raise SystemExit(130) from None
        finally:
            await service.aclose()


async def _cancel(service: SwarmService, swarm_id: str) -> None:
    from vaos.swarm.errors import SwarmError

    with contextlib.suppress(SwarmError):
        await service.cancel(swarm_id)


def _service(settings: Settings) -> Any:
    from vaos.store.database import Database
    from vaos.store.swarms import SwarmStore
    from vaos.swarm.service import SwarmService

    settings.home.mkdir(parents=True, exist_ok=True)
    db = Database.from_settings(settings)
    return db, SwarmService(None, settings=settings, store=SwarmStore(db))


@swarm_app.command("status")
def status_command(
    swarm_id: Annotated[str, typer.Argument(help="The swarm id.")], json_output: JsonOption = False
) -> None:
    """A swarm's status, agents and answer."""

    async def go() -> dict[str, Any] | None:
        db, service = _service(_settings())
        try:
            await db.migrate()
            found: dict[str, Any] | None = await service.status(swarm_id)
            return found
        finally:
            await db.dispose()

    found = asyncio.run(go())
    if found is None:
        fail(f"no swarm {swarm_id!r}")
    if json_output:
        _print_json(found)
        return
    print(f"{found['swarm_id']}  {found['status']}  {found['pattern']}  ${found['cost_usd']:.4f}")
    for agent in found["agents"]:
        mark = STATUS_MARKS.get(agent["status"], "?")
        print(f"  {mark} {agent['status']:<9} {agent['step']:<10} {agent['role']:<11} {agent['agent_id']}")
    if found.get("result"):
        print(found["result"])
    if found.get("error"):
        print(f"error: {found['error']}", file=sys.stderr)


@swarm_app.command("cancel")
def cancel_command(swarm_id: Annotated[str, typer.Argument(help="The swarm id.")]) -> None:
    """Cancel a queued or running swarm (wherever it is coordinated)."""
    from vaos.swarm.errors import SwarmNotFoundError, SwarmStateError

    async def go() -> None:
        db, service = _service(_settings())
        try:
            await db.migrate()
            await service.cancel(swarm_id)
        finally:
            await db.dispose()

    try:
        asyncio.run(go())
    except SwarmNotFoundError as exc:
        fail(str(exc))
    except SwarmStateError as exc:
        fail(str(exc))
    print(f"cancelled {swarm_id}", file=sys.stderr)


@swarm_app.command("list")
def list_command(
    json_output: JsonOption = False,
    limit: Annotated[int, typer.Option("--limit", min=1, max=1000, help="How many.")] = 20,
) -> None:
    """The latest swarms, newest first."""

    async def go() -> list[dict[str, Any]]:
        db, service = _service(_settings())
        try:
            await db.migrate()
            rows: list[dict[str, Any]] = await service.list_swarms(limit=limit)
            return rows
        finally:
            await db.dispose()

    rows = asyncio.run(go())
    if json_output:
        _print_json(rows)
        return
    for row in rows:
        task = " ".join(row["task"].split())[:60]
        print(f"{row['swarm_id']}  {row['status']:<11} {row['pattern']:<9} {row['created_at']}  {task}")


@swarm_app.command("patterns")
def patterns_command(json_output: JsonOption = False) -> None:
    """The patterns and the roster's named configurations."""
    from vaos.swarm.plan import check_pattern
    from vaos.swarm.roster import PATTERNS, load_roster

    roster = load_roster()
    rows: list[dict[str, Any]] = []
    for name in roster.pattern_names():
        kind, config = check_pattern(roster, name)
        rows.append(
            {
                "name": name,
                "pattern": kind,
                "agents": list(config.agents) if config else [],
                "description": config.description if config else "",
                "builtin": name in PATTERNS,
            }
        )
    if json_output:
        _print_json(rows)
        return
    for row in rows:
        agents = ", ".join(row["agents"])
        print(f"{row['name']:<20} {row['pattern']:<9} {agents}")
