"""The kernel process: ``KernelService`` on ``grpc.aio``, and the JWKS over HTTP.

``KernelServer`` owns everything the kernel needs: the key store (``$VAOS_HOME/keys``), the
policy, the ledger (``$VAOS_HOME/ledger``, locked against a second kernel), the gRPC server
(default 127.0.0.1:50051) and the JWKS endpoint ``GET /.well-known/jwks.json`` (default port
50052). ``vaos kernel serve`` runs one alone; ``vaos serve`` embeds one on loopback.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

import grpc

from vaos import __version__
from vaos.governance._pb import kernel_pb2 as pb
from vaos.governance.errors import GovernanceError
from vaos.governance.keys import KeyStore
from vaos.governance.ledger import Ledger
from vaos.governance.policy import Policy
from vaos.governance.service import REPLAY_MARGIN, KernelService
from vaos.governance.tokens import DEFAULT_AUDIENCE, DEFAULT_ISSUER, TokenIssuer

if TYPE_CHECKING:
    from aiohttp import web

    from vaos.config import Settings

logger = logging.getLogger(__name__)

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["KernelService"].full_name
JWKS_PATH = "/.well-known/jwks.json"
KEY_RELOAD_SECONDS = 1.0
MAX_MESSAGE_BYTES = 1 << 20


class KernelStartError(GovernanceError):
    """The kernel could not start (address in use, ledger locked, bad keys or policy)."""


def format_address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host and not host.startswith("[") else f"{host}:{port}"


class KernelServer:
    """Start with ``await server.start()`` (or ``async with``); stop with ``await server.stop()``."""

    def __init__(
        self,
        home: Path,
        *,
        host: str = "127.0.0.1",
        port: int = 50051,
        jwks_port: int | None = 50052,
        token_ttl: int = 60,
        policy: Policy | None = None,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
    ) -> None:
        self.home = Path(home)
        self.host = host
        self.port = port
        self.jwks_port = jwks_port
        self.token_ttl = token_ttl
        self.policy = policy
        self.issuer_name = issuer
        self.audience = audience
        self.keystore: KeyStore | None = None
        self.ledger: Ledger | None = None
        self.service: KernelService | None = None
        self._grpc: Any = None
        self._http: web.AppRunner | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._stopped = asyncio.Event()

    @classmethod
    def from_settings(cls, settings: Settings, **overrides: Any) -> KernelServer:
        """A server configured from ``settings.kernel``; keyword arguments override it."""
        options: dict[str, Any] = {
            "host": settings.kernel.host,
            "port": settings.kernel.port,
            "jwks_port": settings.kernel.jwks_port,
            "token_ttl": settings.kernel.token_ttl,
        }
        options.update({k: v for k, v in overrides.items() if v is not None})
        return cls(settings.home, **options)

    # -- addresses -----------------------------------------------------------------------

    @property
    def address(self) -> str:
        """``host:port`` of the gRPC service (the bound port once started)."""
        return format_address(self.host, self.port)

    @property
    def jwks_url(self) -> str | None:
        if self.jwks_port is None:
            return None
        host = "127.0.0.1" if self.host in ("0.0.0.0", "") else self.host
        return f"http://{format_address(host, self.jwks_port)}{JWKS_PATH}"

    # -- lifecycle -----------------------------------------------------------------------

    async def start(self) -> KernelServer:
        try:
            await self._start()
        except BaseException:
            await self.stop()
            raise
        return self

    async def _start(self) -> None:
        try:
            self.keystore = KeyStore.open(self.home / "keys")
            policy = self.policy or Policy.load(home=self.home)
            self.ledger = Ledger.open(self.home / "ledger", self.keystore)
        except GovernanceError as exc:
            raise KernelStartError(str(exc)) from exc
        issuer = TokenIssuer(
            self.keystore, ttl=self.token_ttl, issuer=self.issuer_name, audience=self.audience
        )
        self.service = KernelService(issuer, policy, self.ledger)
        self.service.restore_used_tokens(max(self.token_ttl, _last_ttl(self.ledger)) + REPLAY_MARGIN)
        if self.ledger.writer.recovered:
            logger.warning("ledger recovered a torn write: %s", self.ledger.writer.recovered)
        self._grpc = grpc.aio.server(
            options=[
                ("grpc.so_reuseport", 0),
                ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
                ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
            ]
        )
        self._grpc.add_generic_rpc_handlers((_handlers(self.service),))
        _check_free(self.host, self.port)
        try:
            bound = self._grpc.add_insecure_port(format_address(self.host, self.port))
        except RuntimeError as exc:
            raise KernelStartError(f"cannot listen on {self.address}: {exc}") from None
        if not bound:
            raise KernelStartError(f"cannot listen on {self.address}")
        self.port = bound
        await self._grpc.start()
        if self.jwks_port is not None:
            await self._start_jwks()
        await self.ledger.append(
            {
                "kind": "kernel_started",
                "outcome": "recorded",
                "data": {
                    "version": __version__,
                    "pid": os.getpid(),
                    "grpc": self.address,
                    "jwks": self.jwks_url,
                    "token_ttl": self.token_ttl,
                    "issuer": self.issuer_name,
                    "audience": self.audience,
                    "policy": {"source": policy.source, "sha256": policy.sha256},
                    "active_kid": self.keystore.active.kid,
                    "keys": self.keystore.jwks_all()["keys"],
                },
            }
        )
        self._tasks.append(asyncio.create_task(self._watch_keys(), name="vaos-kernel-keys"))
        logger.info("kernel listening on %s (JWKS %s)", self.address, self.jwks_url)

    async def _start_jwks(self) -> None:
        from aiohttp import web

        keystore = self.keystore
        assert keystore is not None
        ttl = self.token_ttl

        async def jwks(_: web.Request) -> web.Response:
            return web.json_response(keystore.jwks(ttl), headers={"Cache-Control": "max-age=30"})

        async def health(_: web.Request) -> web.Response:
            return web.json_response({"status": "ok"})

        app = web.Application()
        app.router.add_get(JWKS_PATH, jwks)
        app.router.add_get("/health", health)
        self._http = web.AppRunner(app, access_log=None, handle_signals=False)
        await self._http.setup()
        site = web.TCPSite(self._http, self.host, self.jwks_port, reuse_port=False)
        try:
            await site.start()
        except OSError as exc:
            raise KernelStartError(
                f"cannot serve the JWKS on port {self.jwks_port}: {exc.strerror}"
            ) from None
        address = self._http.addresses[0]
        self.jwks_port = int(address[1])

    async def _watch_keys(self) -> None:
        while True:
            await asyncio.sleep(KEY_RELOAD_SECONDS)
            await self.reload_keys()

    async def reload_keys(self) -> bool:
        """Pick up a key rotated by another process (``vaos kernel rotate-key``)."""
        assert self.keystore is not None and self.ledger is not None
        before = self.keystore.active.kid
        try:
            changed = self.keystore.reload_if_changed()
        except GovernanceError as exc:
            logger.error("keyring changed but cannot be loaded; keeping the current keys: %s", exc)
            return False
        if changed and self.keystore.active.kid != before:
            logger.info("kernel key rotated: %s -> %s", before, self.keystore.active.kid)
            await self.ledger.append(
                {
                    "kind": "key_rotated",
                    "outcome": "recorded",
                    "data": {
                        "previous_kid": before,
                        "active_kid": self.keystore.active.kid,
                        "jwk": self.keystore.active.jwk(),
                    },
                }
            )
        return changed

    async def stop(self, grace: float = 1.0) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        if self._grpc is not None:
            await self._grpc.stop(grace)
            self._grpc = None
        if self._http is not None:
            await self._http.cleanup()
            self._http = None
        if self.ledger is not None:
            await self.ledger.close()
            self.ledger = None
        self._stopped.set()

    async def wait_stopped(self) -> None:
        await self._stopped.wait()

    async def __aenter__(self) -> KernelServer:
        return await self.start()

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.stop()


def _handlers(service: KernelService) -> Any:
    def unary(method: Callable[[Any, Any], Awaitable[Any]], request: Any, response: Any) -> Any:
        return grpc.unary_unary_rpc_method_handler(
            method, request_deserializer=request.FromString, response_serializer=response.SerializeToString
        )

    return grpc.method_handlers_generic_handler(
        SERVICE_NAME,
        {
            "RequestToken": unary(service.request_token, pb.TokenRequest, pb.TokenResponse),
            "SubmitTelemetry": unary(service.submit_telemetry, pb.TelemetryRequest, pb.TelemetryResponse),
            "SubmitRoutingLog": unary(
                service.submit_routing_log, pb.RoutingLogRequest, pb.RoutingLogResponse
            ),
            "ConfirmAudit": unary(service.confirm_audit, pb.AuditConfirmation, pb.AuditResponse),
        },
    )


def _check_free(host: str, port: int) -> None:
    """Refuse a port already in use with a clear error (before gRPC logs its own)."""
    if port == 0:
        return
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host.strip("[]"), port))
        except OSError as exc:
            raise KernelStartError(f"cannot listen on {format_address(host, port)}: {exc.strerror}") from None


def _last_ttl(ledger: Ledger) -> int:
    """The token lifetime the previous kernel used (its tokens may still be alive)."""
    from vaos.governance.ledger import read_records

    for body in reversed(read_records(ledger.directory, limit=1000)):
        if body.get("kind") == "kernel_started":
            ttl = body.get("data", {}).get("token_ttl")
            return int(ttl) if isinstance(ttl, int) else 0
    return 0
