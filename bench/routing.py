"""Routing decision time: ``Router.decide`` on classified messages, no model call.

Target: p99 under 100 µs. Run: ``.venv/bin/python bench/routing.py [--n 20000]``.
Prints one JSON line with the percentiles in microseconds.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import sys
import time
from pathlib import Path

from vaos.config import RoutingSettings, Settings
from vaos.providers.registry import ProviderRegistry
from vaos.routing.budget import BudgetTracker
from vaos.routing.router import Router
from vaos.signal.classifier import DeterministicClassifier

MESSAGES = [
    "hi",
    "What is the capital of France?",
    "Please deploy the payments service to production now.",
    "Production is down: the payments API returns 500 errors for every request, fix it now!",
    "Refactor the backend API and then migrate the database; first write the tests, finally deploy.",
    "Summarize yesterday's incident report for the team in three bullet points.",
    "Can you explain how the circuit breaker in our HTTP client decides to open?",
    "I will handle the release notes tomorrow morning.",
    "```python\ndef f(x):\n    return x * 2\n```\nWhy does this return None when called from the worker?",
    " ".join(["Design a comprehensive architecture for a multi-region event pipeline with replay."] * 8),
]


def percentile(sorted_values: list[float], q: float) -> float:
    index = min(len(sorted_values) - 1, max(0, round(q * (len(sorted_values) - 1))))
    return sorted_values[index]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--n", type=int, default=20_000, help="decisions to time")
    args = parser.parse_args()

    env = {"OPENAI_API_KEY": "x", "GROQ_API_KEY": "x", "DEEPSEEK_API_KEY": "x"}
    settings = Settings(
        home=Path("/nonexistent"), routing=RoutingSettings(chain=["groq", "openai", "deepseek"])
    )
    budget = BudgetTracker(session_limit_usd=5.0, daily_limit_usd=50.0)
    router = Router.from_settings(settings, ProviderRegistry(settings, environ=env), budget)
    classifier = DeterministicClassifier()
    signals = [(classifier.classify(m), m) for m in MESSAGES]

    for signal, text in signals * 200:  # warm up
        router.decide(signal, text, session_id="bench")

    timings: list[float] = []
    gc.disable()
    try:
        clock = time.perf_counter_ns
        for i in range(args.n):
            signal, text = signals[i % len(signals)]
            start = clock()
            router.decide(signal, text, session_id="bench")
            timings.append((clock() - start) / 1000)
    finally:
        gc.enable()
    timings.sort()
    result = {
        "benchmark": "routing.decide",
        "n": args.n,
        "p50_us": round(percentile(timings, 0.50), 2),
        "p90_us": round(percentile(timings, 0.90), 2),
        "p99_us": round(percentile(timings, 0.99), 2),
        "max_us": round(timings[-1], 2),
        "mean_us": round(statistics.fmean(timings), 2),
        "target_p99_us": 100,
    }
    result["meets_target"] = result["p99_us"] < 100
    print(json.dumps(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
