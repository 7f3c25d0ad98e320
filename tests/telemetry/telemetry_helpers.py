"""Helpers of the telemetry tests: the broker seen from a test (consumer, raw publisher,
on/off switch) and a closed local port."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
import orjson

from vaos.config import AmqpSettings
from vaos.governance.telemetry import Topology

BROKER_URL = "amqp://guest:guest@127.0.0.1:5672/"


def closed_port() -> int:
    """A local port nothing listens on."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass
class Received:
    body: dict[str, Any]
    message_id: str | None
    routing_key: str | None
    content_type: str | None
    delivery_mode: int


class Broker:
    """The test's view of the broker: its names, a consumer, and the broker's on/off switch."""

    def __init__(self, url: str, prefix: str) -> None:
        self.url = url
        self.prefix = prefix
        self.topology = Topology.with_prefix(prefix)

    def settings(self, **overrides: Any) -> AmqpSettings:
        values: dict[str, Any] = {
            "url": self.url,
            "name_prefix": self.prefix,
            "flush_interval": 0.2,
            "reconnect_interval": 0.5,
            "connect_timeout": 3.0,
            "publish_timeout": 5.0,
        }
        values.update(overrides)
        return AmqpSettings(**values)

    async def collect(self, queue: str, count: int, within: float = 30.0) -> list[Received]:
        """Consume until ``count`` distinct message ids arrived (duplicates are kept in the list)."""
        received: list[Received] = []
        ids: set[str | None] = set()
        connection = await aio_pika.connect_robust(self.url, timeout=5)
        try:
            channel = await connection.channel()
            await channel.set_qos(prefetch_count=1000)
            q = await channel.declare_queue(queue, durable=True)
            async with asyncio.timeout(within):
                async with q.iterator() as messages:
                    async for message in messages:
                        await message.ack()
                        received.append(
                            Received(
                                body=orjson.loads(message.body),
                                message_id=message.message_id,
                                routing_key=message.routing_key,
                                content_type=message.content_type,
                                delivery_mode=int(message.delivery_mode),
                            )
                        )
                        ids.add(message.message_id)
                        if len(ids) >= count:
                            break
        finally:
            await connection.close()
        return received

    async def count(self, queue: str) -> int:
        connection = await aio_pika.connect(self.url, timeout=5)
        try:
            channel = await connection.channel()
            q = await channel.declare_queue(queue, passive=True)
            return int(q.declaration_result.message_count or 0)
        finally:
            await connection.close()

    async def publish_raw(self, body: bytes, routing_key: str = "commands.pause") -> None:
        connection = await aio_pika.connect(self.url, timeout=5)
        try:
            channel = await connection.channel()
            exchange = await channel.get_exchange(self.topology.exchange)
            await exchange.publish(aio_pika.Message(body, content_type="application/json"), routing_key)
        finally:
            await connection.close()

    async def delete_names(self) -> None:
        connection = await aio_pika.connect(self.url, timeout=5)
        try:
            channel = await connection.channel()
            for name, _ in self.topology.queues():
                with contextlib.suppress(Exception):
                    await channel.queue_delete(name)
            with contextlib.suppress(Exception):
                await channel.exchange_delete(self.topology.exchange)
        finally:
            await connection.close()


async def rabbitmqctl(*args: str) -> None:
    process = await asyncio.create_subprocess_exec(
        "rabbitmqctl", "-q", *args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE
    )
    _, err = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {err.decode().strip()}")


async def wait_until(predicate: Callable[[], bool], within: float = 10.0) -> None:
    """Poll ``predicate`` until true; ``TimeoutError`` after ``within`` seconds."""
    async with asyncio.timeout(within):
        while True:
            if predicate():
                return
            await asyncio.sleep(0.02)
