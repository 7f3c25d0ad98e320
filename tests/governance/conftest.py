"""Fixtures for the governance tests: a key store, a running kernel on free loopback ports,
a client to it. Every kernel a test starts is stopped when the test ends."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from vaos.governance.client import KernelClient
from vaos.governance.keys import KeyStore
from vaos.governance.server import KernelServer


@pytest.fixture
def keystore(vaos_home: Path) -> KeyStore:
    return KeyStore.open(vaos_home / "keys")


@pytest.fixture
async def kernel(vaos_home: Path) -> AsyncIterator[KernelServer]:
    server = KernelServer(vaos_home, host="127.0.0.1", port=0, jwks_port=0)
    await server.start()
    try:
        yield server
    finally:
        await server.stop()


@pytest.fixture
async def client(kernel: KernelServer) -> AsyncIterator[KernelClient]:
    async with KernelClient(kernel.address) as c:
        yield c
