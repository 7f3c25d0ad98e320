"""``vaos chat``: an interactive session with the agent, through the daemon when one answers."""

from __future__ import annotations

import os
import sys

import typer

from vaos.cli.app import app
from vaos.cli.errors import bad_input, fail


@app.command()
def chat(
    url: str | None = typer.Option(
        None, "--url", help="Daemon to talk to [default: http://<VAOS_API__HOST>:<VAOS_API__PORT>]."
    ),
    local: bool = typer.Option(False, "--local", help="Run in this process even if a daemon answers."),
    session: str | None = typer.Option(None, "--session", help="Continue this session."),
    api_key: str | None = typer.Option(
        None, "--api-key", envvar="VAOS_API_KEY", help="Bearer token or API key for the daemon."
    ),
    tier: str | None = typer.Option(
        None, "--tier", help="Start with this tier (utility, specialist, elite)."
    ),
    model: str | None = typer.Option(None, "--model", help="Start with this model pinned."),
) -> None:
    """Interactive chat: streamed answers, tool calls as they happen, slash commands, usage
    and cost per turn. Uses the daemon (vaos serve) when it answers, this process otherwise."""
    import asyncio

    from vaos.cli.route import load_settings
    from vaos.tiers import TIERS

    if tier is not None and tier not in TIERS:
        bad_input(f"unknown tier {tier!r}; known tiers: {', '.join(TIERS)}")
    if session is not None:
        from vaos.store.sessions import check_session_id

        try:
            check_session_id(session)
        except ValueError as exc:
            bad_input(str(exc))
    settings = load_settings()
    if not sys.stdin.isatty():
        os.environ.setdefault("PROMPT_TOOLKIT_NO_CPR", "1")

    async def main() -> None:
        from vaos.cli.repl.backend import ChatError, LocalBackend, RemoteBackend, probe
        from vaos.cli.repl.commands import SessionState
        from vaos.cli.repl.loop import Repl

        target = url or f"http://{_host(settings.api.host)}:{settings.api.port}"
        backend: RemoteBackend | LocalBackend
        if not local and await probe(target):
            backend = RemoteBackend(target, api_key=api_key)
        elif url is not None and not local:
            fail(f"no VAOS daemon answers at {url}")
        else:
            try:
                backend = await LocalBackend(settings).start()
            except ChatError as exc:
                fail(str(exc))
        try:
            settings.home.mkdir(parents=True, exist_ok=True)
            state = SessionState(session_id=session, channel="cli", tier=tier, model=model)
            repl = Repl(backend, state=state, history=settings.path("chat_history"))
            await repl.run()
        finally:
            await backend.aclose()

    asyncio.run(main())


def _host(host: str) -> str:
    if host in ("0.0.0.0", ""):
        return "127.0.0.1"
    if host == "::":
        return "[::1]"
    return f"[{host}]" if ":" in host else host
