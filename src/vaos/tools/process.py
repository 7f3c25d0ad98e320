"""Running a child process for a tool: its own process group, a timeout, an output cap, and
the whole group killed on timeout or cancellation (no orphan keeps running)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

READ_CHUNK = 65536


@dataclass(frozen=True, slots=True)
class ProcessResult:
    returncode: int | None
    output: str
    total_bytes: int
    timed_out: bool = False

    @property
    def truncated(self) -> bool:
        return self.total_bytes > len(self.output.encode("utf-8", errors="replace"))


async def run_process(
    argv: Sequence[str],
    *,
    cwd: Path,
    env: Mapping[str, str],
    timeout: float,  # noqa: ASYNC109 - the child's lifetime, enforced with asyncio.timeout inside
    max_output_bytes: int,
    stdin: bytes | None = None,
) -> ProcessResult:
    """Run ``argv``; stdout and stderr merged; output beyond ``max_output_bytes`` is counted
    and dropped. Raises ``OSError`` when the program cannot be started."""
    proc = await asyncio.create_subprocess_exec(
        *argv,
        cwd=str(cwd),
        env=dict(env),
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        start_new_session=True,
    )
    kept = bytearray()
    total = 0

    async def pump() -> None:
        nonlocal total
        assert proc.stdout is not None
        if stdin is not None and proc.stdin is not None:
            proc.stdin.write(stdin)
            with contextlib.suppress(ConnectionError):
                await proc.stdin.drain()
            proc.stdin.close()
        while True:
            chunk = await proc.stdout.read(READ_CHUNK)
            if not chunk:
                break
            total += len(chunk)
            room = max_output_bytes - len(kept)
            if room > 0:
                kept.extend(chunk[:room])
        await proc.wait()

    timed_out = False
    try:
        async with asyncio.timeout(timeout):
            await pump()
    except TimeoutError:
        timed_out = True
        _kill_group(proc.pid)
        with contextlib.suppress(ProcessLookupError):
            await asyncio.wait_for(proc.wait(), 5)
    except BaseException:
        _kill_group(proc.pid)
        with contextlib.suppress(Exception):
            await asyncio.shield(asyncio.wait_for(proc.wait(), 5))
        raise
    finally:
        if proc.returncode is None:
            _kill_group(proc.pid)
    text = bytes(kept).decode("utf-8", errors="replace")
    return ProcessResult(proc.returncode, text, total, timed_out)


def _kill_group(pid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, signal.SIGKILL)
