"""``GET /api/v1/tools`` and ``GET /api/v1/models``: the same documents as ``vaos tools
--json`` and ``vaos models --json`` (a test holds ``models_document`` equal to the CLI's,
which lives with the CLI and is not imported here: the API does not load Typer)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from vaos.api.context import context_of
from vaos.api.errors import JSONBytes
from vaos.api.runtime import tools_document
from vaos.api.schemas import ModelsDocument, ToolsDocument

if TYPE_CHECKING:
    from vaos.providers.registry import ProviderRegistry
    from vaos.routing.router import Router

router = APIRouter(tags=["catalog"])


def models_document(registry: ProviderRegistry, router: Router) -> dict[str, Any]:
    """Every provider, configured or not: protocol, key, models per tier, circuit state."""
    providers = []
    for name in registry.names:
        status = registry.statuses[name]
        spec = status.spec
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
                "circuit": registry.breakers[name].snapshot().to_dict(),
            }
        )
    return {
        "default_provider": router.order[0] if router.order else None,
        "chain": list(router.order),
        "skipped": [{"provider": p, "reason": r} for p, r in router.skipped],
        "providers": providers,
    }


@router.get(
    "/tools",
    response_model=ToolsDocument,
    summary="Registered tools (built-in and MCP) and their JSON schemas",
)
async def tools(request: Request) -> Response:
    ctx = context_of(request)
    return JSONBytes(tools_document(ctx.runtime.tools))


@router.get(
    "/models",
    response_model=ModelsDocument,
    summary="Providers, their model per tier, configured or not, circuit state",
)
async def models(request: Request) -> Response:
    ctx = context_of(request)
    routing = ctx.runtime.routing
    return JSONBytes(models_document(routing.registry, routing.router))
