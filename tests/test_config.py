from __future__ import annotations

from pathlib import Path

import pytest

from vaos.config import Settings, get_settings


def test_defaults_need_nothing(vaos_home: Path) -> None:
    s = Settings()
    assert s.home == vaos_home
    assert s.database_url == f"sqlite+aiosqlite:///{vaos_home / 'vaos.db'}"
    assert s.governance.mode == "enforce"
    assert s.kernel.url is None and s.kernel.port == 50051
    assert s.api.port == 8089
    assert s.routing.chain == []


def test_env_vars_nest_with_double_underscore(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAOS_ROUTING__DEFAULT_PROVIDER", "local")
    monkeypatch.setenv("VAOS_ROUTING__CHAIN", "openai, anthropic,local")
    monkeypatch.setenv("VAOS_PROVIDERS__OPENAI__API_KEY", "sk-test")
    monkeypatch.setenv("VAOS_GOVERNANCE__MODE", "audit")
    monkeypatch.setenv("VAOS_DATABASE__URL", "postgresql+asyncpg://u@h/db")
    s = Settings()
    assert s.routing.default_provider == "local"
    assert s.routing.chain == ["openai", "anthropic", "local"]
    key = s.providers["openai"].api_key
    assert key is not None and key.get_secret_value() == "sk-test"
    assert "sk-test" not in repr(s)
    assert s.governance.mode == "audit"
    assert s.database_url == "postgresql+asyncpg://u@h/db"


def test_config_toml_in_home(vaos_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (vaos_home / "config.toml").write_text(
        '[api]\nport = 9000\n[routing]\nchain = ["ollama", "local"]\n', encoding="utf-8"
    )
    s = Settings()
    assert s.api.port == 9000
    assert s.routing.chain == ["ollama", "local"]
    monkeypatch.setenv("VAOS_API__PORT", "9100")
    assert Settings().api.port == 9100  # the environment wins over the file


def test_bad_values_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAOS_GOVERNANCE__MODE", "yolo")
    with pytest.raises(ValueError, match="mode"):
        Settings()


def test_auth_required_off_loopback() -> None:
    api = Settings().api
    assert not api.auth_required("127.0.0.1")
    assert api.auth_required("0.0.0.0")


def test_get_settings_is_cached() -> None:
    assert get_settings() is get_settings()
