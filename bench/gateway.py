"""Gateway overhead: the same OpenAI-style workload sent straight to a model, and through
gateways in front of it.

- ``direct``: the fake model itself (an aiohttp app speaking OpenAI Chat Completions,
  ``vaos.api.testing.fake_openai_app``, in its own process on loopback);
- ``proxy``: a minimal pass-through (Starlette on uvicorn, forwarding with aiohttp): the floor
  for a Python gateway;
- ``vaos``: ``vaos serve``'s ``/v1/chat/completions`` with ``model: auto``: deterministic
  classification, routing to the fake model, cost accounting (budget + ``calls.jsonl``),
  audit logging (one routing record per request in the embedded kernel's ledger), events,
  metrics, and telemetry to the broker when one answers;
- ``vaos-notel``: the same with per-request events not shipped to the broker
  (``VAOS_AMQP__SKIP_EVENT_TYPES``): what classification, routing, cost accounting and audit
  logging cost without telemetry;
- ``vaos-lean``: an experiment, not a configuration of VAOS: ``vaos-notel`` with the fake
  model's provider replaced by a lean OpenAI-wire client written here (aiohttp + orjson,
  no SDK), to show how much of VAOS's cost is the ``openai`` SDK's streaming path;
- ``litellm``: the LiteLLM proxy, when ``--litellm`` names its executable (installed in a
  throwaway virtualenv, never a VAOS dependency; see ``--help``).

At concurrency 1, 8 and 32, streamed and not: requests/s, p50/p99 latency, the latency each
gateway adds to ``direct`` (p50/p99 differences), and the CPU milliseconds each gateway process
(with its children) spends per request. Also ``/api/v1/classify`` requests/s on ``vaos``.

    .venv/bin/python bench/gateway.py [--seconds 4] [--litellm /tmp/litellm-venv/bin/litellm]

The load generator (aiohttp, closed loop) runs in this process; on a 2-core machine every
process shares the two cores, so absolute figures are lower than on a bigger one, and the
comparison between gateways is what counts.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

PYTHON = sys.executable
VAOS = str(Path(sys.executable).with_name("vaos"))
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
MESSAGES = [
    {"role": "system", "content": "You are terse."},
    {"role": "user", "content": "What is the capital of France? Answer in one word, then explain briefly."},
]
LITELLM_KEY = "sk-vaos-bench-0123456789abcdef0123456789abcdef"
HEADERS = {"content-type": "application/json", "authorization": f"Bearer {LITELLM_KEY}"}
ANSWER = "Paris is the capital of France, and it has been for a very long time indeed."

BACKEND = textwrap.dedent(
    """
    import sys
    from aiohttp import web
    from vaos.api.testing import fake_openai_app
    web.run_app(fake_openai_app(sys.argv[2], chunks=8), host="127.0.0.1", port=int(sys.argv[1]),
                print=None, access_log=None)
    """
)

PROXY = textwrap.dedent(
    """
    import sys
    import aiohttp
    import uvicorn
    from starlette.applications import Starlette
    from starlette.responses import Response, StreamingResponse
    from starlette.routing import Route

    UPSTREAM = sys.argv[2] + "/v1/chat/completions"
    session = None

    async def forward(request):
        global session
        if session is None:
            session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
        upstream = await session.post(UPSTREAM, data=await request.body(),
                                      headers={"content-type": "application/json"})
        if upstream.content_type == "text/event-stream":
            async def body():
                try:
                    async for chunk in upstream.content.iter_any():
                        yield chunk
                finally:
                    upstream.release()
            return StreamingResponse(body(), status_code=upstream.status, media_type="text/event-stream")
        data = await upstream.read()
        upstream.release()
        return Response(data, status_code=upstream.status, media_type="application/json")

    app = Starlette(routes=[Route("/v1/chat/completions", forward, methods=["POST"])])
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", access_log=False)
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(url: str, within: float = 60.0) -> None:
    deadline = time.monotonic() + within
    host, port = re.match(r"http://([^:/]+):(\d+)", url).groups()  # type: ignore[union-attr]
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError), socket.create_connection((host, int(port)), timeout=0.5):
            return
        time.sleep(0.1)
    raise RuntimeError(f"nothing answers at {url}")


# -- the lean-provider experiment ----------------------------------------------------------


def serve_lean(port: int) -> None:
    """``vaos serve`` (same settings from the environment) with the ``fake`` provider served by
    a minimal OpenAI-wire streaming client instead of the SDK-based one."""
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import orjson

    from vaos.agent import open_runtime
    from vaos.api.daemon import serve
    from vaos.config import get_settings
    from vaos.providers.base import Provider
    from vaos.providers.errors import ProviderError
    from vaos.providers.types import Completion, Done, Request, StreamEvent, TextDelta, Usage

    class LeanOpenAI(Provider):
        protocol = "openai"

        def __init__(self, name: str, base_url: str) -> None:
            super().__init__(name, default_model="fake-model")
            self.url = base_url.rstrip("/") + "/chat/completions"
            self.session: aiohttp.ClientSession | None = None

        async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
            if self.session is None:
                self.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0))
            model = self.model_for(request)
            body: dict[str, object] = {
                "model": model,
                "messages": [{"role": m.role, "content": m.content} for m in request.messages],
                "stream": True,
                "stream_options": {"include_usage": True},
            }
            if request.max_tokens is not None:
                body["max_tokens"] = request.max_tokens
            text, usage, finish = [], Usage(), "stop"
            async with self.session.post(
                self.url, data=orjson.dumps(body), headers={"content-type": "application/json"}
            ) as response:
                if response.status != 200:
                    raise ProviderError(f"HTTP {response.status}", provider=self.name, kind="server")
                async for line in response.content:
                    if line.startswith(b"data: [DONE]"):
                        break
                    if not line.startswith(b"data: {"):
                        continue
                    chunk = orjson.loads(line[6:])
                    if chunk.get("usage"):
                        u = chunk["usage"]
                        usage = Usage(u.get("prompt_tokens", 0), u.get("completion_tokens", 0))
                    for choice in chunk.get("choices", ())[:1]:
                        piece = (choice.get("delta") or {}).get("content")
                        if piece:
                            text.append(piece)
                            yield TextDelta(piece)
                        finish = choice.get("finish_reason") or finish
            yield Done(Completion("".join(text), self.name, model, (), usage, "stop"))

        async def aclose(self) -> None:
            if self.session is not None:
                await self.session.close()

    @asynccontextmanager
    async def factory(settings, bus):  # type: ignore[no-untyped-def]
        async with open_runtime(settings, bus=bus) as runtime:
            status = runtime.routing.registry.status("fake")
            runtime.routing.registry.register("fake", LeanOpenAI("fake", status.base_url))
            yield runtime

    import uvloop  # as `vaos serve` runs

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(get_settings(), host="127.0.0.1", port=port, runtime_factory=factory))


# -- CPU of a process tree -----------------------------------------------------------------


def _stat(pid: int) -> tuple[int, int] | None:
    """(ppid, utime + stime ticks) of ``pid``."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = raw[raw.rindex(")") + 2 :].split()
    return int(fields[1]), int(fields[11]) + int(fields[12])


def tree_cpu_seconds(root: int) -> float:
    """CPU seconds used so far by ``root`` and its descendants."""
    stats: dict[int, tuple[int, int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            found = _stat(int(entry))
            if found is not None:
                stats[int(entry)] = found
    total, frontier = 0, [root]
    while frontier:
        pid = frontier.pop()
        if pid in stats:
            total += stats[pid][1]
            frontier.extend(child for child, (ppid, _) in stats.items() if ppid == pid)
    return total / CLOCK_TICKS


# -- servers -------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    url: str
    process: subprocess.Popen[bytes]
    model: str
    log: Path

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


def start(
    name: str, args: list[str], url: str, model: str, workdir: Path, env: dict[str, str] | None = None
) -> Server:
    log = workdir / f"{name}.log"
    process = subprocess.Popen(
        args, stdout=log.open("wb"), stderr=subprocess.STDOUT, env=env or dict(os.environ), cwd=workdir
    )
    try:
        wait_http(url)
    except RuntimeError:
        process.kill()
        raise RuntimeError(f"{name} did not start; see {log}:\n{log.read_text()[-2000:]}") from None
    return Server(name, url, process, model, log)


QUIET_EVENTS = "routing_decided,llm_request,llm_token,llm_response,signal_classified,audit_recorded,error"


def vaos_env(home: Path, backend: str, broker: bool) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAOS_")}
    env.update(
        {
            "VAOS_HOME": str(home),
            "VAOS_PROVIDERS__FAKE__BASE_URL": backend + "/v1",
            "VAOS_PROVIDERS__FAKE__MODELS__UTILITY": "fake-model",
            "VAOS_PROVIDERS__FAKE__MODELS__SPECIALIST": "fake-model",
            "VAOS_PROVIDERS__FAKE__MODELS__ELITE": "fake-model",
            "VAOS_ROUTING__DEFAULT_PROVIDER": "fake",
            "VAOS_ROUTING__LOCAL_FALLBACK": "false",
            "VAOS_API__RATE_LIMIT_PER_MINUTE": "100000000",
            "VAOS_KERNEL__PORT": "0",
            "VAOS_KERNEL__JWKS_PORT": "0",
        }
    )
    if not broker:
        env["VAOS_AMQP__URL"] = ""
    return env


def litellm_config(workdir: Path, backend: str) -> Path:
    path = workdir / "litellm.yaml"
    path.write_text(
        "model_list:\n"
        "  - model_name: fake-model\n"
        "    litellm_params:\n"
        "      model: openai/fake-model\n"
        f"      api_base: {backend}/v1\n"
        "      api_key: fake\n"
        "litellm_settings:\n"
        "  telemetry: false\n"
    )
    return path


# -- load ----------------------------------------------------------------------------------


@dataclass
class Cell:
    gateway: str
    stream: bool
    concurrency: int
    requests: int = 0
    errors: int = 0
    seconds: float = 0.0
    cpu_s: float = 0.0
    latencies: list[float] = field(default_factory=list)

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    def pct(self, q: float) -> float:
        if not self.latencies:
            return float("nan")
        ordered = sorted(self.latencies)
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    @property
    def cpu_ms_per_request(self) -> float:
        return self.cpu_s * 1000 / self.requests if self.requests else float("nan")


async def one(session: aiohttp.ClientSession, url: str, body: bytes, stream: bool) -> bool:
    async with session.post(url, data=body, headers=HEADERS) as response:
        if response.status != 200:
            await response.read()
            return False
        if stream:
            seen_done = False
            async for line in response.content:
                if line.startswith(b"data: [DONE]"):
                    seen_done = True
            return seen_done
        await response.read()
        return True


async def load(
    url: str, body: bytes, stream: bool, concurrency: int, seconds: float, warmup: float, pid: int | None
) -> Cell:
    cell = Cell("", stream, concurrency)
    connector = aiohttp.TCPConnector(limit=0, force_close=False)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        phase = {"measure": False}
        stop_at = time.monotonic() + warmup + seconds

        async def worker() -> None:
            while time.monotonic() < stop_at:
                started = time.perf_counter()
                try:
                    ok = await one(session, url, body, stream)
                except (aiohttp.ClientError, TimeoutError):
                    ok = False
                if phase["measure"]:
                    if ok:
                        cell.requests += 1
                        cell.latencies.append(time.perf_counter() - started)
                    else:
                        cell.errors += 1

        workers = [asyncio.create_task(worker()) for _ in range(concurrency)]
        await asyncio.sleep(warmup)
        phase["measure"] = True
        cpu0 = tree_cpu_seconds(pid) if pid else 0.0
        t0 = time.perf_counter()
        await asyncio.gather(*workers)
        cell.seconds = time.perf_counter() - t0
        cell.cpu_s = (tree_cpu_seconds(pid) - cpu0) if pid else 0.0
    return cell


def completion_body(model: str, stream: bool) -> bytes:
    body: dict[str, object] = {"model": model, "messages": MESSAGES, "max_tokens": 64, "stream": stream}
    if stream:
        body["stream_options"] = {"include_usage": True}
    return json.dumps(body).encode()


# -- report --------------------------------------------------------------------------------


def table(cells: list[Cell]) -> str:
    direct = {(c.stream, c.concurrency): c for c in cells if c.gateway == "direct"}
    header = (
        f"{'gateway':<10} {'mode':<7} {'conc':>4} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'+p50 ms':>8} {'+p99 ms':>8} {'CPU ms/req':>10} {'errors':>6}"
    )
    lines = [header, "-" * len(header)]
    for c in cells:
        base = direct.get((c.stream, c.concurrency))
        add50 = c.pct(0.5) - base.pct(0.5) if base and c.gateway != "direct" else float("nan")
        add99 = c.pct(0.99) - base.pct(0.99) if base and c.gateway != "direct" else float("nan")
        cpu = f"{c.cpu_ms_per_request:10.2f}" if c.gateway != "direct" else f"{'-':>10}"
        lines.append(
            f"{c.gateway:<10} {'stream' if c.stream else 'plain':<7} {c.concurrency:>4} {c.rps:8.0f} "
            f"{c.pct(0.5):8.2f} {c.pct(0.99):8.2f} {add50:8.2f} {add99:8.2f} {cpu} {c.errors:>6}"
        )
    return "\n".join(lines)


@contextlib.contextmanager
def servers(args: argparse.Namespace, workdir: Path) -> Iterator[list[Server]]:
    started: list[Server] = []
    try:
        port = free_port()
        backend = start(
            "direct",
            [PYTHON, "-c", BACKEND, str(port), ANSWER],
            f"http://127.0.0.1:{port}",
            "fake-model",
            workdir,
        )
        started.append(backend)
        if "proxy" in args.gateways:
            port = free_port()
            started.append(
                start(
                    "proxy",
                    [PYTHON, "-c", PROXY, str(port), backend.url],
                    f"http://127.0.0.1:{port}",
                    "fake-model",
                    workdir,
                )
            )
        for name in ("vaos", "vaos-notel", "vaos-lean"):
            if name not in args.gateways:
                continue
            port = free_port()
            env = vaos_env(workdir / f"{name}-home", backend.url, broker=not args.no_broker)
            if name != "vaos":
                env["VAOS_AMQP__SKIP_EVENT_TYPES"] = QUIET_EVENTS
            command = [VAOS, "serve", "--port", str(port)]
            if name == "vaos-lean":
                command = [PYTHON, __file__, "--serve-lean", str(port)]
            started.append(start(name, command, f"http://127.0.0.1:{port}", "auto", workdir, env))
        if args.litellm and "litellm" in args.gateways:
            port = free_port()
            config = litellm_config(workdir, backend.url)
            env = dict(
                os.environ, LITELLM_LOG="ERROR", LITELLM_TELEMETRY="False", LITELLM_MASTER_KEY=LITELLM_KEY
            )
            command = [
                args.litellm,
                "--config",
                str(config),
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                "--num_workers",
                "1",
            ]
            started.append(start("litellm", command, f"http://127.0.0.1:{port}", "fake-model", workdir, env))
        yield started
    finally:
        for server in reversed(started):
            server.stop()


async def run(args: argparse.Namespace) -> list[Cell]:
    cells: list[Cell] = []
    with (
        tempfile.TemporaryDirectory(prefix="vaos-bench-gateway-") as tmp,
        servers(args, Path(tmp)) as running,
    ):
        for server in running:  # one call each, so every gateway is warm and working
            async with aiohttp.ClientSession() as session:
                ok = await one(
                    session, server.url + "/v1/chat/completions", completion_body(server.model, False), False
                )
            if not ok:
                raise RuntimeError(f"{server.name} does not answer a completion; see {server.log}")
        for stream in (False, True):
            for concurrency in args.concurrency:
                for server in running:
                    pid = server.process.pid if server.name != "direct" else None
                    cell = await load(
                        server.url + "/v1/chat/completions",
                        completion_body(server.model, stream),
                        stream,
                        concurrency,
                        args.seconds,
                        args.warmup,
                        pid,
                    )
                    cell.gateway = server.name
                    cells.append(cell)
                    print(
                        f"  {server.name:<10} {'stream' if stream else 'plain':<6} c={concurrency:<3}"
                        f" {cell.rps:7.0f} req/s  p50 {cell.pct(0.5):6.2f} ms",
                        file=sys.stderr,
                    )
        vaos = next((s for s in running if s.name == "vaos"), None)
        if vaos is not None:
            body = json.dumps({"message": MESSAGES[1]["content"]}).encode()
            for concurrency in args.concurrency:
                cell = await load(
                    vaos.url + "/api/v1/classify",
                    body,
                    False,
                    concurrency,
                    args.seconds,
                    args.warmup,
                    vaos.process.pid,
                )
                cell.gateway = "classify"
                cells.append(cell)
    return cells


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=float, default=4.0, help="measured seconds per cell")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds before each cell")
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 8, 32])
    parser.add_argument(
        "--gateways", nargs="+", default=["direct", "proxy", "vaos", "vaos-notel", "vaos-lean", "litellm"]
    )
    parser.add_argument(
        "--litellm",
        help="the LiteLLM proxy executable, e.g. after `uv venv /tmp/litellm-venv && "
        "VIRTUAL_ENV=/tmp/litellm-venv uv pip install 'litellm[proxy]'`: /tmp/litellm-venv/bin/litellm",
    )
    parser.add_argument("--no-broker", action="store_true", help="run vaos without telemetry to a broker")
    parser.add_argument("--json", type=Path, help="also write the cells as JSON here")
    parser.add_argument("--serve-lean", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve_lean:
        serve_lean(args.serve_lean)
        return 0
    cells = asyncio.run(run(args))
    completions = [c for c in cells if c.gateway != "classify"]
    print(table(completions))
    classify = [c for c in cells if c.gateway == "classify"]
    if classify:
        print()
        print("vaos /api/v1/classify")
        for c in classify:
            print(
                f"  concurrency {c.concurrency:>2}: {c.rps:8.0f} req/s, p50 {c.pct(0.5):.2f} ms, "
                f"p99 {c.pct(0.99):.2f} ms, {c.cpu_ms_per_request:.2f} CPU ms/req"
            )
    if args.json:
        args.json.write_text(
            json.dumps(
                [
                    {
                        "gateway": c.gateway,
                        "stream": c.stream,
                        "concurrency": c.concurrency,
                        "rps": round(c.rps, 1),
                        "p50_ms": round(c.pct(0.5), 3),
                        "p99_ms": round(c.pct(0.99), 3),
                        "cpu_ms_per_request": round(c.cpu_ms_per_request, 3),
                        "errors": c.errors,
                    }
                    for c in cells
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
