"""Tier choice, the provider chain from settings, overrides and budgets."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from vaos.config import ProviderSettings, RoutingSettings, Settings
from vaos.providers.catalog import get_catalog
from vaos.providers.registry import ProviderRegistry, UnknownProviderError
from vaos.providers.types import Usage
from vaos.routing import (
    BudgetTracker,
    NotConfiguredError,
    Router,
    UnknownModelError,
    UnknownTierError,
    choose_tier,
    complexity_score,
)
from vaos.signal.classifier import DeterministicClassifier


def make_router(
    tmp_path: Path, env: dict[str, str] | None = None, budget: BudgetTracker | None = None, **routing: object
) -> Router:
    settings = Settings(home=tmp_path, routing=RoutingSettings(**routing))  # type: ignore[arg-type]
    return Router.from_settings(settings, ProviderRegistry(settings, environ=env or {}), budget)


def test_the_table_has_the_originals_nineteen_keys() -> None:
    names = set(get_catalog().names)
    original = {
        "anthropic", "openai", "google", "deepseek", "mistral", "cohere", "groq", "fireworks", "together",
        "replicate", "openrouter", "perplexity", "qwen", "zhipu", "moonshot", "baichuan", "volcengine",
        "ollama_cloud", "ollama",
    }  # fmt: skip
    assert original <= names and {"local", "xai"} <= names
    assert get_catalog()["zhipu"].models["utility"] == "glm-4.5-flash"
    assert get_catalog().context_window("gpt-4o") == 128_000
    assert get_catalog().context_window("claude-haiku-4-5-20251001") == 200_000


def test_complexity_scores() -> None:
    assert complexity_score("fix the typo") == 1
    assert complexity_score("check the latest capital of useful things") == 1  # no substring hits
    text = "First refactor the backend API, then migrate the database and finally deploy a full rewrite"
    assert complexity_score(text) == 10


@pytest.mark.parametrize(
    ("weight", "complexity", "tier"),
    [
        (0.1, 1, "utility"),
        (0.4, 1, "specialist"),
        (0.7, 1, "elite"),
        (0.1, 5, "specialist"),
        (0.1, 9, "specialist"),
        (0.5, 9, "elite"),
    ],
)
def test_tier_from_weight_raised_one_step_by_complexity(weight: float, complexity: int, tier: str) -> None:
    assert choose_tier(weight, complexity)[0] == tier


def test_nothing_configured_routes_to_the_embedded_model(tmp_path: Path) -> None:
    router = make_router(tmp_path)
    decision = router.decide(weight=0.9)
    assert (decision.tier, decision.provider, decision.model) == ("elite", "local", "smollm2-135m-instruct")
    assert decision.chain[1:] == ()
    assert "embedded model" in " ".join(decision.reasons)


def test_configured_providers_form_the_chain_and_local_ends_it(tmp_path: Path) -> None:
    env = {"GROQ_API_KEY": "g", "OPENAI_API_KEY": "o"}
    router = make_router(tmp_path, env)
    assert router.order == ("openai", "groq", "local")
    decision = router.decide(weight=0.1)
    assert [(r.provider, r.model) for r in decision.chain] == [
        ("openai", "gpt-4o-mini"),
        ("groq", "llama-3.1-8b-instant"),
        ("local", "smollm2-135m-instruct"),
    ]


def test_default_and_chain_settings_skip_providers_without_keys(tmp_path: Path) -> None:
    router = make_router(
        tmp_path,
        {"GROQ_API_KEY": "g"},
        default_provider="openai",
        chain=["groq", "mistral"],
        local_fallback=False,
    )
    assert router.order == ("groq",)
    skipped = dict(router.skipped)
    assert "OPENAI_API_KEY" in skipped["openai"] and "MISTRAL_API_KEY" in skipped["mistral"]


def test_unknown_provider_in_settings_is_refused(tmp_path: Path) -> None:
    with pytest.raises(UnknownProviderError, match="known providers"):
        make_router(tmp_path, default_provider="nope")


def test_settings_key_and_model_overrides(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        providers={"deepseek": ProviderSettings(api_key="k", models={"elite": "deepseek-chat"})},  # type: ignore[arg-type]
        routing=RoutingSettings(default_provider="deepseek"),
    )
    registry = ProviderRegistry(settings, environ={})
    assert registry.status("deepseek").key_source == "VAOS_PROVIDERS__DEEPSEEK__API_KEY"
    decision = Router.from_settings(settings, registry).decide(weight=0.9)
    assert (decision.provider, decision.model) == ("deepseek", "deepseek-chat")


def test_custom_openai_compatible_server_by_url(tmp_path: Path) -> None:
    settings = Settings(
        home=tmp_path,
        providers={"lmstudio": ProviderSettings(base_url="http://127.0.0.1:1234/v1")},
        routing=RoutingSettings(default_provider="lmstudio"),
    )
    router = Router.from_settings(settings, ProviderRegistry(settings, environ={}))
    assert router.decide(weight=0.5).chain[0].provider == "lmstudio"
    assert router.registry.status("lmstudio").spec.protocol == "openai"


def test_overrides(tmp_path: Path) -> None:
    router = make_router(tmp_path, {"OPENAI_API_KEY": "o", "GROQ_API_KEY": "g"})
    assert router.decide(weight=0.1, tier="elite").tier == "elite"
    pinned = router.decide(weight=0.1, provider="groq")
    assert [(r.provider, r.model) for r in pinned.chain] == [("groq", "llama-3.1-8b-instant")]
    by_model = router.decide(weight=0.1, model="gpt-4.1")
    assert [(r.provider, r.model) for r in by_model.chain] == [("openai", "gpt-4.1")]
    assert router.decide(provider="groq", model="any-open-model").model == "any-open-model"


@pytest.mark.parametrize(
    ("kwargs", "error", "text"),
    [
        ({"provider": "nope"}, UnknownProviderError, "known providers: anthropic"),
        ({"model": "gpt-9"}, UnknownModelError, "known models:"),
        ({"provider": "openai", "model": "gpt-9"}, UnknownModelError, "gpt-4o"),
        ({"tier": "mega"}, UnknownTierError, "utility, specialist, elite"),
        ({"provider": "anthropic"}, NotConfiguredError, "ANTHROPIC_API_KEY"),
        ({"model": "claude-opus-4-6"}, NotConfiguredError, "ANTHROPIC_API_KEY"),
    ],
)
def test_bad_overrides_are_named(
    tmp_path: Path, kwargs: dict[str, str], error: type[Exception], text: str
) -> None:
    router = make_router(tmp_path, {"OPENAI_API_KEY": "o"})
    with pytest.raises(error, match=text):
        router.decide(weight=0.5, **kwargs)


def test_open_circuits_are_reported(tmp_path: Path) -> None:
    router = make_router(tmp_path, {"OPENAI_API_KEY": "o"})
    for _ in range(3):
        router.registry.breakers["openai"].record_failure()
    assert router.decide(weight=0.5).unavailable == ("openai",)


def test_budget_downgrades_or_refuses(tmp_path: Path) -> None:
    budget = BudgetTracker(daily_limit_usd=0.01, session_limit_usd=0.001, policy="downgrade")
    router = make_router(tmp_path, {"OPENAI_API_KEY": "o"}, budget=budget)
    assert router.decide(weight=0.9, session_id="s1").tier == "elite"
    budget.record(
        session_id="s1",
        provider="openai",
        model="gpt-4o",
        tier="elite",
        usage=Usage(1, 1),
        latency_s=1,
        cost_usd=None,
    )
    from decimal import Decimal

    budget.record(
        session_id="s1",
        provider="openai",
        model="gpt-4o",
        tier="elite",
        usage=Usage(1, 1),
        latency_s=1,
        cost_usd=Decimal("0.002"),
    )
    downgraded = router.decide(weight=0.9, session_id="s1")
    assert downgraded.tier == "utility" and "session budget" in " ".join(downgraded.reasons)
    assert router.decide(weight=0.9, session_id="s2").tier == "elite"
    budget.policy = "refuse"
    assert router.decide(weight=0.9, session_id="s1").refused


def test_budget_totals_survive_a_restart(tmp_path: Path) -> None:
    from decimal import Decimal

    path = tmp_path / "calls.jsonl"
    first = BudgetTracker(daily_limit_usd=1.0, path=path)
    first.record(
        session_id="a",
        provider="openai",
        model="m",
        tier="utility",
        usage=Usage(5, 5),
        latency_s=0.5,
        cost_usd=Decimal("1.5"),
    )
    second = BudgetTracker(daily_limit_usd=1.0, path=path)
    assert second.spent_today() == Decimal("1.5") and second.over() is not None
    tomorrow = BudgetTracker(daily_limit_usd=1.0, path=path, clock=lambda: time.time() + 86_400)
    assert tomorrow.over() is None


def test_decide_from_a_real_signal(tmp_path: Path) -> None:
    text = "Production is down: the payments API returns 500 errors for every request, fix it now"
    signal = DeterministicClassifier().classify(text)
    decision = make_router(tmp_path).decide(signal, text)
    assert decision.weight == signal.weight
    assert decision.tier in ("specialist", "elite")
    assert decision.to_dict()["chain"][0]["provider"] == "local"
