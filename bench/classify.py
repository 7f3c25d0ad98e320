"""Benchmark of the deterministic classifier.

Prints messages/s and p50/p99 latency per message (single calls and the batch CLI), the
ratio against a baseline in the same run (one precompiled regex pass over the same
messages), and the cold start of ``vaos classify``. Pinned to one core.

    .venv/bin/python bench/classify.py [--messages N] [--cold-runs N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
LABELLED = ROOT / "tests" / "data" / "signals_labelled.jsonl"
VAOS = ROOT / ".venv" / "bin" / "vaos"
BASELINE = re.compile(
    r"\b(run|execute|send|deploy|delete|create|generate|write|build|analyze|report|compare|fix|update|"
    r"migrate|debug|please|can you|thanks|urgent|asap|error|bug|crash|remind|summarize)\b",
    re.IGNORECASE,
)


def corpus(n: int) -> list[str]:
    texts = [json.loads(line)["text"] for line in LABELLED.read_text(encoding="utf-8").splitlines()]
    # Distinct messages (a suffix per copy) so no cache could flatter the figures.
    return [f"{texts[i % len(texts)]} #{i}" for i in range(n)]


def percentile(sorted_values: list[float], q: float) -> float:
    return sorted_values[min(len(sorted_values) - 1, int(q * len(sorted_values)))]


def time_each(fn: object, messages: list[str]) -> tuple[float, list[float]]:
    call = fn  # type: ignore[assignment]
    clock = time.perf_counter_ns
    samples: list[float] = []
    start = clock()
    for m in messages:
        t0 = clock()
        call(m)  # type: ignore[operator]
        samples.append((clock() - t0) / 1000)
    total = (clock() - start) / 1e9
    samples.sort()
    return len(messages) / total, samples


def batch_cli(messages: list[str]) -> float:
    data = "\n".join(m.replace("\n", " ") for m in messages).encode()
    start = time.perf_counter()
    done = subprocess.run([str(VAOS), "classify", "--json", "-"], input=data, capture_output=True, check=True)
    elapsed = time.perf_counter() - start
    assert len(done.stdout.splitlines()) == len(messages)
    return len(messages) / elapsed


def cold_start(runs: int, *args: str) -> float:
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(list(args), capture_output=True, check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=20_000)
    parser.add_argument("--cold-runs", type=int, default=15)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})

    from vaos.signal.classifier import get_classifier

    classifier = get_classifier()
    messages = corpus(args.messages)
    for m in messages[:2000]:  # warm-up: lexicon built, caches hot
        classifier.classify(m)
        BASELINE.findall(m)

    vaos_rate, vaos_us = time_each(classifier.classify, messages)
    base_rate, base_us = time_each(BASELINE.findall, messages)
    batch_rate = batch_cli(messages[:10_000])
    cold = cold_start(args.cold_runs, str(VAOS), "classify", "--json", "restart nginx on prod")
    bare = cold_start(args.cold_runs, sys.executable, "-c", "pass")

    table = Table(title=f"vaos classify benchmark ({len(messages):,} distinct messages, one core)")
    for column in ("measure", "vaos", "baseline: one regex pass", "ratio"):
        table.add_column(column, justify="right")
    table.add_row(
        "messages/s (single calls)", f"{vaos_rate:,.0f}", f"{base_rate:,.0f}", f"{vaos_rate / base_rate:.2f}x"
    )
    for q in (0.5, 0.99):
        v, b = percentile(vaos_us, q), percentile(base_us, q)
        table.add_row(f"p{int(q * 100)} per message (µs)", f"{v:.1f}", f"{b:.1f}", f"{v / b:.1f}x")
    table.add_row("max per message (µs)", f"{vaos_us[-1]:.0f}", f"{base_us[-1]:.0f}", "")
    table.add_row("batch CLI, 10,000 lines (messages/s)", f"{batch_rate:,.0f}", "", "")
    table.add_row("cold start `vaos classify` (s, median)", f"{cold:.3f}", f"{bare:.3f} (bare python)", "")
    Console().print(table)
    print(
        json.dumps(
            {
                "messages_per_s": round(vaos_rate),
                "p50_us": round(percentile(vaos_us, 0.5), 1),
                "p99_us": round(percentile(vaos_us, 0.99), 1),
                "baseline_messages_per_s": round(base_rate),
                "batch_cli_messages_per_s": round(batch_rate),
                "cold_start_s": round(cold, 3),
            }
        )
    )


if __name__ == "__main__":
    main()
