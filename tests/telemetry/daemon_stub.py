"""A minimal daemon for the shutdown test, wired the way ``vaos serve`` wires telemetry.

Run as a subprocess with ``VAOS_HOME`` and ``VAOS_AMQP__*`` set. Prints ``ready`` once the
command consumer is up, obeys signed commands, and on ``shutdown`` emits one last event,
drains, prints ``drained <stats>`` and exits 0.
"""

from __future__ import annotations

import asyncio
import logging
import sys

import orjson

from vaos.config import get_settings
from vaos.events import EventBus
from vaos.governance.commands import ledger_audit
from vaos.governance.keys import KeyStore
from vaos.governance.ledger import Ledger
from vaos.governance.telemetry import start_telemetry


async def main() -> int:
    settings = get_settings()
    keystore = KeyStore.open(settings.path("keys"))
    ledger = Ledger.open(settings.path("ledger"), keystore)
    bus = EventBus()
    paused: list[str] = []

    async def on_pause(agent_id: str) -> None:
        paused.append(agent_id)

    publisher, controller = await start_telemetry(
        settings, bus=bus, keys=keystore, audit=ledger_audit(ledger), on_pause=on_pause
    )
    await asyncio.wait_for(publisher.wait_connected(), 30)
    print("ready paused" if controller.paused else "ready", flush=True)
    await controller.wait_for_shutdown()
    await bus.emit("agent_response", {"text": "last words before shutdown"})
    await publisher.stop(drain_timeout=10)
    await ledger.close()
    print("drained " + orjson.dumps(publisher.stats()).decode(), flush=True)
    return 0


if __name__ == "__main__":
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    sys.exit(asyncio.run(main()))
