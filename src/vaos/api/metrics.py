"""Prometheus metrics of the daemon: ``GET /metrics`` in the text format.

- HTTP: requests by method, route template and status; latency histogram; in flight.
- Models: calls, tokens (input/output) and cost in USD per provider and model, errors by
  kind — counted from the ``llm_response`` and ``error`` events of the bus.
- Circuit breakers: one gauge per provider and state (1 for the current state).
- Telemetry publisher counters and gauges (published, spooled, dropped, buffered, ...).
- Rate-limit refusals, SSE subscribers, events dropped by slow bus consumers, governance
  routing logs dropped or failed, and the process (CPU seconds, memory).

Every app has its own registry, so several apps in one process (tests) do not collide.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    ProcessCollector,
    disable_created_metrics,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from vaos.events import Event

CONTENT_TYPE = CONTENT_TYPE_PLAIN_0_0_4
_LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_BREAKER_STATES = ("closed", "half_open", "open")


class ApiMetrics:
    def __init__(self) -> None:
        disable_created_metrics()  # type: ignore[no-untyped-call]  # no *_created series: they double the output for nothing
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "vaos_http_requests", "HTTP requests answered.", ["method", "route", "status"], registry=r
        )
        self.latency = Histogram(
            "vaos_http_request_duration_seconds",
            "Time to answer an HTTP request (to the end of the body).",
            ["method", "route"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.in_flight = Gauge("vaos_http_requests_in_flight", "HTTP requests being answered.", registry=r)
        self.llm_calls = Counter(
            "vaos_llm_calls", "Successful model calls.", ["provider", "model", "tier"], registry=r
        )
        self.llm_tokens = Counter(
            "vaos_llm_tokens", "Model tokens, by direction.", ["provider", "model", "direction"], registry=r
        )
        self.llm_cost = Counter("vaos_llm_cost_usd", "Model cost in USD.", ["provider", "model"], registry=r)
        self.llm_latency = Histogram(
            "vaos_llm_call_duration_seconds",
            "Model call latency.",
            ["provider"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.errors = Counter("vaos_errors", "Error events on the bus, by kind.", ["kind"], registry=r)
        self.rate_limited = Counter(
            "vaos_http_rate_limited", "Requests refused by the rate limiter.", ["bucket"], registry=r
        )
        ProcessCollector(registry=r)
        self._request_children: dict[tuple[str, str, int], Any] = {}
        self._latency_children: dict[tuple[str, str], Any] = {}

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        key = (method, route, status)
        child = self._request_children.get(key)
        if child is None:
            child = self._request_children[key] = self.requests.labels(method, route, str(status))
        child.inc()
        lkey = (method, route)
        hist = self._latency_children.get(lkey)
        if hist is None:
            hist = self._latency_children[lkey] = self.latency.labels(method, route)
        hist.observe(seconds)

    async def on_event(self, event: Event) -> None:
        data = event.data
        if event.type == "llm_response":
            provider = str(data.get("provider") or "")
            model = str(data.get("model") or "")
            self.llm_calls.labels(provider, model, str(data.get("tier") or "")).inc()
            usage = data.get("usage") or {}
            if isinstance(usage, dict):
                self.llm_tokens.labels(provider, model, "input").inc(_number(usage.get("input_tokens")))
                self.llm_tokens.labels(provider, model, "output").inc(_number(usage.get("output_tokens")))
            cost = data.get("cost_usd")
            if isinstance(cost, (int, float)) and cost > 0:
                self.llm_cost.labels(provider, model).inc(cost)
            latency = data.get("latency_s")
            if isinstance(latency, (int, float)):
                self.llm_latency.labels(provider).observe(latency)
        elif event.type == "error":
            self.errors.labels(str(data.get("kind") or "unknown")).inc()

    def add_collector(self, collect: Callable[[], Iterable[Metric]]) -> None:
        """Register a function that yields metric families at every scrape."""
        self.registry.register(_FunctionCollector(collect))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _FunctionCollector(Collector):
    def __init__(self, collect: Callable[[], Iterable[Metric]]) -> None:
        self._collect = collect

    def collect(self) -> Iterable[Metric]:
        return self._collect()

    def describe(self) -> Iterable[Metric]:
        return []


def _number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and value > 0 else 0.0


def breaker_families(states: dict[str, Any]) -> list[Metric]:
    """``vaos_provider_circuit_state{provider, state}``: 1 for each provider's current state."""
    family = GaugeMetricFamily(
        "vaos_provider_circuit_state",
        "Circuit breaker state per provider (1 = the current state).",
        labels=["provider", "state"],
    )
    failures = GaugeMetricFamily(
        "vaos_provider_consecutive_failures", "Consecutive failures per provider.", labels=["provider"]
    )
    for name, snap in states.items():
        current = getattr(snap, "state", "closed")
        for state in _BREAKER_STATES:
            family.add_metric([name, state], 1.0 if current == state else 0.0)
        failures.add_metric([name], float(getattr(snap, "failures", 0) or 0))
    return [family, failures]


_TELEMETRY_COUNTERS = ("published", "spooled", "redelivered", "dropped")


def telemetry_families(stats: dict[str, Any]) -> list[Metric]:
    """The telemetry publisher's ``stats()`` as ``vaos_telemetry_*`` metrics."""
    out: list[Metric] = []
    for name, value in stats.items():
        if isinstance(value, bool):
            value = 1.0 if value else 0.0
        if not isinstance(value, (int, float)):
            continue
        if name in _TELEMETRY_COUNTERS:
            c = CounterMetricFamily(f"vaos_telemetry_{name}", f"Telemetry messages {name}.")
            c.add_metric([], float(value))
            out.append(c)
        else:
            g = GaugeMetricFamily(f"vaos_telemetry_{name}", f"Telemetry {name.replace('_', ' ')}.")
            g.add_metric([], float(value))
            out.append(g)
    return out


def gauge(name: str, documentation: str, value: float) -> Metric:
    g = GaugeMetricFamily(name, documentation)
    g.add_metric([], value)
    return g


def counter(name: str, documentation: str, value: float) -> Metric:
    c = CounterMetricFamily(name, documentation)
    c.add_metric([], value)
    return c


class MetricsMiddleware:
    """Counts and times every HTTP request by its route template (bounded label values)."""

    def __init__(self, app: ASGIApp, metrics: ApiMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        in_flight = self.metrics.in_flight
        in_flight.inc()

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            in_flight.dec()
            template = route_template(scope)
            if status == 429 and template == "unmatched":
                template = _path_class(scope["path"])
                self.metrics.rate_limited.labels(
                    "auth" if scope["path"].startswith("/api/v1/auth/") else "api"
                ).inc()
            self.metrics.observe_request(scope["method"], template, status, time.perf_counter() - started)


_PREFIXES = ("/api/v1", "/v1")


def route_template(scope: Scope) -> str:
    """The matched route's path template with its router prefix (``/api/v1/sessions/{session_id}``)."""
    path = getattr(scope.get("route"), "path", None)
    if not isinstance(path, str) or not path:
        return "unmatched"
    for prefix in _PREFIXES:
        if scope["path"].startswith(prefix + "/") and not path.startswith(prefix + "/"):
            return prefix + path
    return path


def _path_class(path: str) -> str:
    for prefix in ("/api/v1/auth/", "/api/v1/", "/v1/"):
        if path.startswith(prefix):
            return prefix + "*"
    return "unmatched"
