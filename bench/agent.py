"""Agent loop benchmark: loop overhead per iteration and tool dispatch throughput.

    .venv/bin/python bench/agent.py [--iterations 20] [--runs 30] [--calls 5000]

Overhead per iteration: a zero-latency scripted model asks for one no-op tool call per
iteration, then answers; the time of a run with N iterations minus a run with one, divided
by N - 1, is what the loop itself costs per step (context building, the call through the
routing layer, hooks, the executor, events, and storing two messages in SQLite).
Throughput: the executor running the no-op tool alone (hooks on), and in batches of 50.
Governance is off except in the row that says so (an embedded kernel: a token and an audit
record, fsynced, per tool call; the tool is then ``budget_status``, which the policy knows).
Target: at most 2 ms per iteration.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

from vaos.agent.runtime import AgentRuntime, open_runtime
from vaos.config import Settings
from vaos.providers.testing import Reply, ScriptedProvider
from vaos.providers.types import ToolCall
from vaos.tools.base import NoArgs, Tool, ToolContext

TASK = "Please read the README.md file and summarize it for me"
TARGET_MS = 2.0


class Noop(Tool[NoArgs]):
    name = "noop"
    description = "Does nothing."
    args_model = NoArgs

    async def run(self, args: NoArgs, ctx: ToolContext) -> str:
        return "ok"


def script(iterations: int, tool: str) -> list[Reply]:
    steps = [Reply("", [ToolCall(f"c{i}", tool, {})], chunks=1) for i in range(iterations - 1)]
    return [*steps, Reply("done", chunks=1)]


async def timed_run(runtime: AgentRuntime, iterations: int, tool: str) -> float:
    model = ScriptedProvider("bench", script(iterations, tool), repeat_last=False)
    agent = runtime.agent(model_override=model)
    started = time.perf_counter()
    result = await agent.run(TASK)
    elapsed = time.perf_counter() - started
    assert result.iterations == iterations and result.output == "done", result.stop_reason
    return elapsed


async def per_iteration(
    runtime: AgentRuntime, iterations: int, runs: int, tool: str = "noop"
) -> tuple[float, float, float]:
    await timed_run(runtime, iterations, tool)  # warm up (imports, caches, SQLite pages)
    await timed_run(runtime, 1, tool)
    long_runs, short_runs = [], []
    for _ in range(runs):
        long_runs.append(await timed_run(runtime, iterations, tool))
        short_runs.append(await timed_run(runtime, 1, tool))
    per = (statistics.median(long_runs) - statistics.median(short_runs)) / (iterations - 1)
    return per * 1000, statistics.median(short_runs) * 1000, statistics.median(long_runs) * 1000


async def dispatch(runtime: AgentRuntime, calls: int) -> tuple[float, float]:
    executor = runtime.executor
    for i in range(50):
        await executor.run_one(
            ToolCall(f"w{i}", "noop", {}), session_id="bench", agent_id="vaos", intent="bench"
        )
    started = time.perf_counter()
    for i in range(calls):
        await executor.run_one(
            ToolCall(f"s{i}", "noop", {}), session_id="bench", agent_id="vaos", intent="bench"
        )
    sequential = calls / (time.perf_counter() - started)
    batch = [ToolCall(f"b{i}", "noop", {}) for i in range(50)]
    started = time.perf_counter()
    for _ in range(calls // 50):
        await executor.run_batch(batch, session_id="bench", agent_id="vaos", intent="bench")
    batched = (calls // 50) * 50 / (time.perf_counter() - started)
    return sequential, batched


def settings_for(home: Path, **extra: Any) -> Settings:
    workspace = home / "ws"
    workspace.mkdir(parents=True, exist_ok=True)
    return Settings(
        home=home,
        tools={"workspace": workspace},
        signal={"llm_enabled": False},
        agent={"max_iterations": 200},
        **extra,
    )


async def main(iterations: int, runs: int, calls: int) -> None:
    rows: list[tuple[str, str, str]] = []
    with tempfile.TemporaryDirectory(prefix="vaos-bench-") as tmp:
        async with open_runtime(settings_for(Path(tmp) / "a"), governance=False, mcp=False) as runtime:
            runtime.tools.register(Noop())
            per, short, long = await per_iteration(runtime, iterations, runs)
            verdict = "ok" if per <= TARGET_MS else "over"
            rows.append(("loop overhead per iteration", f"{per:.3f} ms", f"<= {TARGET_MS} ms ({verdict})"))
            rows.append(
                (f"run with 1 iteration (median of {runs})", f"{short:.2f} ms", "classify, session, store")
            )
            rows.append((f"run with {iterations} iterations", f"{long:.2f} ms", ""))
            sequential, batched = await dispatch(runtime, calls)
            rows.append(("tool dispatch, one at a time", f"{sequential:,.0f} calls/s", "hooks, events"))
            rows.append(("tool dispatch, batches of 50", f"{batched:,.0f} calls/s", "parallel executor"))
        async with open_runtime(settings_for(Path(tmp) / "b"), mcp=False) as runtime:
            # a built-in read-only tool: the kernel policy knows its action type
            per, _, _ = await per_iteration(runtime, 6, max(3, runs // 5), tool="budget_status")
            rows.append(("per iteration, governance enforce", f"{per:.3f} ms", "kernel token + audit record"))
    width = max(len(r[0]) for r in rows)
    print(f"{'measure':<{width}}  {'result':>16}  note")
    print(f"{'-' * width}  {'-' * 16}  {'-' * 30}")
    for name, value, note in rows:
        print(f"{name:<{width}}  {value:>16}  {note}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--runs", type=int, default=30)
    parser.add_argument("--calls", type=int, default=5000)
    options = parser.parse_args()
    asyncio.run(main(options.iterations, options.runs, options.calls))
