"""Fixtures: loopback servers that speak each provider's wire format."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from aiohttp import web

from vaos.providers.testing import LoopbackServer


@pytest.fixture
def serve() -> Iterator[Callable[[web.Application], str]]:
    """Start an app on a free loopback port; every server started is stopped after the test."""
    servers: list[LoopbackServer] = []

    def start(app: web.Application) -> str:
        server = LoopbackServer(app)
        servers.append(server)
        return server.start()

    yield start
    for server in servers:
        server.stop()
