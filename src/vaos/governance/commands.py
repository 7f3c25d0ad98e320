"""Kernel commands: pause, resume and shutdown, obeyed only when signed by the kernel key.

A command is a compact JWS (``alg`` EdDSA, ``typ`` ``vaos-command``, ``kid``) made with the
kernel's ``KeyStore`` over the payload::

    {"type": "pause"|"resume"|"shutdown", "agent_id": "*"|<agent>, "issued_at": <unix s>,
     "exp": <unix s>, "nonce": <16-128 base64url chars>}

On the command queue (``vas_swarm.commands``, routing key ``commands.<type>``) the message body
is JSON: the same fields in clear, for people and logs, plus ``"jws"``. Only the signed
payload is obeyed, and the clear fields, when present, must equal it.

``CommandProcessor.handle`` decodes and checks, in order: size, JSON object, a ``jws`` (else
*unsigned*), the signature against the kernel keys (*bad signature*, *unknown key* for a key
that is not the kernel's, *expired*, wrong algorithm or type), the payload (*unknown type*
outside the allow-list, *invalid* fields, a lifetime above ``command_max_ttl``, issued in the
future), then the nonce (*replayed* when seen before; nonces are kept on disk until their
command expires). A refused command is logged, recorded in the audit ledger (kind
``command_refused``) and dropped; the consumer keeps running. An accepted one is applied by the
``CommandController`` and recorded (kind ``command_obeyed``).

The controller persists the paused state (``vaos.governance.daemon_state``) before it calls
the daemon's callbacks, so a restart stays paused; ``shutdown`` sets ``shutdown_requested``,
on which the daemon drains and exits 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, Field, StrictInt, ValidationError

from vaos.governance.daemon_state import ALL_AGENTS, DaemonStateStore, PauseState
from vaos.governance.errors import GovernanceError, JWSError, KeyStoreError
from vaos.governance.keys import jws_header, verify_jws

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from vaos.config import Settings
    from vaos.events import EventBus
    from vaos.governance.keys import KeyStore
    from vaos.governance.ledger import Ledger
    from vaos.governance.telemetry import Topology

logger = logging.getLogger(__name__)

CommandType = Literal["pause", "resume", "shutdown"]
COMMAND_TYPES: frozenset[str] = frozenset({"pause", "resume", "shutdown"})
COMMAND_TYP = "vaos-command"
MAX_COMMAND_BYTES = 16 * 1024
DEFAULT_TTL = 60
CLOCK_SKEW = 30  # seconds a command may claim to be issued in the future
NONCE_FILE = "command_nonces.jsonl"
_CLEAR_FIELDS = ("type", "agent_id", "issued_at", "exp", "nonce")


class Command(BaseModel):
    """The signed payload of a command."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: CommandType
    agent_id: str = Field(pattern=r"^(\*|[A-Za-z0-9][A-Za-z0-9_.:@-]{0,127})$")
    issued_at: StrictInt
    exp: StrictInt
    nonce: str = Field(pattern=r"^[A-Za-z0-9_-]{16,128}$")
    iss: str | None = Field(default=None, max_length=256)


class CommandSendError(GovernanceError):
    """A command could not be delivered to the broker."""


# -- making commands -----------------------------------------------------------------------


def new_command(
    command_type: str, agent_id: str = ALL_AGENTS, *, ttl: int = DEFAULT_TTL, now: float | None = None
) -> Command:
    """A fresh command (random nonce) valid for ``ttl`` seconds."""
    issued = int(time.time() if now is None else now)
    return Command.model_validate(
        {
            "type": command_type,
            "agent_id": agent_id,
            "issued_at": issued,
            "exp": issued + ttl,
            "nonce": secrets.token_urlsafe(18),
        }
    )


def command_body(keystore: KeyStore, command: Command) -> bytes:
    """The message body: the clear fields plus the compact JWS signed by the active key."""
    payload = command.model_dump(exclude_none=True)
    return orjson.dumps({**payload, "jws": keystore.sign_jws(payload, typ=COMMAND_TYP)})


def command_routing_key(command: Command) -> str:
    return f"commands.{command.type}"


async def send_command(
    settings: Settings, command: Command, body: bytes, *, topology: Topology | None = None
) -> None:
    """Publish one command (persistent, confirmed, routed to the command queue)."""
    import aio_pika

    from vaos.governance.telemetry import APP_ID, CONTENT_TYPE, Topology, declare_topology, redact_url

    url = settings.amqp.url
    if not url:
        raise CommandSendError("no broker configured (set VAOS_AMQP__URL)")
    topology = topology or Topology.with_prefix(settings.amqp.name_prefix)
    timeout = settings.amqp.connect_timeout
    try:
        async with asyncio.timeout(timeout * 4):
            connection = await aio_pika.connect(url, timeout=timeout)
            try:
                channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
                exchange = await declare_topology(channel, topology, timeout)
                message = aio_pika.Message(
                    body,
                    content_type=CONTENT_TYPE,
                    delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
                    message_id=command.nonce,
                    app_id=APP_ID,
                    type=command.type,
                )
                await exchange.publish(message, command_routing_key(command), mandatory=True, timeout=timeout)
            finally:
                with contextlib.suppress(Exception):
                    await connection.close()
    except TimeoutError:
        raise CommandSendError(
            f"the broker at {redact_url(url)} did not answer within {timeout * 4:.0f} s"
        ) from None
    except (OSError, aio_pika.exceptions.AMQPException) as exc:
        raise CommandSendError(
            f"cannot deliver to the broker at {redact_url(url)}: {exc or type(exc).__name__}"
        ) from None


# -- replay protection ---------------------------------------------------------------------


class NonceStore:
    """Nonces of accepted commands, on disk until their command expires (JSON Lines, fsync)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._seen: dict[str, int] = {}
        self._lines = 0
        self._fd = -1

    @classmethod
    def open(cls, path: Path, *, now: float | None = None) -> NonceStore:
        store = cls(path)
        store._load(time.time() if now is None else now)
        return store

    @classmethod
    def for_home(cls, home: Path) -> NonceStore:
        return cls.open(Path(home) / "state" / NONCE_FILE)

    def _load(self, now: float) -> None:
        self.path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        if self.path.exists():
            for line in self.path.read_bytes().splitlines():
                self._lines += 1
                try:
                    entry = orjson.loads(line)
                    nonce, exp = entry["nonce"], entry["exp"]
                except (orjson.JSONDecodeError, KeyError, TypeError):
                    continue  # a torn last line: that command was never obeyed
                if isinstance(nonce, str) and isinstance(exp, int) and exp + CLOCK_SKEW > now:
                    self._seen[nonce] = exp
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)

    def __contains__(self, nonce: object) -> bool:
        return nonce in self._seen

    def __len__(self) -> int:
        return len(self._seen)

    def use(self, nonce: str, exp: int, now: float) -> bool:
        """Record ``nonce`` durably; False when it was already used (a replay)."""
        if nonce in self._seen:
            return False
        for old in [n for n, e in self._seen.items() if e + CLOCK_SKEW <= now]:
            del self._seen[old]
        os.write(self._fd, orjson.dumps({"nonce": nonce, "exp": exp}) + b"\n")
        os.fsync(self._fd)
        self._seen[nonce] = exp
        self._lines += 1
        if self._lines > 1024 and self._lines > 4 * len(self._seen):
            self._compact()
        return True

    def _compact(self) -> None:
        tmp = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        data = b"".join(orjson.dumps({"nonce": n, "exp": e}) + b"\n" for n, e in self._seen.items())
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        os.close(self._fd)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND, 0o600)
        self._lines = len(self._seen)

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


# -- obeying -------------------------------------------------------------------------------


Callback = Callable[[str], Awaitable[None]]


class CommandController:
    """Applies accepted commands: the persisted paused state and the daemon's callbacks.

    ``on_pause(agent_id)`` should stop taking new agent work and finish or checkpoint what
    runs; ``on_resume(agent_id)`` undo it; ``on_shutdown(agent_id)`` is told before
    ``shutdown_requested`` is set, on which the daemon drains and exits 0. ``agent_id`` is
    ``"*"`` for the whole daemon.
    """

    def __init__(
        self,
        store: DaemonStateStore,
        *,
        on_pause: Callback | None = None,
        on_resume: Callback | None = None,
        on_shutdown: Callback | None = None,
    ) -> None:
        self.store = store
        self.state: PauseState = store.load()
        self.on_pause = on_pause
        self.on_resume = on_resume
        self.on_shutdown = on_shutdown
        self.shutdown_requested = asyncio.Event()
        if self.state.paused_all or self.state.paused_agents:
            logger.warning(
                "starting paused (%s); a signed resume command lifts it",
                "whole daemon" if self.state.paused_all else ", ".join(sorted(self.state.paused_agents)),
            )

    @property
    def paused(self) -> bool:
        return self.state.paused_all

    def is_paused(self, agent_id: str | None = None) -> bool:
        return self.state.is_paused(agent_id)

    async def wait_for_shutdown(self) -> None:
        await self.shutdown_requested.wait()

    async def apply(self, command: Command) -> str:
        """Obey ``command``; returns what was done, in a few words."""
        source = f"{command.type} command {command.nonce}"
        if command.type == "pause":
            self.state = self.state.paused(command.agent_id, source)
            self.store.save(self.state)
            await _call(self.on_pause, command.agent_id)
            return f"paused {command.agent_id}"
        if command.type == "resume":
            self.state = self.state.resumed(command.agent_id, source)
            self.store.save(self.state)
            await _call(self.on_resume, command.agent_id)
            return f"resumed {command.agent_id}"
        await _call(self.on_shutdown, command.agent_id)
        self.shutdown_requested.set()
        return "shutdown requested"


async def _call(callback: Callback | None, agent_id: str) -> None:
    if callback is None:
        return
    try:
        await callback(agent_id)
    except Exception:
        logger.exception("command callback %r failed", callback)


class KeySource(Protocol):
    """Where the kernel's public keys come from (``KeyStore`` is one)."""

    def token_keys(self, token_ttl: float, now: float | None = None) -> dict[str, Ed25519PublicKey]: ...

    def reload_if_changed(self) -> bool: ...


AuditSink = Callable[[Mapping[str, Any]], Awaitable[object]]
"""Appends one entry to the audit ledger (``Ledger.append`` has this shape)."""


def ledger_audit(ledger: Ledger) -> AuditSink:
    """The audit sink that appends to the kernel's ledger (``await ledger.append(entry)``)."""

    async def record(entry: Mapping[str, Any]) -> object:
        return await ledger.append(entry)

    return record


@dataclass(frozen=True)
class CommandOutcome:
    """What became of one message: obeyed (``code`` ``"ok"``) or refused, and why."""

    accepted: bool
    code: str
    reason: str
    command: Command | None = None
    effect: str | None = None


class CommandRefusedError(Exception):
    def __init__(self, code: str, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class CommandProcessor:
    """Decodes, verifies and dispatches the messages of the command queue (see the module doc).

    ``handle`` never raises for anything a message can contain, and handles one message at a
    time so that the order of pause and resume is kept.
    """

    def __init__(
        self,
        keys: KeySource,
        nonces: NonceStore,
        controller: CommandController,
        *,
        audit: AuditSink | None = None,
        bus: EventBus | None = None,
        max_ttl: int = 300,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.keys = keys
        self.nonces = nonces
        self.controller = controller
        self.audit = audit
        self.bus = bus
        self.max_ttl = max_ttl
        self.clock = clock
        self.obeyed = 0
        self.refused = 0
        self._lock = asyncio.Lock()

    async def handle(self, body: bytes, message_id: str | None = None) -> CommandOutcome:
        async with self._lock:
            now = self.clock()
            context: dict[str, Any] = {
                "message_id": message_id,
                "body_sha256": hashlib.sha256(body).hexdigest(),
                "body_bytes": len(body),
            }
            try:
                command = self._check(body, now, context)
            except CommandRefusedError as refusal:
                return await self._refuse(refusal, context)
            try:
                effect = await self.controller.apply(command)
            except Exception as exc:  # e.g. the state file cannot be written
                logger.exception("kernel command %s could not be applied", command.type)
                data = {**context, "command_type": command.type, "nonce": command.nonce, "error": str(exc)}
                await self._record(
                    {
                        "kind": "command_failed",
                        "outcome": "failed",
                        "reason": str(exc),
                        "agent_id": command.agent_id,
                        "data": data,
                    }
                )
                return CommandOutcome(False, "failed", str(exc), command)
            self.obeyed += 1
            logger.warning("kernel command obeyed: %s %s (%s)", command.type, command.agent_id, effect)
            data = {
                **context,
                "command_type": command.type,
                "nonce": command.nonce,
                "issued_at": command.issued_at,
                "exp": command.exp,
                "effect": effect,
            }
            await self._record(
                {"kind": "command_obeyed", "outcome": "obeyed", "agent_id": command.agent_id, "data": data}
            )
            await self._emit("command_obeyed", data, command.agent_id)
            return CommandOutcome(True, "ok", effect, command, effect)

    def _check(self, body: bytes, now: float, context: dict[str, Any]) -> Command:
        if len(body) > MAX_COMMAND_BYTES:
            raise CommandRefusedError(
                "too_large", f"command of {len(body)} bytes exceeds {MAX_COMMAND_BYTES}"
            )
        try:
            document = orjson.loads(body)
        except orjson.JSONDecodeError:
            raise CommandRefusedError("malformed", "not JSON") from None
        if not isinstance(document, dict):
            raise CommandRefusedError("malformed", "not a JSON object")
        for name in ("type", "agent_id", "nonce"):
            if isinstance(document.get(name), str):
                context[f"claimed_{name}"] = document[name][:128]
        token = document.get("jws")
        if not isinstance(token, str) or not token:
            raise CommandRefusedError("unsigned", "no signature (jws)")
        with contextlib.suppress(JWSError):
            kid = jws_header(token).get("kid")
            if isinstance(kid, str):
                context["kid"] = kid[:128]
        try:
            self.keys.reload_if_changed()
        except (KeyStoreError, OSError) as exc:
            logger.error("kernel keyring changed but cannot be read; using the keys loaded: %s", exc)
        try:
            payload = verify_jws(token, self.keys.token_keys(self.max_ttl, now), typ=COMMAND_TYP, now=now)
        except JWSError as exc:
            raise CommandRefusedError(_jws_code(str(exc)), str(exc)) from None
        kind = payload.get("type")
        if not isinstance(kind, str) or kind not in COMMAND_TYPES:
            raise CommandRefusedError("unknown_type", f"unknown command type {str(kind)[:64]!r}")
        try:
            command = Command.model_validate(payload)
        except ValidationError as exc:
            error = exc.errors()[0]
            where = ".".join(str(p) for p in error["loc"]) or "payload"
            raise CommandRefusedError("invalid", f"{where}: {error['msg']}") from None
        context.update(command_type=command.type, nonce=command.nonce, agent_id=command.agent_id)
        for name in _CLEAR_FIELDS:
            if name in document and document[name] != payload[name]:
                raise CommandRefusedError("mismatch", f"clear field {name!r} differs from the signed command")
        if command.exp <= now:
            raise CommandRefusedError("expired", "command expired")
        if command.exp - command.issued_at > self.max_ttl:
            raise CommandRefusedError("invalid", f"lifetime above the {self.max_ttl} s allowed")
        if command.issued_at > now + CLOCK_SKEW:
            raise CommandRefusedError("invalid", "issued in the future")
        if command.type == "shutdown" and command.agent_id != ALL_AGENTS:
            raise CommandRefusedError("invalid", "shutdown applies to the whole daemon (agent_id '*')")
        if not self.nonces.use(command.nonce, command.exp, now):
            raise CommandRefusedError("replayed", f"nonce {command.nonce} already used")
        return command

    async def _refuse(self, refusal: CommandRefusedError, context: dict[str, Any]) -> CommandOutcome:
        self.refused += 1
        logger.warning(
            "kernel command refused (%s): %s [message %s]",
            refusal.code,
            refusal.reason,
            context.get("message_id"),
        )
        agent_id = context.pop("agent_id", None)
        data = {**context, "code": refusal.code}
        await self._record(
            {
                "kind": "command_refused",
                "outcome": "refused",
                "reason": refusal.reason,
                "agent_id": agent_id,
                "data": data,
            }
        )
        await self._emit("command_refused", {**data, "reason": refusal.reason}, agent_id)
        return CommandOutcome(False, refusal.code, refusal.reason)

    async def _record(self, entry: Mapping[str, Any]) -> None:
        if self.audit is None:
            return
        try:
            await self.audit(entry)
        except Exception as exc:
            logger.error("audit ledger did not record %s: %s", entry.get("kind"), exc)

    async def _emit(self, event_type: str, data: dict[str, Any], agent_id: str | None) -> None:
        if self.bus is not None:
            await self.bus.emit(event_type, data, agent_id=agent_id)


def _jws_code(reason: str) -> str:
    for prefix, code in (
        ("token expired", "expired"),
        ("bad signature", "bad_signature"),
        ("unknown signing key", "unknown_key"),
        ("no key id", "unknown_key"),
        ("algorithm", "bad_algorithm"),
        ("wrong type", "wrong_type"),
        ("malformed", "malformed_signature"),
        ("no token", "unsigned"),
        ("token not yet valid", "not_yet_valid"),
        ("token issued in the future", "not_yet_valid"),
    ):
        if reason.startswith(prefix):
            return code
    return "bad_signature"
