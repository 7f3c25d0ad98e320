"""Benchmark of the telemetry publisher against the real RabbitMQ (127.0.0.1:5672).

Prints, in one run and on the same messages (event envelopes, persistent, with publisher
confirms):

- VAOS end to end: events published on the ``EventBus`` until the broker has confirmed the
  last one (buffer, batches of 100, confirms), events/s;
- the same through ``TelemetryPublisher.publish_event`` without the bus;
- raw aio-pika publishing the same bodies with confirms, 100 in flight at a time (the batch
  size VAOS uses, the reference for the ratio), and one at a time (for scale);
- the time to drain a spool of 10,000 events left by an outage.

    .venv/bin/python bench/telemetry.py [--events N] [--rounds N] [--spool N]

Needs the broker (``scripts/ensure-rabbitmq``); uses names of its own and deletes them.
"""

from __future__ import annotations

import argparse
import asyncio
import socket
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import aio_pika
from rich.console import Console
from rich.table import Table

from vaos.config import AmqpSettings
from vaos.events import Event, EventBus
from vaos.governance.telemetry import TelemetryPublisher, Topology, declare_topology

URL = "amqp://guest:guest@127.0.0.1:5672/"


def make_events(n: int) -> list[Event]:
    return [
        Event(
            type="tool_call",
            session_id="bench-session",
            agent_id="coder",
            data={"tool": "shell", "args": {"cmd": f"echo {i}"}, "i": i},
        )
        for i in range(n)
    ]


def settings(prefix: str, url: str = URL) -> AmqpSettings:
    return AmqpSettings(url=url, name_prefix=prefix, reconnect_interval=0.5)


async def purge(topology: Topology) -> None:
    connection = await aio_pika.connect(URL, timeout=5)
    try:
        channel = await connection.channel()
        for name, _ in topology.queues():
            queue = await channel.declare_queue(name, durable=True)
            await queue.purge()
    finally:
        await connection.close()


async def delete(topology: Topology) -> None:
    connection = await aio_pika.connect(URL, timeout=5)
    try:
        channel = await connection.channel()
        for name, _ in topology.queues():
            await channel.queue_delete(name)
        await channel.exchange_delete(topology.exchange)
    finally:
        await connection.close()


async def run_vaos(events: list[Event], prefix: str, *, via_bus: bool) -> float:
    bus = EventBus()
    with tempfile.TemporaryDirectory() as tmp:
        publisher = TelemetryPublisher(settings(prefix), Path(tmp) / "spool", bus=bus if via_bus else None)
        await publisher.start()
        try:
            await asyncio.wait_for(publisher.wait_connected(), 10)
            start = time.perf_counter()
            for i, event in enumerate(events):
                if via_bus:
                    await bus.publish(event)
                else:
                    publisher.publish_event(event)
                if i % 100 == 99:
                    await asyncio.sleep(0)  # a producer that yields, as the agent loop does
            async with asyncio.timeout(120):
                await publisher.drained()
            elapsed = time.perf_counter() - start
            stats = publisher.stats()
        finally:
            await publisher.stop()
    if stats["published"] != len(events) or stats["dropped"]:
        raise SystemExit(f"VAOS run lost messages: {stats}")
    return len(events) / elapsed


async def run_raw(events: list[Event], prefix: str, *, window: int) -> float:
    topology = Topology.with_prefix(prefix)
    connection = await aio_pika.connect(URL, timeout=5)
    try:
        channel = await connection.channel(publisher_confirms=True)
        exchange = await declare_topology(channel, topology, 5)
        start = time.perf_counter()
        for first in range(0, len(events), window):
            await asyncio.gather(
                *(
                    exchange.publish(
                        aio_pika.Message(
                            event.to_json().encode(),
                            content_type="application/json",
                            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                            message_id=event.id,
                        ),
                        f"events.{event.type}",
                        mandatory=False,
                        timeout=10,
                    )
                    for event in events[first : first + window]
                )
            )
        elapsed = time.perf_counter() - start
    finally:
        await connection.close()
    return len(events) / elapsed


def closed_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"amqp://guest:guest@127.0.0.1:{s.getsockname()[1]}/"


async def spool_drain(n: int, prefix: str) -> tuple[float, float]:
    """Seconds to spool ``n`` events while the broker is unreachable, and to drain them after."""
    events = make_events(n)
    with tempfile.TemporaryDirectory() as tmp:
        spool = Path(tmp) / "spool"
        offline = TelemetryPublisher(settings(prefix, closed_url()), spool)
        await offline.start()
        start = time.perf_counter()
        for event in events:
            offline.publish_event(event)
        await offline.stop()
        spooled = time.perf_counter() - start
        if offline.stats()["spooled"] != n:
            raise SystemExit(f"spooling lost messages: {offline.stats()}")
        online = TelemetryPublisher(settings(prefix), spool)
        start = time.perf_counter()
        await online.start()
        try:
            async with asyncio.timeout(120):
                await online.drained()
            drained = time.perf_counter() - start
        finally:
            await online.stop()
        if online.stats()["redelivered"] != n:
            raise SystemExit(f"draining lost messages: {online.stats()}")
    return spooled, drained


async def main(args: argparse.Namespace) -> None:
    prefix = f"vaos-bench-{uuid.uuid4().hex[:8]}."
    topology = Topology.with_prefix(prefix)
    events = make_events(args.events)
    results: dict[str, list[float]] = {"bus": [], "direct": [], "raw100": [], "raw1": []}
    try:
        for _ in range(args.rounds):
            for name in ("raw100", "bus", "direct"):
                if name == "raw100":
                    rate = await run_raw(events, prefix, window=100)
                else:
                    rate = await run_vaos(events, prefix, via_bus=name == "bus")
                results[name].append(rate)
                await purge(topology)
        results["raw1"].append(await run_raw(events[: min(len(events), 5_000)], prefix, window=1))
        await purge(topology)
        spooled, drained = await spool_drain(args.spool, prefix)
    finally:
        await delete(topology)

    med = {name: statistics.median(rates) for name, rates in results.items()}
    body = len(events[0].to_json())
    table = Table(
        title=f"vaos telemetry benchmark: {args.events:,} events of ~{body} bytes, persistent, "
        f"publisher confirms, median of {args.rounds}"
    )
    for column in ("path", "events/s", "vs raw aio-pika (100 in flight)"):
        table.add_column(column, justify="right")
    table.add_row(
        "VAOS, EventBus -> broker confirm", f"{med['bus']:,.0f}", f"{med['bus'] / med['raw100']:.2f}x"
    )
    table.add_row(
        "VAOS, publish_event -> broker confirm",
        f"{med['direct']:,.0f}",
        f"{med['direct'] / med['raw100']:.2f}x",
    )
    table.add_row("raw aio-pika, 100 in flight", f"{med['raw100']:,.0f}", "1.00x")
    table.add_row("raw aio-pika, one at a time", f"{med['raw1']:,.0f}", f"{med['raw1'] / med['raw100']:.2f}x")
    table.add_row(f"spool {args.spool:,} events, broker down (s)", f"{spooled:.2f}", "")
    table.add_row(f"drain {args.spool:,}-event spool to the broker (s)", f"{drained:.2f}", "")
    Console(width=120).print(table)
    ratio = med["bus"] / med["raw100"]
    print(f"ratio end to end / raw: {ratio:.2f} (target >= 0.70)", file=sys.stderr)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--spool", type=int, default=10_000)
    asyncio.run(main(parser.parse_args()))
