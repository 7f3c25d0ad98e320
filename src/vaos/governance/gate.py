"""What the rest of VAOS calls: authorise an action, record it, log routing decisions.

``Governance.authorize`` is an async context manager around one action::

    async with governance.authorize("file_write", intent=text, args=args, session_id=sid) as auth:
        result = await write_file(...)      # runs only if allowed (see the modes)
        auth.note("bytes", str(len(data)))  # optional: goes into the audit record

Before the body it asks the kernel for a token bound to agent, intent hash and action type;
after the body (also when it raised) it confirms the audit, so the ledger holds the action,
its outcome and the token that allowed it. The governance mode (``VAOS_GOVERNANCE__MODE``)
decides what happens without a token:

``enforce`` (default)
    no token, no action: ``ActionRefused`` is raised before the body runs, whether the
    kernel refused or could not be reached.
``audit``
    the body runs; the confirmation is sent without a token, and the kernel records the
    action as a refusal whose context says why the token was missing.
``off``
    no kernel calls at all.

``log_routing`` records a classification or routing decision (never raises); ``attach(bus)``
does it for every ``signal_classified`` and ``routing_decided`` event, in the background, so
publishing an event never waits for the kernel.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

import orjson

from vaos.governance.client import AuditReceipt, KernelClient, Token, backoff_delay
from vaos.governance.errors import ActionRefused, KernelRefused, KernelUnavailable
from vaos.signal.intent_hash import envelope_hash, intent_envelope

if TYPE_CHECKING:
    from vaos.config import GovernanceMode, Settings
    from vaos.events import Event, EventBus

logger = logging.getLogger(__name__)

DEFAULT_AGENT = "vaos"
MAX_CONTEXT_VALUE = 8192
ROUTING_QUEUE = 1000
ROUTING_IN_FLIGHT = 16
RETRY_QUEUE = 1000
MAX_CONFIRM_RETRIES = 5
KernelStatus = Literal["up", "down", "disabled"]


@dataclass
class Authorization:
    """One action under governance: its token (if any) and, after it, its audit receipt."""

    action_type: str
    agent_id: str
    intent_hash: str
    action_id: str
    mode: str
    session_id: str | None = None
    user: str | None = None
    token: Token | None = None
    missing_reason: str | None = None
    refusal_id: str = ""
    receipt: AuditReceipt | None = None
    audit_error: str | None = None
    context: dict[str, str] = field(default_factory=dict)

    @property
    def granted(self) -> bool:
        return self.token is not None

    @property
    def audit_id(self) -> str | None:
        return self.receipt.audit_id if self.receipt is not None else (self.refusal_id or None)

    def note(self, key: str, value: str) -> None:
        """Add ``key: value`` to the context of the audit record."""
        self.context[str(key)] = str(value)[:MAX_CONTEXT_VALUE]


class Governance:
    """The governance gate: one per process, shared by every agent and tool."""

    def __init__(
        self,
        client: KernelClient | None,
        *,
        mode: GovernanceMode = "enforce",
        agent_id: str = DEFAULT_AGENT,
        bus: EventBus | None = None,
    ) -> None:
        if mode != "off" and client is None:
            raise ValueError(f"governance mode {mode!r} needs a kernel client")
        self.client = client
        self.mode: GovernanceMode = mode
        self.agent_id = agent_id
        self.bus = bus
        self.routing_dropped = 0
        self.routing_failed = 0
        self.confirms_dropped = 0
        self._routing_ok = True
        self._routing: collections.deque[dict[str, Any]] = collections.deque()
        self._retries: collections.deque[tuple[int, dict[str, Any]]] = collections.deque()
        self._routing_task: asyncio.Task[None] | None = None
        self._retry_task: asyncio.Task[None] | None = None

    # -- actions -------------------------------------------------------------------------

    @contextlib.asynccontextmanager
    async def authorize(
        self,
        action_type: str,
        *,
        intent: str = "",
        intent_hash: str | None = None,
        args: Any = None,
        agent_id: str | None = None,
        session_id: str | None = None,
        user: str | None = None,
        action_id: str | None = None,
        method: str | None = None,
        metadata: Mapping[str, str] | None = None,
    ) -> AsyncIterator[Authorization]:
        """Token before, audit after; see the module docstring for the modes."""
        agent = agent_id or self.agent_id
        auth = Authorization(
            action_type=action_type,
            agent_id=agent,
            intent_hash=intent_hash or "",
            action_id=action_id or uuid.uuid4().hex,
            mode=self.mode,
            session_id=session_id,
            user=user,
        )
        if self.mode == "off" or self.client is None:
            yield auth
            return
        if not intent_hash:
            envelope = intent_envelope(
                intent, agent_id=agent, action_type=action_type, session_id=session_id, args=_jsonable(args)
            )
            auth.intent_hash = envelope_hash(envelope)
            encoded = orjson.dumps(envelope).decode()
            if len(encoded) <= MAX_CONTEXT_VALUE:
                auth.context["intent_envelope"] = encoded
        if session_id:
            auth.context["session_id"] = session_id
        token_metadata = {"session_id": session_id} if session_id else {}
        token_metadata.update(metadata or {})
        try:
            auth.token = await self.client.request_token(agent, auth.intent_hash, action_type, token_metadata)
        except KernelRefused as exc:
            auth.missing_reason, auth.refusal_id = exc.reason, exc.refusal_id
        except KernelUnavailable as exc:
            auth.missing_reason = str(exc)
        if auth.token is None:
            reason = auth.missing_reason or "no token"
            if self.mode == "enforce":
                raise ActionRefused(action_type, reason, auth.refusal_id)
            logger.warning("audit mode: %s proceeds without a token (%s)", action_type, reason)
        started = time.time()
        outcome = "ok"
        try:
            yield auth
        except BaseException as exc:
            outcome = "error"
            auth.context["error_type"] = type(exc).__name__
            raise
        finally:
            await self._confirm(auth, started, outcome, method or action_type)

    async def _confirm(self, auth: Authorization, started: float, outcome: str, method: str) -> None:
        assert self.client is not None
        context = dict(auth.context)
        context.update(
            outcome=outcome,
            duration_ms=str(round((time.time() - started) * 1000)),
            governance_mode=self.mode,
            action_type=auth.action_type,
        )
        if auth.missing_reason:
            context["missing_token_reason"] = auth.missing_reason[:MAX_CONTEXT_VALUE]
        request: dict[str, Any] = {
            "agent_id": auth.agent_id,
            "action_id": auth.action_id,
            "intent_hash": auth.intent_hash,
            "jwt_token": auth.token.token if auth.token else "",
            "performed_at": int(started),
            "performed_by": auth.user or auth.agent_id,
            "method": method,
            "context": context,
        }
        try:
            auth.receipt = await self.client.confirm_audit(**request)
        except KernelRefused as exc:
            auth.audit_error, auth.refusal_id = exc.reason, exc.refusal_id
            if auth.token is not None:
                logger.warning("audit of %s %s refused: %s", auth.action_type, auth.action_id, exc.reason)
            return
        except KernelUnavailable as exc:
            auth.audit_error = str(exc)
            logger.warning(
                "audit of %s %s not recorded yet (%s); will retry", auth.action_type, auth.action_id, exc
            )
            self._queue_retry(request)
            return
        if self.bus is not None:
            await self.bus.emit(
                "audit_recorded",
                {
                    "audit_id": auth.receipt.audit_id,
                    "sequence": auth.receipt.sequence,
                    "action_type": auth.action_type,
                    "action_id": auth.action_id,
                    "outcome": outcome,
                },
                session_id=auth.session_id,
                agent_id=auth.agent_id,
            )

    def _queue_retry(self, request: dict[str, Any]) -> None:
        if len(self._retries) >= RETRY_QUEUE:
            self._retries.popleft()
            self.confirms_dropped += 1
            logger.error("audit retry queue full: an unrecorded confirmation was dropped")
        self._retries.append((0, request))
        if self._retry_task is None or self._retry_task.done():
            self._retry_task = asyncio.get_running_loop().create_task(
                self._retry_loop(), name="vaos-audit-retry"
            )

    async def _retry_loop(self) -> None:
        assert self.client is not None
        while self._retries:
            attempt, request = self._retries[0]
            await asyncio.sleep(backoff_delay(attempt))
            try:
                await self.client.confirm_audit(**request)
            except KernelUnavailable:
                if attempt + 1 >= MAX_CONFIRM_RETRIES:
                    self._retries.popleft()
                    self.confirms_dropped += 1
                    logger.error(
                        "audit of %s could not be recorded: kernel unreachable", request["action_id"]
                    )
                else:
                    self._retries[0] = (attempt + 1, request)
                continue
            except KernelRefused as exc:  # e.g. the token expired meanwhile: the refusal is recorded
                logger.warning("late audit of %s refused: %s", request["action_id"], exc.reason)
            self._retries.popleft()

    # -- routing -------------------------------------------------------------------------

    async def log_routing(
        self,
        *,
        session_id: str | None = None,
        agent_id: str | None = None,
        signal: Mapping[str, Any] | None = None,
        tier: str | None = None,
        provider: str = "",
        model: str = "",
        stage: str = "routed",
        reason: str = "",
        intent_hash: str | None = None,
    ) -> str | None:
        """Record one classification or routing decision; the correlation id, or None when
        governance is off or the kernel did not take it (never raises)."""
        if self.mode == "off" or self.client is None:
            return None
        sig = signal or {}
        try:
            correlation_id = await self.client.submit_routing_log(
                session_id=session_id or "",
                agent_id=agent_id or self.agent_id,
                mode=str(sig.get("mode") or ""),
                genre=str(sig.get("genre") or ""),
                type=str(sig.get("type") or ""),
                format=str(sig.get("format") or ""),
                weight=_weight(sig.get("weight")),
                confidence=str(sig.get("confidence") or ""),
                tier=str(tier or sig.get("tier") or ""),
                model=model or "",
                provider=provider or "",
                intent_hash=str(intent_hash or sig.get("intent_hash") or ""),
                stage=stage,
                reason=reason or "",
            )
        except (KernelUnavailable, KernelRefused) as exc:
            self.routing_failed += 1
            level = logging.WARNING if self._routing_ok else logging.DEBUG  # once per outage
            logger.log(level, "routing decision not logged: %s", exc)
            self._routing_ok = isinstance(exc, KernelRefused)
            return None
        self._routing_ok = True
        return correlation_id

    def log_routing_nowait(self, **fields: Any) -> None:
        """Queue a ``log_routing`` call for the background sender (bounded, drops the oldest)."""
        if self.mode == "off" or self.client is None:
            return
        if len(self._routing) >= ROUTING_QUEUE:
            self._routing.popleft()
            self.routing_dropped += 1
        self._routing.append(fields)
        if self._routing_task is None or self._routing_task.done():
            self._routing_task = asyncio.get_running_loop().create_task(
                self._routing_loop(), name="vaos-routing-log"
            )

    async def _routing_loop(self) -> None:
        while self._routing:  # up to ROUTING_IN_FLIGHT calls at a time, started in order
            batch = [self._routing.popleft() for _ in range(min(len(self._routing), ROUTING_IN_FLIGHT))]
            await asyncio.gather(*(self.log_routing(**fields) for fields in batch))

    async def flush(self) -> None:
        """Wait until queued routing logs are sent (tests, shutdown)."""
        task = self._routing_task
        if task is not None and not task.done():
            await task

    def attach(self, bus: EventBus) -> Callable[[], None]:
        """Log every ``signal_classified`` and ``routing_decided`` event; returns an unsubscribe."""
        return bus.subscribe(self._on_event, ("signal_classified", "routing_decided"))

    async def _on_event(self, event: Event) -> None:
        data = event.data
        decision: dict[str, Any] = data["decision"] if isinstance(data.get("decision"), dict) else data
        signal: dict[str, Any] = data["signal"] if isinstance(data.get("signal"), dict) else {}
        routed = event.type == "routing_decided"
        self.log_routing_nowait(
            session_id=event.session_id,
            agent_id=event.agent_id,
            signal=signal,
            tier=decision.get("tier") if routed else None,
            provider=str(decision.get("provider") or "") if routed else "",
            model=str(decision.get("model") or "") if routed else "",
            stage="routed" if routed else "classified",
            reason=_reason(decision.get("reason") or decision.get("why")) if routed else "",
        )

    # -- state ---------------------------------------------------------------------------

    def kernel_status(self) -> KernelStatus:
        """For ``/health``: ``disabled`` when off, else whether the kernel is reachable."""
        if self.mode == "off" or self.client is None:
            return "disabled"
        return "up" if self.client.connectivity() == "up" else "down"

    async def aclose(self) -> None:
        """Send what is queued (routing logs; pending audit retries get one last try)."""
        await self.flush()
        if self._retry_task is not None and not self._retry_task.done():
            self._retry_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._retry_task
        if self.client is not None:
            while self._retries:
                _, request = self._retries.popleft()
                with contextlib.suppress(KernelUnavailable, KernelRefused):
                    await self.client.confirm_audit(**request)


@contextlib.asynccontextmanager
async def open_governance(
    settings: Settings | None = None,
    *,
    bus: EventBus | None = None,
    agent_id: str = DEFAULT_AGENT,
    embed: bool = True,
) -> AsyncIterator[Governance]:
    """The gate for this process, from the settings.

    Mode ``off``: no kernel. ``VAOS_KERNEL__URL`` set: a client to that kernel. Otherwise,
    with ``embed``, a kernel is started in this process on loopback (``vaos serve``).
    With ``bus``, every classified and routed message is logged through it.
    """
    from vaos.config import get_settings

    settings = settings or get_settings()
    mode = settings.governance.mode
    if mode == "off":
        yield Governance(None, mode="off", agent_id=agent_id, bus=bus)
        return
    server = None
    target = settings.kernel.url
    if not target:
        if not embed:
            raise KernelUnavailable("no kernel: VAOS_KERNEL__URL is unset and embedding is disabled")
        from vaos.governance.server import KernelServer

        host = (
            settings.kernel.host if settings.kernel.host in ("127.0.0.1", "::1", "localhost") else "127.0.0.1"
        )
        server = await KernelServer.from_settings(settings, host=host).start()
        target = server.address
    client = KernelClient(target, timeout=settings.kernel.timeout)
    gate = Governance(client, mode=mode, agent_id=agent_id, bus=bus)
    unsubscribe = gate.attach(bus) if bus is not None else None
    try:
        yield gate
    finally:
        if unsubscribe is not None:
            unsubscribe()
        await gate.aclose()
        await client.close()
        if server is not None:
            await server.stop()


def _jsonable(value: Any) -> Any:
    """``value`` as plain JSON data (what the intent envelope can hash)."""
    if value is None:
        return None
    return orjson.loads(orjson.dumps(value, default=str, option=orjson.OPT_NON_STR_KEYS))


def _reason(value: Any) -> str:
    """A routing decision's why: a string, or a list of reasons joined."""
    if isinstance(value, (list, tuple)):
        return "; ".join(str(v) for v in value)
    return str(value or "")


def _weight(value: Any) -> float:
    try:
        weight = float(value)
    except (TypeError, ValueError):
        return 0.0
    return min(max(weight, 0.0), 1.0) if weight == weight else 0.0
