"""A real uvicorn server on a free loopback port, serving the API over a fake runtime."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from api_fakes import Api, start_api

from vaos.providers.testing import Reply


@pytest.fixture(scope="module")
def api(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Api]:
    """One server per test module (the model's script is reset before each test)."""
    running = start_api(tmp_path_factory.mktemp("api-home"))
    try:
        yield running
    finally:
        running.server.stop()


@pytest.fixture(autouse=True)
def _reset_script(request: pytest.FixtureRequest) -> None:
    if "api" in request.fixturenames:
        running: Api = request.getfixturevalue("api")
        running.script(Reply("hello from the fake model"))


@pytest.fixture
def make_api(tmp_path: Path) -> Iterator[Callable[..., Api]]:
    """Start a server with particular settings (stopped after the test)."""
    started: list[Api] = []

    def make(**options: Any) -> Api:
        running = start_api(tmp_path / f"home{len(started)}", **options)
        started.append(running)
        return running

    yield make
    for running in started:
        running.server.stop()
