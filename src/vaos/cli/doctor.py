"""``vaos doctor``: what is configured, what is missing, and the exact fix for each."""

from __future__ import annotations

import socket
import sys
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

import typer

from vaos.cli.app import app

Level = Literal["ok", "warn", "error", "info"]


@dataclass(frozen=True)
class Check:
    area: str
    level: Level
    message: str
    fix: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"area": self.area, "level": self.level, "message": self.message, "fix": self.fix}


def _reachable(host: str, port: int, timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def run_checks() -> list[Check]:
    checks: list[Check] = []
    try:
        from vaos.config import get_settings
        from vaos.paths import config_file

        settings = get_settings()
    except Exception as exc:
        return [
            Check("settings", "error", f"invalid settings: {str(exc).splitlines()[0]}", "fix the value named")
        ]
    path = config_file()
    checks.append(
        Check("settings", "ok", f"settings read ({path} {'found' if path.exists() else 'absent: defaults'})")
    )
    checks += _provider_checks(settings)
    checks += _local_model_checks()
    checks += _service_checks(settings)
    return checks


def _provider_checks(settings: Any) -> list[Check]:
    from vaos.providers.registry import ProviderRegistry, UnknownProviderError
    from vaos.routing.router import Router

    checks: list[Check] = []
    registry = ProviderRegistry(settings)
    try:
        router = Router.from_settings(settings, registry)
    except UnknownProviderError as exc:
        return [
            Check(
                "routing", "error", str(exc), "correct VAOS_ROUTING__DEFAULT_PROVIDER / VAOS_ROUTING__CHAIN"
            )
        ]
    if router.order:
        checks.append(Check("routing", "ok", f"chain: {' -> '.join(router.order)}"))
    else:
        checks.append(
            Check(
                "routing",
                "error",
                "no provider can answer",
                "run scripts/install, or set a provider's API key",
            )
        )
    for name, why in router.skipped:
        spec = registry.statuses[name].spec
        fix = f"export {spec.key_env_hint}=..." if "API key" in why else why.split(": ", 1)[-1]
        checks.append(
            Check(f"provider {name}", "warn", f"named in the routing settings but skipped: {why}", fix)
        )
    configured = [n for n in registry.configured() if registry.statuses[n].api_key]
    for name in registry.configured():
        status = registry.statuses[name]
        if status.api_key or status.spec.protocol == "local":
            continue
        checks.append(_server_check(name, status.base_url, in_chain=name in router.order))
    if configured:
        checks.append(Check("providers", "ok", f"configured: {', '.join(configured)}"))
    else:
        checks.append(
            Check(
                "providers",
                "info",
                "no remote provider is configured: answers come from the embedded model",
                "export OPENAI_API_KEY=... (or any key listed by `vaos models`)",
            )
        )
    for name in registry.names:
        status = registry.statuses[name]
        if status.configured or name in dict(router.skipped) or name == "local":
            continue
        if status.spec.key_required and status.api_key is None:
            continue  # listed once below, not one line per unused provider
        checks.append(Check(f"provider {name}", "info", status.missing or "not configured"))
    missing = [
        f"{n} ({registry.statuses[n].spec.key_env_hint})"
        for n in registry.names
        if registry.statuses[n].spec.key_required and registry.statuses[n].api_key is None
    ]
    if missing:
        checks.append(
            Check("providers", "info", "without a key (set the variable to use one): " + ", ".join(missing))
        )
    return checks


def _server_check(name: str, base_url: str, *, in_chain: bool) -> Check:
    """A keyless provider (Ollama, a local OpenAI-compatible server): does it answer?"""
    url = base_url if "://" in base_url else f"http://{base_url}"
    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    if _reachable(parts.hostname or "127.0.0.1", port):
        return Check(f"provider {name}", "ok", f"{name} answers at {base_url}")
    fix = "start it (`ollama serve`)" if name == "ollama" else f"start the server at {base_url}"
    level: Level = "warn" if in_chain else "info"
    return Check(f"provider {name}", level, f"{name} (no key needed) does not answer at {base_url}", fix)


def _local_model_checks() -> list[Check]:
    from vaos.providers.errors import ProviderError
    from vaos.providers.local import find_model_file, llama_available

    checks: list[Check] = []
    if not llama_available():
        checks.append(Check("local model", "error", "llama-cpp-python is not installed", "scripts/install"))
    try:
        path = find_model_file()
        size = path.stat().st_size / 1e6
        checks.append(Check("local model", "ok", f"SmolLM2-135M-Instruct at {path} ({size:.0f} MB)"))
    except ProviderError as exc:
        checks.append(Check("local model", "error", exc.message, "scripts/install"))
    return checks


def _service_checks(settings: Any) -> list[Check]:
    checks: list[Check] = []
    kernel = settings.kernel
    if kernel.url:
        host, _, port = kernel.url.rpartition(":")
        ok = port.isdigit() and _reachable(host or "127.0.0.1", int(port))
        checks.append(
            Check("kernel", "ok", f"external kernel at {kernel.url} answers")
            if ok
            else Check(
                "kernel",
                "error",
                f"external kernel at {kernel.url} does not answer",
                "start it (vaos kernel serve) or unset VAOS_KERNEL__URL to embed it",
            )
        )
    else:
        checks.append(Check("kernel", "ok", "embedded kernel (started by vaos serve)"))
    from vaos.governance.telemetry import telemetry_status

    telemetry = telemetry_status(settings)
    state = telemetry["state"]
    level: Literal["ok", "warn", "info"] = (
        "ok" if state == "reachable" else "warn" if state == "unreachable" else "info"
    )
    checks.append(Check("broker", level, telemetry["message"], telemetry.get("fix")))
    home = settings.home
    writable = (home.exists() and home.is_dir()) or not home.exists()
    checks.append(
        Check(
            "home",
            "ok" if writable else "error",
            f"data directory {home}",
            None if writable else "set VAOS_HOME",
        )
    )
    return checks


@app.command()
def doctor(
    json_output: bool = typer.Option(False, "--json", help="Print one JSON document."),
) -> None:
    """Check configuration, providers, kernel, broker and the model file; say how to fix what is missing."""
    checks = run_checks()
    failed = any(c.level == "error" for c in checks)
    if json_output:
        import orjson

        doc = {"ok": not failed, "checks": [c.to_dict() for c in checks]}
        sys.stdout.buffer.write(orjson.dumps(doc) + b"\n")
        sys.stdout.flush()
    else:
        marks = {"ok": "ok  ", "warn": "warn", "error": "FAIL", "info": "info"}
        for c in checks:
            print(f"{marks[c.level]}  {c.area}: {c.message}")
            if c.fix and c.level != "ok":
                print(f"      fix: {c.fix}")
    if failed:
        raise SystemExit(1)
