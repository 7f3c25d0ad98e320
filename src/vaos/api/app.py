"""The FastAPI application: ``create_app(runtime_or_settings)``.

``create_app(settings)`` opens the agent runtime (``vaos.agent.open_runtime``) when the app
starts and closes it when it stops; ``create_app(runtime)`` serves a runtime someone else
opened (``vaos serve`` does, to share it with the kernel and the telemetry publisher; tests
pass a fake). Middleware, outermost first: metrics, rate limits, body limits (and CORS when
origins are configured). Auth is a dependency of every ``/api/v1`` and ``/v1`` route.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Iterable
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Depends, FastAPI

from vaos import __version__
from vaos.api.auth import Authenticator, TokenIssuer, authenticate, token_secret
from vaos.api.context import ApiContext
from vaos.api.errors import AUTH_ERRORS, COMMON_ERRORS, install_error_handlers
from vaos.api.limits import BodyLimitMiddleware
from vaos.api.metrics import (
    ApiMetrics,
    MetricsMiddleware,
    breaker_families,
    counter,
    gauge,
    telemetry_families,
)
from vaos.api.rate_limit import RateLimiter, RateLimitMiddleware
from vaos.api.routes import agent, audit, auth, catalog, commands, health, openai, sessions, signals, swarm
from vaos.api.runtime import RuntimeFactory, RuntimeLike, default_runtime_factory
from vaos.api.sse import ReplayHub
from vaos.config import Settings

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from vaos.events import EventBus

logger = logging.getLogger(__name__)

DESCRIPTION = """\
The VAOS daemon: classify, route, act under governance, and prove what was done.

Errors are `{"error": {"code", "message"}}` with a 4xx for bad input. When auth is required
(always off loopback unless configured otherwise) send `Authorization: Bearer <access token
or API key>`. `/v1/chat/completions` and `/v1/models` speak OpenAI's format.
"""


def create_app(
    runtime_or_settings: RuntimeLike | Settings | None = None,
    *,
    settings: Settings | None = None,
    runtime_factory: RuntimeFactory | None = None,
    bind_host: str | None = None,
    telemetry: Any = None,
) -> FastAPI:
    """The API app for a runtime (served as is) or for settings (a runtime is opened at
    start-up with ``runtime_factory``, default ``vaos.agent.open_runtime``).

    ``bind_host`` is the address the server listens on (it decides whether auth is required
    when ``VAOS_API__REQUIRE_AUTH`` is unset); ``telemetry`` a running telemetry publisher
    whose counters ``/metrics`` shows.
    """
    given_runtime: RuntimeLike | None = None
    if isinstance(runtime_or_settings, Settings):
        settings = runtime_or_settings
    elif runtime_or_settings is not None:
        given_runtime = runtime_or_settings
    if settings is None:
        settings = getattr(given_runtime, "settings", None) if given_runtime is not None else None
    if not isinstance(settings, Settings):
        from vaos.config import get_settings

        settings = get_settings()
    resolved: Settings = settings
    host = bind_host or resolved.api.host
    metrics = ApiMetrics()
    limiter = RateLimiter(resolved.api.rate_limit_per_minute, resolved.api.rate_limit_auth_per_minute)

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        async with contextlib.AsyncExitStack() as stack:
            if given_runtime is not None:
                runtime = given_runtime
            else:
                from vaos.events import EventBus

                factory = runtime_factory or default_runtime_factory
                runtime = await stack.enter_async_context(factory(resolved, EventBus()))
            ctx = await _start_context(stack, resolved, runtime, metrics, limiter, host, telemetry)
            app.state.vaos = ctx
            try:
                yield
            finally:
                ctx.shutting_down.set()
                await ctx.hub.aclose()
                await ctx.aclose()
                app.state.vaos = None

    app = FastAPI(
        title="VAOS",
        version=__version__,
        description=DESCRIPTION,
        lifespan=lifespan,
        openapi_url="/openapi.json",
        docs_url="/docs",
        redoc_url=None,
    )
    install_error_handlers(app)
    if resolved.api.cors_origins:
        from starlette.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=resolved.api.cors_origins,
            allow_methods=["GET", "POST", "OPTIONS"],
            allow_headers=["authorization", "content-type", "last-event-id"],
        )
    app.add_middleware(BodyLimitMiddleware, max_bytes=resolved.api.max_request_bytes)
    app.add_middleware(RateLimitMiddleware, limiter=limiter)
    app.add_middleware(MetricsMiddleware, metrics=metrics)

    protected = [Depends(authenticate)]
    errors = {**COMMON_ERRORS, **AUTH_ERRORS}
    # The OpenAI-compatible routes first: they are the hot path, and routes match in order.
    app.include_router(openai.router, prefix="/v1", dependencies=protected, responses=errors)
    app.include_router(health.router)
    api = APIRouter(prefix="/api/v1", dependencies=protected, responses=errors)
    for module in (signals, agent, sessions, catalog, commands, swarm, audit):
        api.include_router(module.router)
    app.include_router(api)
    app.include_router(auth.router, prefix="/api/v1", responses=COMMON_ERRORS)
    _document_auth(app, required=resolved.api.auth_required(host))
    return app


def _document_auth(app: FastAPI, *, required: bool) -> None:
    """Make the OpenAPI document say whether the bearer token is required or optional."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is not None:
            return app.openapi_schema
        from fastapi.openapi.utils import get_openapi

        schema = get_openapi(
            title=app.title, version=app.version, description=app.description, routes=app.routes
        )
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                if isinstance(operation, dict) and operation.get("security") and not required:
                    operation["security"] = [*operation["security"], {}]  # optional
                    operation.get("responses", {}).pop("401", None)
        app.openapi_schema = schema
        return schema

    app.openapi = openapi  # type: ignore[method-assign]


async def _start_context(
    stack: contextlib.AsyncExitStack,
    settings: Settings,
    runtime: RuntimeLike,
    metrics: ApiMetrics,
    limiter: RateLimiter,
    host: str,
    telemetry: Any,
) -> ApiContext:
    from vaos.signal.classifier import DeterministicClassifier
    from vaos.signal.noise_filter import NoiseFilter, NoiseThresholds
    from vaos.store.credentials import CredentialStore

    db = getattr(runtime, "db", None)
    if db is None:
        from vaos.store.database import Database

        settings.home.mkdir(parents=True, exist_ok=True)
        db = Database.from_settings(settings)
        stack.push_async_callback(db.dispose)
    await db.migrate()
    credentials = CredentialStore(db)
    issuer = TokenIssuer(token_secret(settings), ttl=settings.api.access_token_ttl)
    required = settings.api.auth_required(host)
    auth = Authenticator(credentials, issuer, required=required)
    if required and not await credentials.has_credentials():
        logger.warning(
            "auth is required but there is no user or API key yet: every call will get 401 until "
            "one is made with `vaos auth create-key` or `vaos auth add-user`"
        )
    thresholds = NoiseThresholds(settings.signal.likely_noise, settings.signal.uncertain)
    classifier = DeterministicClassifier(noise_filter=NoiseFilter(thresholds))
    hub = ReplayHub(settings.api.sse_replay_events, settings.api.sse_replay_sessions)
    bus: EventBus = runtime.bus
    hub.start(bus)
    stack.callback(bus.subscribe(metrics.on_event, ("llm_response", "error")))
    ctx = ApiContext(
        settings=settings,
        runtime=runtime,
        classifier=classifier,
        credentials=credentials,
        auth=auth,
        limiter=limiter,
        metrics=metrics,
        hub=hub,
        bind_host=host,
        telemetry=telemetry,
    )
    metrics.add_collector(lambda: _scrape(ctx))
    return ctx


def _scrape(ctx: ApiContext) -> Iterable[Metric]:
    """The metrics read at scrape time from the runtime's parts."""
    runtime = ctx.runtime
    out: list[Metric] = list(breaker_families(runtime.routing.registry.breakers.states()))
    out.append(counter("vaos_events_dropped", "Bus events dropped by slow consumers.", runtime.bus.dropped))
    out.append(gauge("vaos_sse_subscribers", "Open SSE streams.", ctx.hub.subscriber_count))
    out.append(gauge("vaos_sse_sessions_buffered", "Sessions with buffered events.", ctx.hub.session_count))
    out.append(counter("vaos_sse_overflows", "SSE streams closed for falling behind.", ctx.hub.overflows))
    governance = runtime.governance
    for attr, doc in (
        ("routing_dropped", "Routing logs dropped (queue full)."),
        ("routing_failed", "Routing logs the kernel did not take."),
        ("confirms_dropped", "Audit confirmations given up."),
    ):
        value = getattr(governance, attr, None)
        if isinstance(value, int):
            out.append(counter(f"vaos_governance_{attr}", doc, value))
    telemetry = ctx.telemetry
    stats = getattr(telemetry, "stats", None)
    if callable(stats):
        out.extend(telemetry_families(stats()))
    return out
