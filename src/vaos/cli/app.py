"""The ``vaos`` command line.

Each command lives in its own module under ``vaos.cli`` and registers itself on ``app``;
modules import their heavy dependencies inside the command body so that ``vaos classify``
starts fast. Exit codes: 0 ok, 1 the operation failed or found a problem, 2 bad usage or bad
input (one line on stderr, never a traceback).
"""

from __future__ import annotations

import sys

import typer

from vaos import __version__

app = typer.Typer(
    name="vaos",
    help="VAOS: a self-hosted agent runtime. Classify, route, act, and prove what was done.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _version(value: bool) -> None:
    if value:
        print(f"vaos {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(
        False, "--version", callback=_version, is_eager=True, help="Print the version and exit."
    ),
) -> None:
    """VAOS command line."""


def _register() -> None:
    # Imported for their side effect: each module adds its commands to ``app``.
    from vaos.cli import (
        ask,  # noqa: F401
        audit,  # noqa: F401
        auth,  # noqa: F401
        chat,  # noqa: F401
        classify,  # noqa: F401
        doctor,  # noqa: F401
        kernel,  # noqa: F401
        kernel_command,  # noqa: F401
        mcp,  # noqa: F401
        models,  # noqa: F401
        route,  # noqa: F401
        serve,  # noqa: F401
        swarm,  # noqa: F401
        tools,  # noqa: F401
        worker,  # noqa: F401
    )


_register()


def main() -> None:
    """Console-script entry point."""
    try:
        app()
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        raise SystemExit(130) from None
