"""``vaos serve``: the daemon (HTTP API, embedded kernel, telemetry) until SIGTERM."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING

import typer

from vaos.cli.app import app
from vaos.cli.errors import bad_input, fail

if TYPE_CHECKING:
    from vaos.api.daemon import Daemon


@app.command()
def serve(
    host: str | None = typer.Option(None, "--host", help="Address to listen on [default: 127.0.0.1]."),
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help="Port [default: 8089]; 0 = any."),
    log_level: str = typer.Option("warning", "--log-level", help="debug, info, warning or error."),
    loop: str = typer.Option("auto", "--loop", help="Event loop: auto (uvloop when installed) or asyncio."),
) -> None:
    """Run the HTTP API with the embedded governance kernel (unless VAOS_KERNEL__URL is set)
    and the telemetry publisher, until SIGTERM or SIGINT."""
    import asyncio
    import logging

    from vaos.cli.route import load_settings

    level = log_level.upper()
    if level not in ("DEBUG", "INFO", "WARNING", "ERROR"):
        bad_input(f"unknown log level {log_level!r}: debug, info, warning or error")
    if loop not in ("auto", "asyncio", "uvloop"):
        bad_input(f"unknown event loop {loop!r}: auto, asyncio or uvloop")
    settings = load_settings()
    bind = host or settings.api.host
    listen_port = settings.api.port if port is None else port
    settings = settings.model_copy(
        update={"api": settings.api.model_copy(update={"host": bind, "port": listen_port})}
    )
    logging.basicConfig(
        level=level, stream=sys.stderr, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    from vaos.api.daemon import DaemonStartError
    from vaos.api.daemon import serve as run

    def ready(url: str, daemon: Daemon) -> None:
        kernel = (
            f"kernel {daemon.kernel_address} ({'embedded' if daemon.kernel else 'external'})"
            if daemon.kernel_address and daemon.settings.governance.mode != "off"
            else "governance off"
        )
        auth = "auth required" if daemon.settings.api.auth_required(bind) else "auth off (loopback)"
        print(f"vaos serving on {url} ({kernel}; {auth}; OpenAI base URL {url}/v1)", flush=True)

    factory = None
    if loop == "uvloop" or loop == "auto":
        try:
            import uvloop

            factory = uvloop.new_event_loop
        except ImportError:
            if loop == "uvloop":
                bad_input("uvloop is not installed")
    try:
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(
                run(settings, host=bind, port=listen_port, on_ready=ready, log_level=log_level.lower())
            )
    except DaemonStartError as exc:
        fail(str(exc))
    print("vaos stopped", file=sys.stderr)
