"""``vaos models``: every provider, configured or not, its model per tier and circuit state."""

from __future__ import annotations

import sys
from typing import TYPE_CHECKING, Any

import typer

from vaos.cli.app import app
from vaos.cli.route import load_settings, routing_problem

if TYPE_CHECKING:
    from vaos.providers.registry import ProviderRegistry
    from vaos.routing.router import Router


def models_document(registry: ProviderRegistry, router: Router) -> dict[str, Any]:
    """The ``vaos models --json`` document (also ``GET /api/v1/models``)."""
    providers = []
    for name in registry.names:
        status = registry.statuses[name]
        spec = status.spec
        breaker = registry.breakers[name].snapshot()
        providers.append(
            {
                "name": name,
                "protocol": spec.protocol,
                "configured": status.configured,
                "missing": status.missing,
                "key_env": list(spec.api_key_env),
                "key_source": status.key_source,
                "base_url": status.base_url or None,
                "models": dict(status.models),
                "known_models": list(registry.known_models(name)),
                "context_windows": {
                    m: registry.catalog.context_window(m, name) for m in dict.fromkeys(status.models.values())
                },
                "in_chain": name in router.order,
                "circuit": breaker.to_dict(),
            }
        )
    return {
        "default_provider": router.order[0] if router.order else None,
        "chain": list(router.order),
        "skipped": [{"provider": p, "reason": r} for p, r in router.skipped],
        "providers": providers,
    }


@app.command()
def models(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Providers (configured or not), their model per tier, and circuit-breaker state."""
    settings = load_settings()
    from vaos.providers.registry import ProviderRegistry, UnknownProviderError
    from vaos.routing.router import Router

    registry = ProviderRegistry(settings)
    try:
        router = Router.from_settings(settings, registry)
    except UnknownProviderError as exc:
        routing_problem(exc)
    doc = models_document(registry, router)
    if json_output:
        import orjson

        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
        sys.stdout.flush()
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"providers (chain: {' -> '.join(doc['chain']) or 'none'})")
    for column in (
        "provider",
        "protocol",
        "ready",
        "key variable",
        "utility",
        "specialist",
        "elite",
        "circuit",
    ):
        table.add_column(column, overflow="fold")
    for p in doc["providers"]:
        m = p["models"]
        table.add_row(
            p["name"],
            p["protocol"],
            "yes" if p["configured"] else "no",
            p["key_env"][0] if p["key_env"] else "-",
            m["utility"],
            m["specialist"],
            m["elite"],
            p["circuit"]["state"],
        )
    console = Console(width=max(Console().width, 150))
    console.print(table)
    for p in doc["providers"]:
        if not p["configured"] and p["missing"] and not p["missing"].startswith("no API key"):
            console.print(f"{p['name']}: {p['missing']}")
