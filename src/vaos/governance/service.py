"""The kernel's four RPCs, independent of the transport (``server.py`` serves them on gRPC).

Every request ends in the ledger: a granted token (``token_issued``), a refused one
(``token_refused``), a confirmed action (``audit_confirmed``), a refused confirmation
(``audit_refused``), a routing decision (``routing_log``), telemetry (``telemetry``), and the
refusals of malformed routing logs and telemetry. A request is answered only after its
record is durable; when the ledger cannot write, tokens and confirmations are refused.
"""

from __future__ import annotations

import hashlib
import logging
import re
import struct
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from vaos.governance._pb import kernel_pb2 as pb
from vaos.governance.errors import GovernanceError, JWSError
from vaos.governance.keys import jws_header
from vaos.governance.ledger import AppendedRecord, Ledger, recent_records
from vaos.governance.policy import Policy
from vaos.governance.tokens import JtiRegistry, TokenIssuer

logger = logging.getLogger(__name__)

INTENT_HASH = re.compile(r"[0-9a-f]{64}")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
MAX_NAME = 256
MAX_MAP_ENTRIES = 64
MAX_MAP_KEY = 128
MAX_MAP_VALUE = 8192
MAX_TOKEN = 8192
MAX_TEXT = 2048
CONTEMPORANEOUS_SLACK = 5  # seconds of clock difference tolerated between agent and kernel
REPLAY_MARGIN = 60
# Grants are recorded in groups: one signed record holds every token issued during one commit.
_GRANTS_RECORD = {"kind": "tokens_issued", "outcome": "granted"}


class KernelService:
    """RequestToken, SubmitTelemetry, SubmitRoutingLog, ConfirmAudit.

    Each method takes the request message (and the gRPC context, unused) and returns the
    response message; refusals are answers, not exceptions.
    """

    def __init__(
        self,
        issuer: TokenIssuer,
        policy: Policy,
        ledger: Ledger,
        *,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.issuer = issuer
        self.policy = policy
        self.ledger = ledger
        self.clock = clock
        self.used = JtiRegistry(clock)
        self.replay_horizon = 0.0

    def restore_used_tokens(self, window: float) -> int:
        """Reload ``jti``s confirmed within ``window`` seconds, so a restart allows no replay.

        Tokens issued before the window cannot be checked and are refused.
        """
        now = self.clock()
        self.replay_horizon = now - window
        since = _rfc3339(self.replay_horizon)
        restored = 0
        for body in recent_records(self.ledger.directory, since):
            data = body.get("data")
            if body.get("kind") == "audit_confirmed" and isinstance(data, dict):
                jti, exp = data.get("jti"), data.get("token_exp")
                if isinstance(jti, str) and isinstance(exp, (int, float)) and exp > now:
                    self.used.consume(jti, exp)
                    restored += 1
        return restored

    # -- RequestToken --------------------------------------------------------------------

    async def request_token(self, req: pb.TokenRequest, grpc_context: Any = None) -> pb.TokenResponse:
        agent_id, intent_hash, action_type = req.agent_id, req.intent_hash, req.action_type
        metadata = dict(req.metadata) if req.metadata else {}
        problem = (
            _check_name("agent_id", agent_id)
            or _check_name("action_type", action_type)
            or _check_intent_hash(intent_hash)
            or (_check_map("metadata", metadata) if metadata else None)
        )
        if problem is None:
            decision = self.policy.decide(agent_id, action_type)
            problem = decision.reason if not decision.allowed else None
        if problem is not None:
            fields = {
                "agent_id": _clip(agent_id),
                "action_type": _clip(action_type),
                "intent_hash": _clip(intent_hash),
                "session_id": _clip(metadata.get("session_id")),
            }
            refusal = await self._refuse("token_refused", problem, fields, {"metadata": _clip_map(metadata)})
            return pb.TokenResponse(error=problem, refusal_id=refusal)
        issued = self.issuer.issue(agent_id, intent_hash, action_type)
        grant = {
            "jti": issued.jti,
            "agent_id": agent_id,
            "action_type": action_type,
            "intent_hash": intent_hash,
            "iat": issued.issued_at,
            "exp": issued.expires_at,
            "kid": issued.kid,
        }
        if metadata:
            grant["metadata"] = metadata
        try:
            await self.ledger.append_grouped(_GRANTS_RECORD, "grants", grant)
        except GovernanceError as exc:
            logger.error(
                "token for %s/%s refused: the ledger cannot record it (%s)", agent_id, action_type, exc
            )
            return pb.TokenResponse(error="the audit ledger is unavailable; no token without a record")
        return pb.TokenResponse(
            token=issued.token, expires_at=issued.expires_at, scope=issued.scope, token_id=issued.jti
        )

    # -- ConfirmAudit --------------------------------------------------------------------

    async def confirm_audit(self, req: pb.AuditConfirmation, grpc_context: Any = None) -> pb.AuditResponse:
        context = dict(req.context)
        asserted = {
            "attributable": req.attributable,
            "legible": req.legible,
            "contemporaneous": req.contemporaneous,
            "original": req.original,
            "accurate": req.accurate,
        }
        fields: dict[str, Any] = {
            "agent_id": _clip(req.agent_id),
            "user": _clip(req.performed_by),
            "session_id": _clip(context.get("session_id")),
            "action_id": _clip(req.action_id),
            "intent_hash": _clip(req.intent_hash),
        }
        data: dict[str, Any] = {
            "performed_at": req.performed_at,
            "method": _clip(req.method),
            "asserted": asserted,
        }
        problem = (
            _check_name("agent_id", req.agent_id)
            or _check_name("action_id", req.action_id)
            or _check_intent_hash(req.intent_hash)
            or _check_text("performed_by", req.performed_by, MAX_NAME)
            or _check_text("method", req.method, MAX_NAME)
            or _check_map("context", context)
            or (None if req.jwt_token else "no token presented")
            or _check_text("jwt_token", req.jwt_token, MAX_TOKEN)
        )
        claims: dict[str, Any] = {}
        if problem is None:
            try:
                claims = self.issuer.verify(req.jwt_token, agent_id=req.agent_id, intent_hash=req.intent_hash)
            except JWSError as exc:
                problem = str(exc)
        if problem is None:
            fields["action_type"] = claims["action_type"]
            decision = self.policy.decide(req.agent_id, claims["action_type"])
            if not decision.allowed:
                problem = decision.reason
            elif claims["iat"] < self.replay_horizon:
                problem = "token predates the kernel's replay window"
            elif not self.used.consume(claims["jti"], claims["exp"]):
                problem = "token already used (replayed jti)"
        if problem is not None:
            data["context"] = _clip_map(context)
            data["token"] = _token_summary(req.jwt_token)
            rec = await self._refuse_record("audit_refused", problem, fields, data)
            return _audit_response(rec, confirmed=False, error=problem)
        now = self.clock()
        data.update(
            jti=claims["jti"],
            token_kid=jws_header(req.jwt_token).get("kid"),
            token_iat=claims["iat"],
            token_exp=claims["exp"],
            context=context,
            checks={
                "attributable": bool(req.agent_id and req.performed_by),
                "contemporaneous": req.performed_at > 0
                and claims["iat"] - CONTEMPORANEOUS_SLACK <= req.performed_at <= now + CONTEMPORANEOUS_SLACK,
                "accurate": True,  # agent, intent hash and action type match the verified token
                "original": True,  # the token's first and only use
            },
        )
        try:
            rec = await self.ledger.append(
                {"kind": "audit_confirmed", "outcome": "confirmed", **fields, "data": data}
            )
        except GovernanceError as exc:
            logger.error("audit confirmation not recorded: %s", exc)
            return pb.AuditResponse(confirmed=False, error="the audit ledger is unavailable")
        return _audit_response(rec, confirmed=True)

    # -- SubmitRoutingLog ----------------------------------------------------------------

    async def submit_routing_log(
        self, req: pb.RoutingLogRequest, grpc_context: Any = None
    ) -> pb.RoutingLogResponse:
        fields = {
            "agent_id": _clip(req.agent_id),
            "session_id": _clip(req.session_id),
            "intent_hash": _clip(req.intent_hash),
        }
        data = {
            "stage": _clip(req.stage),
            "timestamp": req.timestamp,
            "mode": _clip(req.mode),
            "genre": _clip(req.genre),
            "type": _clip(req.type),
            "format": _clip(req.format),
            "weight": _float32(req.weight),
            "confidence": _clip(req.confidence),
            "tier": _clip(req.tier),
            "model": _clip(req.model),
            "provider": _clip(req.provider),
            "reason": _clip(req.reason, MAX_TEXT),
        }
        problem = _check_name("agent_id", req.agent_id) or (
            _check_intent_hash(req.intent_hash) if req.intent_hash else None
        )
        for name in (
            "session_id",
            "mode",
            "genre",
            "type",
            "format",
            "confidence",
            "tier",
            "model",
            "provider",
        ):
            problem = problem or _check_text(name, getattr(req, name), MAX_NAME)
        problem = problem or _check_text("reason", req.reason, MAX_TEXT) or _check_weight(req.weight)
        if problem is not None:
            refusal = await self._refuse("routing_log_refused", problem, fields, data)
            return pb.RoutingLogResponse(success=False, message=problem, correlation_id=refusal)
        try:
            rec = await self.ledger.append(
                {"kind": "routing_log", "outcome": "recorded", **fields, "data": data}
            )
        except GovernanceError as exc:
            return pb.RoutingLogResponse(success=False, message=f"not recorded: {exc}")
        return pb.RoutingLogResponse(success=True, message="routing log recorded", correlation_id=rec.id)

    # -- SubmitTelemetry -----------------------------------------------------------------

    async def submit_telemetry(
        self, req: pb.TelemetryRequest, grpc_context: Any = None
    ) -> pb.TelemetryResponse:
        custom = dict(req.custom_metrics)
        fields = {"agent_id": _clip(req.agent_id)}
        data = {
            "timestamp": req.timestamp,
            "status": _clip(req.status),
            "cpu_usage": _float32(req.cpu_usage),
            "memory_usage": _float32(req.memory_usage),
            "tasks_completed": req.tasks_completed,
            "tasks_failed": req.tasks_failed,
            "avg_task_duration": _float32(req.avg_task_duration),
            "tokens_used": req.tokens_used,
            "cost_estimate": _float32(req.cost_estimate),
            "custom_metrics": _clip_map(custom),
        }
        problem = (
            _check_name("agent_id", req.agent_id)
            or _check_name("status", req.status)
            or _check_map("custom_metrics", custom)
        )
        if problem is not None:
            refusal = await self._refuse("telemetry_refused", problem, fields, data)
            return pb.TelemetryResponse(success=False, message=problem, correlation_id=refusal)
        try:
            rec = await self.ledger.append(
                {"kind": "telemetry", "outcome": "recorded", **fields, "data": data}
            )
        except GovernanceError as exc:
            return pb.TelemetryResponse(success=False, message=f"not recorded: {exc}")
        return pb.TelemetryResponse(success=True, message="telemetry received", correlation_id=rec.id)

    # -- refusals ------------------------------------------------------------------------

    async def _refuse(
        self, kind: str, reason: str, fields: Mapping[str, Any], data: Mapping[str, Any]
    ) -> str:
        rec = await self._refuse_record(kind, reason, fields, data)
        return rec.id if rec is not None else ""

    async def _refuse_record(
        self, kind: str, reason: str, fields: Mapping[str, Any], data: Mapping[str, Any]
    ) -> AppendedRecord | None:
        try:
            return await self.ledger.append(
                {"kind": kind, "outcome": "refused", "reason": reason, **fields, "data": dict(data)}
            )
        except GovernanceError as exc:
            logger.error("refusal (%s: %s) not recorded: %s", kind, reason, exc)
            return None


def _audit_response(rec: AppendedRecord | None, *, confirmed: bool, error: str = "") -> pb.AuditResponse:
    if rec is None:
        return pb.AuditResponse(confirmed=False, error=error + " (refusal not recorded: ledger unavailable)")
    return pb.AuditResponse(
        confirmed=confirmed,
        audit_id=rec.id,
        error=error,
        signature=rec.signature,
        attestation=rec.hash,
        sequence=rec.seq,
        record=rec.body.decode("utf-8"),
        kid=rec.kid,
    )


# -- validation ----------------------------------------------------------------------------


def _check_name(name: str, value: str) -> str | None:
    if not value:
        return f"{name} is required"
    return _check_text(name, value, MAX_NAME)


def _check_text(name: str, value: str, limit: int) -> str | None:
    if len(value) > limit:
        return f"{name} is longer than {limit} characters"
    if _CONTROL.search(value):
        return f"{name} contains control characters"
    return None


def _check_intent_hash(value: str) -> str | None:
    if not INTENT_HASH.fullmatch(value):
        return "intent_hash must be 64 lowercase hex digits (SHA-256)"
    return None


def _check_map(name: str, values: Mapping[str, str]) -> str | None:
    if len(values) > MAX_MAP_ENTRIES:
        return f"{name} has more than {MAX_MAP_ENTRIES} entries"
    for key, value in values.items():
        if len(key) > MAX_MAP_KEY or len(value) > MAX_MAP_VALUE:
            return f"{name} entry {key[:40]!r} is over the size limit ({MAX_MAP_KEY} / {MAX_MAP_VALUE})"
    return None


def _check_weight(value: float) -> str | None:
    if not 0.0 <= value <= 1.0:  # also refuses NaN
        return "weight must be between 0.0 and 1.0"
    return None


def _clip(value: str | None, limit: int = MAX_NAME) -> str | None:
    """What a record keeps of an untrusted string: at most ``limit`` characters, or None."""
    if not value:
        return None
    return value if len(value) <= limit else value[:limit] + "…"


def _clip_map(values: Mapping[str, str]) -> dict[str, str]:
    clipped: dict[str, str] = {}
    for key, value in list(values.items())[:MAX_MAP_ENTRIES]:
        clipped[key[:MAX_MAP_KEY]] = value if len(value) <= MAX_MAP_VALUE else value[:MAX_MAP_VALUE] + "…"
    return clipped


def _float32(value: float) -> float | None:
    """The shortest decimal that reads back as the same 32-bit float (None for NaN/inf)."""
    if value != value or value in (float("inf"), float("-inf")):
        return None
    packed = struct.pack("<f", value)
    for digits in range(1, 10):
        candidate = float(f"{value:.{digits}g}")
        if struct.pack("<f", candidate) == packed:
            return candidate
    return value


def _token_summary(token: str) -> dict[str, Any] | None:
    """What a refusal keeps of a presented token: its hash and unverified header/ids."""
    if not token:
        return None
    summary: dict[str, Any] = {"sha256": hashlib.sha256(token.encode("utf-8", "replace")).hexdigest()}
    try:
        header = jws_header(token)
    except JWSError:
        return summary
    summary["alg"] = _clip(str(header.get("alg")), 32)
    summary["kid"] = _clip(str(header.get("kid")), 64)
    return summary


def _rfc3339(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")
