"""``vaos serve``: the whole daemon in one process, started in order and stopped in reverse.

1. the governance kernel, embedded on loopback (unless ``VAOS_KERNEL__URL`` names one, or
   governance is off); the runtime is pointed at it;
2. the agent runtime (``vaos.agent.open_runtime``): store, routing, tools, governance gate;
   the embedded model is loaded on its first use, not here;
3. the telemetry publisher with the kernel command consumer (signed ``pause``, ``resume``,
   ``shutdown``);
4. the HTTP API on uvicorn.

SIGTERM, SIGINT or a signed ``shutdown`` command stop it cleanly: open SSE streams end,
requests in flight finish (up to ``GRACE_SECONDS``), then everything closes in reverse.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Generator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import uvicorn
from fastapi import FastAPI

from vaos.api.app import create_app
from vaos.api.runtime import RuntimeFactory, RuntimeLike, default_runtime_factory
from vaos.config import Settings
from vaos.events import EventBus

if TYPE_CHECKING:
    from vaos.governance.commands import CommandController
    from vaos.governance.server import KernelServer
    from vaos.governance.telemetry import TelemetryPublisher

logger = logging.getLogger(__name__)

GRACE_SECONDS = 5.0
LOOPBACK = ("127.0.0.1", "::1", "localhost")


class DaemonStartError(Exception):
    """A part of the daemon could not start (the message says which and why)."""


@dataclass
class Daemon:
    settings: Settings
    runtime: RuntimeLike
    app: FastAPI
    kernel: KernelServer | None = None
    telemetry: TelemetryPublisher | None = None
    controller: CommandController | None = None
    shutdown_requested: asyncio.Event | None = None

    @property
    def kernel_address(self) -> str | None:
        if self.kernel is not None:
            return self.kernel.address
        return self.settings.kernel.url


@contextlib.asynccontextmanager
async def open_daemon(
    settings: Settings,
    *,
    host: str,
    runtime_factory: RuntimeFactory | None = None,
    telemetry: bool = True,
) -> AsyncIterator[Daemon]:
    """Kernel, runtime, telemetry and the app, ready to be served on ``host``."""
    stop = asyncio.Event()
    async with contextlib.AsyncExitStack() as stack:
        kernel = None
        run_settings = settings
        if settings.governance.mode != "off" and not settings.kernel.url:
            from vaos.governance.errors import GovernanceError
            from vaos.governance.server import KernelServer

            kernel_host = settings.kernel.host if settings.kernel.host in LOOPBACK else "127.0.0.1"
            try:
                kernel = await KernelServer.from_settings(settings, host=kernel_host).start()
            except (GovernanceError, OSError) as exc:
                raise DaemonStartError(f"the embedded kernel cannot start: {exc}") from None
            stack.push_async_callback(kernel.stop)
            run_settings = settings.model_copy(
                update={"kernel": settings.kernel.model_copy(update={"url": kernel.address})}
            )
        bus = EventBus()
        factory = runtime_factory or default_runtime_factory
        try:
            runtime = await stack.enter_async_context(factory(run_settings, bus))
        except RuntimeError as exc:
            raise DaemonStartError(str(exc)) from None
        publisher, controller = None, None
        if telemetry:
            publisher, controller = await _start_telemetry(run_settings, bus, kernel, stop)
            if publisher is not None:
                stack.push_async_callback(publisher.stop)
        app = create_app(runtime, settings=run_settings, bind_host=host, telemetry=publisher)
        app.state.controller = controller
        yield Daemon(run_settings, runtime, app, kernel, publisher, controller, stop)


async def _start_telemetry(
    settings: Settings, bus: EventBus, kernel: KernelServer | None, stop: asyncio.Event
) -> tuple[TelemetryPublisher | None, CommandController | None]:
    from vaos.governance.errors import GovernanceError
    from vaos.governance.spool import SpoolError
    from vaos.governance.telemetry import TelemetryPublisher, start_telemetry

    def noted(what: str) -> Callable[[str], Awaitable[None]]:
        async def callback(agent_id: str) -> None:
            logger.warning("kernel command obeyed: %s %s", what, agent_id)

        return callback

    async def shutdown(_: str) -> None:
        stop.set()

    try:
        keys: Any = None
        audit = None
        if kernel is not None and kernel.keystore is not None and kernel.ledger is not None:
            from vaos.governance.commands import ledger_audit

            keys, audit = kernel.keystore, ledger_audit(kernel.ledger)
        else:
            from vaos.governance.keys import KeyStore

            with contextlib.suppress(GovernanceError, OSError):
                keys = KeyStore.open(settings.path("keys"), create=False)
        if keys is None:
            logger.warning("no kernel keys here: telemetry is shipped, kernel commands are not obeyed")
            publisher = await TelemetryPublisher.from_settings(settings, bus=bus).start()
            return publisher, None
        return await start_telemetry(
            settings,
            bus=bus,
            keys=keys,
            audit=audit,
            on_pause=noted("pause"),
            on_resume=noted("resume"),
            on_shutdown=shutdown,
        )
    except SpoolError as exc:
        raise DaemonStartError(f"telemetry cannot start: {exc}") from None


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: the daemon decides when to stop."""

    @contextlib.contextmanager
    def capture_signals(self) -> Generator[None]:
        yield


def bind_socket(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` (port 0: a free one)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise DaemonStartError(f"cannot listen on {host}:{port}: {exc.strerror or exc}") from None
    sock.listen(2048)
    sock.setblocking(False)
    return sock


def uvicorn_config(app: FastAPI, *, log_level: str = "warning") -> uvicorn.Config:
    return uvicorn.Config(
        app,
        lifespan="on",
        log_level=log_level,
        access_log=False,
        server_header=False,
        timeout_graceful_shutdown=int(GRACE_SECONDS),
        timeout_keep_alive=30,
        proxy_headers=True,
        http="auto",
        ws="none",
    )


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{port}"


async def serve(
    settings: Settings,
    *,
    host: str,
    port: int,
    runtime_factory: RuntimeFactory | None = None,
    on_ready: Callable[[str, Daemon], None] | None = None,
    log_level: str = "warning",
) -> None:
    """Run the daemon until SIGTERM, SIGINT or a signed shutdown command."""
    sock = bind_socket(host, port)
    try:
        async with open_daemon(settings, host=host, runtime_factory=runtime_factory) as daemon:
            server = _Server(uvicorn_config(daemon.app, log_level=log_level))
            loop = asyncio.get_running_loop()
            stop = daemon.shutdown_requested or asyncio.Event()

            def request_stop() -> None:
                stop.set()

            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.add_signal_handler(sig, request_stop)
            serving = asyncio.create_task(server.serve(sockets=[sock]), name="vaos-http")
            while not server.started and not serving.done():  # noqa: ASYNC110 (uvicorn has no event)
                await asyncio.sleep(0.01)
            if serving.done():
                serving.result()  # start-up failed: raise why, or say so
                raise DaemonStartError("the HTTP API did not start (see the error above)")
            if on_ready is not None:
                on_ready(url_of(sock), daemon)
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait({serving, stopping}, return_when=asyncio.FIRST_COMPLETED)
            ctx = getattr(daemon.app.state, "vaos", None)
            if ctx is not None:
                ctx.shutting_down.set()
                ctx.hub.close_streams()
            server.should_exit = True
            await serving
            stopping.cancel()
            for sig in (signal.SIGTERM, signal.SIGINT):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(sig)
    finally:
        sock.close()
