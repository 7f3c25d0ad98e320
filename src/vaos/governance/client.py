"""The kernel client: the four RPCs over a ``grpc.aio`` channel, guarded by a circuit breaker.

Every call has a deadline (5 s by default). Transport failures (unreachable, deadline, reset)
count towards the circuit breaker; after 5 in a row calls fail at once with
``KernelUnavailable`` until a half-open probe 30 s later succeeds. Reconnection is gRPC's
own, configured as exponential backoff from 1 s to 30 s with jitter; a call made while the
channel is down fails immediately instead of waiting, so nothing on a request path sleeps.
Refusals are not failures: they raise ``KernelRefused`` with the kernel's reason.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc

from vaos.governance._pb import kernel_pb2 as pb
from vaos.governance.circuit_breaker import CircuitBreaker
from vaos.governance.errors import KernelRefused, KernelUnavailable
from vaos.governance.ledger_verify import RECORD_DOMAIN, RECORD_PREFIX, envelope, line_hash, signature_ok

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["KernelService"].full_name
DEFAULT_TIMEOUT = 5.0
FAILURE_THRESHOLD = 5
RESET_TIMEOUT = 30.0
RECONNECT_MIN_MS = 1000
RECONNECT_MAX_MS = 30000

# Status codes that mean "the kernel did not answer"; others mean it answered with an error.
_TRANSPORT_FAILURES = frozenset(
    {
        grpc.StatusCode.UNAVAILABLE,
        grpc.StatusCode.DEADLINE_EXCEEDED,
        grpc.StatusCode.CANCELLED,
        grpc.StatusCode.UNKNOWN,
        grpc.StatusCode.INTERNAL,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    }
)

_METHODS: dict[str, tuple[Any, Any]] = {
    "RequestToken": (pb.TokenRequest, pb.TokenResponse),
    "SubmitTelemetry": (pb.TelemetryRequest, pb.TelemetryResponse),
    "SubmitRoutingLog": (pb.RoutingLogRequest, pb.RoutingLogResponse),
    "ConfirmAudit": (pb.AuditConfirmation, pb.AuditResponse),
}


def backoff_delay(attempt: int, rng: random.Random | None = None) -> float:
    """Seconds before retry ``attempt`` (0-based): ``min(2**n, 30) + U[0, 1)``, as the original."""
    base = min(2 ** min(attempt, 16) * RECONNECT_MIN_MS, RECONNECT_MAX_MS)
    jitter = (rng or random).random() * 1000
    return float(round(base + jitter)) / 1000.0


@dataclass(frozen=True)
class Token:
    """A granted action token."""

    token: str
    token_id: str
    expires_at: int
    scope: str


@dataclass(frozen=True)
class AuditReceipt:
    """The kernel's answer to ConfirmAudit: the ledger record and its signature."""

    confirmed: bool
    audit_id: str
    error: str
    signature: str
    attestation: str
    sequence: int
    record: str
    kid: str

    def verify(self, keys: Mapping[str, Any]) -> bool:
        """True when ``record`` is signed by ``kid`` among ``keys`` and hashes to
        ``attestation``: the kernel recorded exactly this, in its chain."""
        if not self.record or not self.signature:
            return False
        body = self.record.encode("utf-8")
        if line_hash(envelope(RECORD_PREFIX, body, self.signature)) != self.attestation:
            return False
        return signature_ok(keys.get(self.kid), RECORD_DOMAIN, body, self.signature)


class KernelClient:
    """One channel to one kernel (``host:port``); safe to share between tasks."""

    def __init__(
        self,
        target: str,
        *,
        timeout: float = DEFAULT_TIMEOUT,
        breaker: CircuitBreaker | None = None,
    ) -> None:
        self.target = _strip_scheme(target)
        self.timeout = timeout
        self.breaker = breaker or CircuitBreaker(FAILURE_THRESHOLD, RESET_TIMEOUT)
        self._channel: Any = None
        self._calls: dict[str, Any] = {}

    # -- lifecycle -----------------------------------------------------------------------

    def _ensure_channel(self) -> None:
        if self._channel is not None:
            return
        self._channel = grpc.aio.insecure_channel(
            self.target,
            options=[
                ("grpc.initial_reconnect_backoff_ms", RECONNECT_MIN_MS),
                ("grpc.min_reconnect_backoff_ms", RECONNECT_MIN_MS),
                ("grpc.max_reconnect_backoff_ms", RECONNECT_MAX_MS),
                ("grpc.keepalive_time_ms", 60_000),
            ],
        )
        for name, (request, response) in _METHODS.items():
            self._calls[name] = self._channel.unary_unary(
                f"/{SERVICE_NAME}/{name}",
                request_serializer=request.SerializeToString,
                response_deserializer=response.FromString,
            )

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._calls.clear()

    async def __aenter__(self) -> KernelClient:
        self._ensure_channel()
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def wait_ready(self, within: float = 5.0) -> bool:
        """Wait until the channel is connected (for start-up and health checks only)."""
        self._ensure_channel()
        try:
            await asyncio.wait_for(self._channel.channel_ready(), within)
        except TimeoutError:
            return False
        return True

    def connectivity(self) -> str:
        """``up`` (connected or connecting normally), ``down`` (failing or circuit open)."""
        if self.breaker.state == "open":
            return "down"
        if self._channel is None:
            return "up"
        state = self._channel.get_state(try_to_connect=True)
        return (
            "down"
            if state in (grpc.ChannelConnectivity.TRANSIENT_FAILURE, grpc.ChannelConnectivity.SHUTDOWN)
            else "up"
        )

    # -- the four RPCs -------------------------------------------------------------------

    async def request_token(
        self,
        agent_id: str,
        intent_hash: str,
        action_type: str,
        metadata: Mapping[str, str] | None = None,
    ) -> Token:
        """A token for one action; ``KernelRefused`` when the policy says no."""
        request = pb.TokenRequest(
            agent_id=agent_id, intent_hash=intent_hash, action_type=action_type, metadata=dict(metadata or {})
        )
        response = await self._call("RequestToken", request)
        if response.error or not response.token:
            raise KernelRefused(response.error or "no token in the kernel's answer", response.refusal_id)
        return Token(response.token, response.token_id, response.expires_at, response.scope)

    async def confirm_audit(
        self,
        *,
        agent_id: str,
        action_id: str,
        intent_hash: str,
        jwt_token: str,
        performed_at: int | None = None,
        performed_by: str = "",
        method: str = "",
        context: Mapping[str, str] | None = None,
        attributable: bool = True,
        legible: bool = True,
        contemporaneous: bool = True,
        original: bool = True,
        accurate: bool = True,
    ) -> AuditReceipt:
        """Record a performed action; ``KernelRefused`` (with the refusal's record id) when
        the kernel does not accept the token."""
        request = pb.AuditConfirmation(
            agent_id=agent_id,
            action_id=action_id,
            intent_hash=intent_hash,
            jwt_token=jwt_token,
            attributable=attributable,
            legible=legible,
            contemporaneous=contemporaneous,
            original=original,
            accurate=accurate,
            performed_at=int(time.time()) if performed_at is None else performed_at,
            performed_by=performed_by,
            method=method,
            context=dict(context or {}),
        )
        response = await self._call("ConfirmAudit", request)
        receipt = AuditReceipt(
            response.confirmed,
            response.audit_id,
            response.error,
            response.signature,
            response.attestation,
            response.sequence,
            response.record,
            response.kid,
        )
        if not response.confirmed:
            raise KernelRefused(response.error or "not confirmed", response.audit_id)
        return receipt

    async def submit_routing_log(
        self,
        *,
        session_id: str,
        agent_id: str,
        mode: str,
        genre: str,
        type: str,
        format: str,
        weight: float,
        confidence: str,
        tier: str,
        model: str = "",
        provider: str = "",
        intent_hash: str = "",
        stage: str = "",
        reason: str = "",
        timestamp: int | None = None,
    ) -> str:
        """Record a routing decision; returns its correlation id."""
        request = pb.RoutingLogRequest(
            session_id=session_id,
            agent_id=agent_id,
            timestamp=int(time.time()) if timestamp is None else timestamp,
            mode=mode,
            genre=genre,
            type=type,
            format=format,
            weight=weight,
            confidence=confidence,
            tier=tier,
            model=model,
            provider=provider,
            intent_hash=intent_hash,
            stage=stage,
            reason=reason,
        )
        response = await self._call("SubmitRoutingLog", request)
        if not response.success:
            raise KernelRefused(response.message or "routing log refused", response.correlation_id)
        return str(response.correlation_id)

    async def submit_telemetry(
        self,
        *,
        agent_id: str,
        status: str,
        cpu_usage: float = 0.0,
        memory_usage: float = 0.0,
        tasks_completed: int = 0,
        tasks_failed: int = 0,
        avg_task_duration: float = 0.0,
        tokens_used: int = 0,
        cost_estimate: float = 0.0,
        custom_metrics: Mapping[str, str] | None = None,
        timestamp: int | None = None,
    ) -> str:
        """Record agent status and metrics; returns the correlation id."""
        request = pb.TelemetryRequest(
            agent_id=agent_id,
            timestamp=int(time.time()) if timestamp is None else timestamp,
            status=status,
            cpu_usage=cpu_usage,
            memory_usage=memory_usage,
            tasks_completed=tasks_completed,
            tasks_failed=tasks_failed,
            avg_task_duration=avg_task_duration,
            tokens_used=tokens_used,
            cost_estimate=cost_estimate,
            custom_metrics=dict(custom_metrics or {}),
        )
        response = await self._call("SubmitTelemetry", request)
        if not response.success:
            raise KernelRefused(response.message or "telemetry refused", response.correlation_id)
        return str(response.correlation_id)

    # -- transport -----------------------------------------------------------------------

    async def _call(self, method: str, request: Any) -> Any:
        if not self.breaker.allow():
            raise KernelUnavailable(
                f"kernel at {self.target} is unavailable (circuit open, next probe in "
                f"{self.breaker.retry_in():.0f} s)"
            )
        self._ensure_channel()
        try:
            response = await self._calls[method](request, timeout=self.timeout)
        except grpc.aio.AioRpcError as exc:
            code = exc.code()
            if code in _TRANSPORT_FAILURES:
                self.breaker.record_failure()
            else:
                self.breaker.record_success()
            raise KernelUnavailable(
                f"kernel at {self.target}: {code.name}: {exc.details() or ''}".rstrip()
            ) from None
        except asyncio.CancelledError:
            self.breaker.record_abandoned()
            raise
        except BaseException:
            self.breaker.record_abandoned()
            raise
        self.breaker.record_success()
        return response


def _strip_scheme(target: str) -> str:
    """``host:port`` from what ``VAOS_KERNEL__URL`` may hold (``grpc://host:port`` too)."""
    target = target.strip()
    if target.lower() == "true":  # the original accepted VAOS_KERNEL_URL=true
        return "localhost:50051"
    if target.startswith("grpcs://"):
        raise ValueError(
            "grpcs:// (TLS) is not supported by the kernel client; use host:port on a trusted network"
        )
    if target.startswith("grpc://"):
        return target[len("grpc://") :].rstrip("/")
    return target
