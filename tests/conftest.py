"""Shared fixtures: every test gets its own VAOS_HOME and fresh settings."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

# Timing is for bench/, not for tests: a busy 2-core machine must not fail a property.
settings.register_profile("vaos", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.load_profile("vaos")


@pytest.fixture(autouse=True)
def vaos_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    home = tmp_path_factory.mktemp("vaos-home")
    monkeypatch.setenv("VAOS_HOME", str(home))
    for name in list(__import__("os").environ):
        if name.startswith("VAOS_") and name not in {"VAOS_HOME", "VAOS_TEST_POSTGRES_URL"}:
            monkeypatch.delenv(name, raising=False)
    from vaos.config import get_settings

    get_settings.cache_clear()
    yield home
    get_settings.cache_clear()
