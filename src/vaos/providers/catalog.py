"""The provider table (``vaos/data/providers.toml``), loaded once."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from typing import Any, Literal, get_args

from vaos.tiers import TIERS, Tier

Protocol = Literal["openai", "anthropic", "gemini", "cohere", "replicate", "ollama", "local"]
PROTOCOLS: tuple[Protocol, ...] = get_args(Protocol)
DEFAULT_CONTEXT_WINDOW = 128_000
AUTO_MODEL = "auto"


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    """One row of the provider table."""

    name: str
    protocol: Protocol
    base_url: str
    models: dict[Tier, str]
    api_key_env: tuple[str, ...] = ()
    base_url_env: tuple[str, ...] = ()
    key_required: bool = True
    prices_id: str | None = None
    known_models: tuple[str, ...] = ()
    open_models: bool = False
    free: bool = False
    auto_chain: bool = True
    extra: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    context_window: int = DEFAULT_CONTEXT_WINDOW

    @property
    def all_models(self) -> tuple[str, ...]:
        """Tier models then the other known ones, without repeats and without ``auto``."""
        seen = dict.fromkeys(m for m in (*self.models.values(), *self.known_models) if m != AUTO_MODEL)
        return tuple(seen)

    @property
    def key_env_hint(self) -> str:
        return self.api_key_env[0] if self.api_key_env else f"VAOS_PROVIDERS__{self.name.upper()}__API_KEY"


@dataclass(frozen=True, slots=True)
class Catalog:
    providers: dict[str, ProviderSpec]
    context_windows: dict[str, int]

    def __contains__(self, name: object) -> bool:
        return name in self.providers

    def __getitem__(self, name: str) -> ProviderSpec:
        return self.providers[name]

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.providers)

    def context_window(self, model: str, provider: str | None = None) -> int:
        if model in self.context_windows:
            return self.context_windows[model]
        for known, size in self.context_windows.items():
            if model.startswith(known + "-"):
                return size
        spec = self.providers.get(provider or "")
        return spec.context_window if spec else DEFAULT_CONTEXT_WINDOW

    def providers_serving(self, model: str) -> tuple[str, ...]:
        """Providers whose table lists ``model``."""
        return tuple(name for name, spec in self.providers.items() if model in spec.all_models)


def _spec(name: str, row: dict[str, Any]) -> ProviderSpec:
    protocol = row["protocol"]
    if protocol not in PROTOCOLS:
        raise ValueError(f"provider {name}: unknown protocol {protocol!r}")
    models = row.get("models", {})
    missing = [t for t in TIERS if t not in models]
    if missing:
        raise ValueError(f"provider {name}: no model for tier(s) {', '.join(missing)}")
    return ProviderSpec(
        name=name,
        protocol=protocol,
        base_url=row.get("base_url", ""),
        models={t: str(models[t]) for t in TIERS},
        api_key_env=tuple(row.get("api_key_env", ())),
        base_url_env=tuple(row.get("base_url_env", ())),
        key_required=bool(row.get("key_required", True)),
        prices_id=row.get("prices_id"),
        known_models=tuple(row.get("known_models", ())),
        open_models=bool(row.get("open_models", False)),
        free=bool(row.get("free", False)),
        auto_chain=bool(row.get("auto_chain", True)),
        extra=row.get("extra"),
        headers=dict(row.get("headers", {})),
        context_window=int(row.get("context_window", DEFAULT_CONTEXT_WINDOW)),
    )


def parse_catalog(data: dict[str, Any]) -> Catalog:
    providers = {name: _spec(name, row) for name, row in data.get("providers", {}).items()}
    windows = {str(k): int(v) for k, v in data.get("context_windows", {}).items()}
    return Catalog(providers, windows)


@lru_cache(maxsize=1)
def get_catalog() -> Catalog:
    """The shipped provider table."""
    text = resources.files("vaos.data").joinpath("providers.toml").read_text(encoding="utf-8")
    return parse_catalog(tomllib.loads(text))


def custom_spec(name: str, base_url: str) -> ProviderSpec:
    """A provider that is not in the table: any OpenAI-compatible server by URL."""
    return ProviderSpec(
        name=name,
        protocol="openai",
        base_url=base_url,
        models={t: AUTO_MODEL for t in TIERS},
        key_required=False,
        open_models=True,
        free=True,
        auto_chain=False,
    )
