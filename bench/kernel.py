"""Benchmark the governance kernel.

    .venv/bin/python bench/kernel.py [--tokens 10000] [--appends 20000] [--records 200000] [--json]

Measures, in a throw-away VAOS_HOME:

- tokens issued per second over gRPC, at concurrency 1 and 32: a real kernel process
  (``vaos kernel serve``) and the kernel client in this process; every token is also a
  durable ``token_issued`` ledger record;
- ledger appends per second: concurrent ``await ledger.append(...)`` (group commit, fsync);
- ledger records verified per second (``vaos audit verify``'s default mode, and ``--full``).

Targets on 2 cores: 3,000 tokens/s, 10,000 appends/s, 100,000 records/s verified.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from vaos.governance.client import KernelClient
from vaos.governance.keys import KeyStore
from vaos.governance.ledger import Ledger
from vaos.governance.ledger_verify import CHECKPOINTS_FILE, RECORDS_FILE, verify_ledger

INTENT = "6d8aa9b978c32673fa41ed872aa08b495e5a384c5c6b69d44c012b968d34be7c"
LISTENING = re.compile(r"listening on (\S+) ")


def start_kernel(home: Path) -> tuple[subprocess.Popen[str], str]:
    env = {**os.environ, "VAOS_HOME": str(home)}
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "from vaos.cli.app import main; main()",
            "kernel",
            "serve",
            "--port",
            "0",
            "--jwks-port",
            "0",
        ],
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = proc.stderr.readline()
        if not line:
            break
        match = LISTENING.search(line)
        if match:
            return proc, match.group(1)
    proc.kill()
    raise RuntimeError("the kernel did not start")


async def tokens_per_second(address: str, concurrency: int, total: int) -> float:
    async with KernelClient(address) as client:
        await client.request_token("vaos", INTENT, "file_read")  # connect first
        per_worker = total // concurrency

        async def worker() -> None:
            for _ in range(per_worker):
                await client.request_token("vaos", INTENT, "file_read")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        return per_worker * concurrency / (time.perf_counter() - started)


async def appends_per_second(home: Path, total: int, concurrency: int = 256) -> float:
    keystore = KeyStore.open(home / "keys")
    ledger = Ledger.open(home / "ledger", keystore)
    entry = {
        "kind": "audit_confirmed",
        "outcome": "confirmed",
        "agent_id": "vaos",
        "user": "bench",
        "action_type": "file_read",
        "action_id": "bench",
        "intent_hash": INTENT,
        "data": {"jti": "0" * 32, "method": "file_read", "context": {"outcome": "ok", "duration_ms": "3"}},
    }
    per_worker = total // concurrency

    async def worker() -> None:
        for _ in range(per_worker):
            await ledger.append(entry)

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    elapsed = time.perf_counter() - started
    await ledger.close()
    return per_worker * concurrency / elapsed


def fill_ledger(home: Path, records: int) -> None:
    from vaos.governance.ledger import LedgerWriter

    writer = LedgerWriter.open(home / "ledger", KeyStore.open(home / "keys"))
    entry = {
        "kind": "routing_log",
        "outcome": "recorded",
        "agent_id": "vaos",
        "intent_hash": INTENT,
        "data": {"stage": "routed", "tier": "specialist", "provider": "local", "model": "smollm2"},
    }
    done = writer.seq
    while done < records:
        batch = min(1000, records - done)
        writer.append_many([entry] * batch)
        done += batch
    writer.close()


def verify_rate(home: Path, full: bool) -> tuple[float, int]:
    keys = KeyStore.open(home / "keys").public_keys()
    started = time.perf_counter()
    report = verify_ledger(
        home / "ledger" / RECORDS_FILE, home / "ledger" / CHECKPOINTS_FILE, keys, full=full
    )
    elapsed = time.perf_counter() - started
    assert report.ok, report.problem
    return report.records / elapsed, report.records


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--tokens", type=int, default=10_000, help="tokens at concurrency 32")
    parser.add_argument("--tokens-serial", type=int, default=1_000, help="tokens at concurrency 1")
    parser.add_argument("--appends", type=int, default=20_480)
    parser.add_argument("--records", type=int, default=200_000, help="ledger size for the verify rate")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    results: dict[str, Any] = {"cpus": os.cpu_count()}
    with tempfile.TemporaryDirectory() as tmp:
        home = Path(tmp) / "kernel"
        proc, address = start_kernel(home)
        try:
            results["tokens_per_s_c1"] = asyncio.run(tokens_per_second(address, 1, args.tokens_serial))
            results["tokens_per_s_c32"] = asyncio.run(tokens_per_second(address, 32, args.tokens))
        finally:
            proc.terminate()
            proc.wait(timeout=30)
        ledger_home = Path(tmp) / "ledger"
        results["appends_per_s"] = asyncio.run(appends_per_second(ledger_home, args.appends))
        fill_ledger(ledger_home, args.records)
        results["verify_records_per_s"], results["verified_records"] = verify_rate(ledger_home, full=False)
        results["verify_full_records_per_s"], _ = verify_rate(ledger_home, full=True)
    if args.json:
        print(json.dumps({k: round(v) if isinstance(v, float) else v for k, v in results.items()}))
        return 0
    rows = [
        ("tokens issued over gRPC, concurrency 1", results["tokens_per_s_c1"], "/s", ""),
        ("tokens issued over gRPC, concurrency 32", results["tokens_per_s_c32"], "/s", "target 3,000"),
        ("ledger appends (durable, group commit)", results["appends_per_s"], "/s", "target 10,000"),
        ("ledger verify, default mode", results["verify_records_per_s"], "records/s", "target 100,000"),
        ("ledger verify, --full (every signature)", results["verify_full_records_per_s"], "records/s", ""),
    ]
    for label, value, unit, target in rows:
        print(f"{label:<42}{value:>10,.0f} {unit:<10} {target}".rstrip())
    print(f"(verify rates over {results['verified_records']:,} records; {results['cpus']} CPUs)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
