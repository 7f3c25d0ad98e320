"""``vaos kernel serve`` and ``vaos kernel rotate-key`` (``kernel_app`` takes more commands)."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from vaos.cli.app import app
from vaos.cli.errors import bad_input, fail

if TYPE_CHECKING:
    from vaos.config import Settings

kernel_app = typer.Typer(
    name="kernel",
    help="The governance kernel: tokens, policy and the audit ledger.",
    no_args_is_help=True,
)
app.add_typer(kernel_app)


def load_settings() -> Settings:
    """The settings, or exit 2 with one line when the configuration is invalid."""
    from vaos.config import get_settings

    try:
        return get_settings()
    except Exception as exc:  # a broken config file or variable is bad input, not a crash
        bad_input(f"invalid settings: {str(exc).splitlines()[0]}")


@kernel_app.command("serve")
def serve(
    host: str | None = typer.Option(None, "--host", help="Address to listen on [default: 127.0.0.1]."),
    port: int | None = typer.Option(None, "--port", min=0, max=65535, help="gRPC port [default: 50051]."),
    jwks_port: int | None = typer.Option(
        None, "--jwks-port", min=0, max=65535, help="HTTP port of /.well-known/jwks.json [default: 50052]."
    ),
    token_ttl: int | None = typer.Option(
        None, "--token-ttl", min=1, help="Token lifetime in seconds [default: 60]."
    ),
    policy: Annotated[
        Path | None,
        typer.Option("--policy", help="Policy file [default: $VAOS_HOME/kernel_policy.toml, else built in]."),
    ] = None,
) -> None:
    """Run the governance kernel as a standalone gRPC server until interrupted."""
    import asyncio
    import logging
    import signal

    from vaos.governance.errors import GovernanceError, PolicyError
    from vaos.governance.policy import Policy
    from vaos.governance.server import KernelServer, KernelStartError

    settings = load_settings()
    bind = host or settings.kernel.host
    if bind not in ("127.0.0.1", "::1", "localhost"):
        print(
            f"vaos kernel: warning: listening on {bind}: the kernel speaks plaintext gRPC and does not "
            "authenticate callers; expose it only on a trusted network",
            file=sys.stderr,
        )
    try:
        loaded = Policy.load(policy, home=settings.home)
    except PolicyError as exc:
        bad_input(str(exc))
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    server = KernelServer.from_settings(
        settings, host=host, port=port, jwks_port=jwks_port, token_ttl=token_ttl, policy=loaded
    )

    async def run() -> None:
        await server.start()
        print(
            f"vaos kernel: listening on {server.address} (JWKS {server.jwks_url}), "
            f"ledger {settings.path('ledger')}",
            file=sys.stderr,
            flush=True,
        )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, lambda: asyncio.ensure_future(server.stop()))
        await server.wait_stopped()

    try:
        asyncio.run(run())
    except KernelStartError as exc:
        fail(f"kernel did not start: {exc}")
    except GovernanceError as exc:
        fail(str(exc))
    print("vaos kernel: stopped", file=sys.stderr)


@kernel_app.command("rotate-key")
def rotate_key(
    json_output: bool = typer.Option(False, "--json", help="Print the result as JSON."),
) -> None:
    """Add a new signing key; tokens signed by the old one stay valid until they expire."""
    from vaos.governance.errors import KeyStoreError
    from vaos.governance.keys import KeyStore

    settings = load_settings()
    try:
        keystore = KeyStore.open(settings.path("keys"))
        previous = keystore.active.kid
        active = keystore.rotate()
    except (KeyStoreError, OSError) as exc:
        fail(f"cannot rotate the kernel key: {exc}")
    if json_output:
        import orjson

        sys.stdout.buffer.write(
            orjson.dumps({"active_kid": active.kid, "previous_kid": previous, "keys": len(keystore.keys)})
            + b"\n"
        )
        sys.stdout.flush()
    else:
        print(
            f"new active key {active.kid} (previous {previous}); a running kernel picks it up within a second"
        )
