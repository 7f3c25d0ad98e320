"""The embedded model through VAOS's provider interface against bare llama-cpp-python,
same model file, same loaded weights, same prompts and sampling, in the same run.

Measures decode tokens/s (streamed chunks after the first, over the time after the first)
and first-token latency
(from the call to the first text chunk, model already loaded). Rounds alternate between
the two so background load hits both alike; medians are reported.

Targets: VAOS at least 0.9x bare tokens/s, first token at most 0.5 s.
Run: ``.venv/bin/python bench/local_model.py [--rounds 5] [--max-tokens 128]``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import time
from typing import Any

from vaos.providers.local import LocalModelConfig, LocalProvider, find_model_file, load_llama
from vaos.providers.types import Request, TextDelta

SYSTEM = "You are a helpful assistant."
PROMPTS = [
    "Write a short story about a lighthouse keeper.",
    "Explain how a bicycle stays upright.",
    "Describe the water cycle to a child.",
    "List some tips for learning a new language.",
]


def bare_run(llama: Any, prompt: str, max_tokens: int) -> tuple[int, float, float]:
    messages = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": prompt}]
    llama.reset()  # VAOS starts every generation from an empty context too
    start = time.perf_counter()
    first = None
    tokens = 0
    for chunk in llama.create_chat_completion(
        messages=messages, max_tokens=max_tokens, temperature=0.0, repeat_penalty=1.1, seed=0, stream=True
    ):
        if chunk["choices"][0]["delta"].get("content"):
            tokens += 1
            if first is None:
                first = time.perf_counter() - start
    return tokens, first or 0.0, time.perf_counter() - start


async def vaos_run(provider: LocalProvider, prompt: str, max_tokens: int) -> tuple[int, float, float]:
    request = Request.of(prompt, system=SYSTEM, max_tokens=max_tokens, temperature=0.0)
    start = time.perf_counter()
    first = None
    tokens = 0
    async for event in provider.stream(request):
        if isinstance(event, TextDelta):
            tokens += 1
            if first is None:
                first = time.perf_counter() - start
    return tokens, first or 0.0, time.perf_counter() - start


async def main_async(rounds: int, max_tokens: int) -> dict[str, Any]:
    config = LocalModelConfig(str(find_model_file()))
    started = time.perf_counter()
    llama = await asyncio.to_thread(load_llama, config)
    load_s = time.perf_counter() - started
    provider = LocalProvider(model_path=config.path)
    await provider.load()
    bare_run(llama, "Hi", 4)  # warm up both paths
    await vaos_run(provider, "Hi", 4)
    results: dict[str, list[tuple[int, float, float]]] = {"bare": [], "vaos": []}
    for r in range(rounds):
        for prompt in PROMPTS:
            order = ("bare", "vaos") if r % 2 == 0 else ("vaos", "bare")
            for who in order:
                if who == "bare":
                    results["bare"].append(await asyncio.to_thread(bare_run, llama, prompt, max_tokens))
                else:
                    results["vaos"].append(await vaos_run(provider, prompt, max_tokens))
    summary: dict[str, Any] = {
        "benchmark": "local_model",
        "model": config.path.rsplit("/", 1)[-1],
        "load_s": round(load_s, 3),
    }
    for who, runs in results.items():
        rates = [(n - 1) / (total - first) for n, first, total in runs if n > 1 and total > first]
        summary[who] = {
            "tokens_per_s": round(statistics.median(rates), 1),
            "first_token_s": round(statistics.median(r[1] for r in runs), 4),
            "first_token_p90_s": round(sorted(r[1] for r in runs)[int(0.9 * (len(runs) - 1))], 4),
            "tokens": sum(r[0] for r in runs),
            "runs": len(runs),
        }
    ratio = summary["vaos"]["tokens_per_s"] / summary["bare"]["tokens_per_s"]
    summary["vaos_vs_bare"] = round(ratio, 3)
    summary["meets_targets"] = ratio >= 0.9 and summary["vaos"]["first_token_s"] <= 0.5
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--max-tokens", type=int, default=128)
    args = parser.parse_args()
    print(json.dumps(asyncio.run(main_async(args.rounds, args.max_tokens))))
    return 0


if __name__ == "__main__":
    sys.exit(main())
