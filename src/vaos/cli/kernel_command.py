"""``vaos kernel command pause|resume|shutdown``: publish a command signed with the kernel key."""

from __future__ import annotations

import sys
from enum import StrEnum
from typing import Annotated

import typer

from vaos.cli.errors import bad_input, fail
from vaos.cli.kernel import kernel_app, load_settings


class CommandName(StrEnum):
    pause = "pause"
    resume = "resume"
    shutdown = "shutdown"


@kernel_app.command("command")
def kernel_command(
    name: Annotated[CommandName, typer.Argument(help="pause, resume or shutdown.")],
    agent: str = typer.Option("*", "--agent", help="Agent to pause or resume; '*' is the whole daemon."),
    ttl: int = typer.Option(60, "--ttl", help="Seconds the command stays valid."),
    json_output: bool = typer.Option(False, "--json", help="Print the sent command as JSON."),
) -> None:
    """Publish a command signed with the kernel key to the command queue (vas_swarm.commands)."""
    import asyncio
    import logging

    import orjson
    from pydantic import ValidationError

    from vaos.governance.commands import CommandSendError, command_body, new_command, send_command
    from vaos.governance.errors import KeyStoreError
    from vaos.governance.keys import KeyStore
    from vaos.governance.telemetry import redact_url

    settings = load_settings()
    if not 1 <= ttl <= settings.amqp.command_max_ttl:
        bad_input(
            f"--ttl must be between 1 and {settings.amqp.command_max_ttl} s (VAOS_AMQP__COMMAND_MAX_TTL)"
        )
    if name is CommandName.shutdown and agent != "*":
        bad_input("shutdown applies to the whole daemon: leave out --agent")
    try:
        command = new_command(name.value, agent, ttl=ttl)
    except ValidationError:
        bad_input(f"invalid --agent {agent!r}: use '*' or letters, digits and _ . : @ - (at most 128)")
    try:
        keystore = KeyStore.open(settings.path("keys"), create=False)
        body = command_body(keystore, command)
    except (KeyStoreError, OSError) as exc:
        fail(f"cannot sign with the kernel key: {exc} (start the kernel once: vaos kernel serve)")
    for noisy in ("aiormq", "aio_pika"):  # their connection errors are reported below, once
        logging.getLogger(noisy).setLevel(logging.CRITICAL)
    try:
        asyncio.run(send_command(settings, command, body))
    except CommandSendError as exc:
        fail(str(exc))
    if json_output:
        doc = {**command.model_dump(exclude_none=True), "kid": keystore.active.kid, "sent": True}
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
        sys.stdout.flush()
    else:
        print(
            f"sent {command.type} for {command.agent_id} to {redact_url(settings.amqp.url or '')} "
            f"(nonce {command.nonce}, valid {ttl} s, key {keystore.active.kid})"
        )
