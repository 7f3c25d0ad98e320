"""``shell_execute``: one command through ``/bin/sh`` in the workspace, under the shell policy,
with a timeout, an output cap and an environment without secrets."""

from __future__ import annotations

import asyncio
from typing import Any

from pydantic import Field

from vaos.tools.base import Safety, Tool, ToolArgs, ToolContext, ToolError, ToolServices
from vaos.tools.process import run_process
from vaos.tools.shell_policy import ShellPolicy


class ShellArgs(ToolArgs):
    command: str = Field(min_length=1, max_length=10_000, description="The command line (sh syntax).")
    cwd: str = Field(default=".", description="Working directory inside the workspace.")
    timeout: float | None = Field(default=None, gt=0, description="Seconds; at most the configured limit.")


class ShellExecute(Tool[ShellArgs]):
    name = "shell_execute"
    description = (
        "Run a shell command in the workspace and return its output (stdout and stderr). "
        "Dangerous commands (rm, sudo, kill, download-and-run, force pushes, ...) are refused; "
        "secrets are not in its environment."
    )
    args_model = ShellArgs
    safety: Safety = "execute"

    def __init__(self) -> None:
        self._policy: ShellPolicy | None = None
        self._slots: asyncio.Semaphore | None = None

    def policy(self, services: ToolServices) -> ShellPolicy:
        if self._policy is None:
            self._policy = ShellPolicy.default(services.settings.tools.shell_env)
        return self._policy

    def resources(self, args: ShellArgs, services: ToolServices) -> frozenset[str] | None:
        return None  # a command may touch anything: it runs after the calls before it

    async def run(self, args: ShellArgs, ctx: ToolContext) -> str:
        settings = ctx.settings.tools
        command = args.command.strip()
        for prefix in ("nohup ",):
            if command.startswith(prefix):
                command = command[len(prefix) :].strip()
        command = command.rstrip("&").rstrip()
        protected = [str(p) for p in ctx.workspace.protected]
        reason = self.policy(ctx.services).check(command, protected=protected)
        if reason is not None:
            raise ToolError(f"blocked by the shell policy: {reason}")
        cwd = ctx.workspace.resolve(args.cwd)
        if not cwd.is_dir():
            raise ToolError(f"working directory {args.cwd} does not exist")
        limit = min(
            args.timeout or settings.shell_timeout, settings.shell_timeout, ctx.settings.agent.tool_timeout
        )
        if self._slots is None:
            self._slots = asyncio.Semaphore(settings.shell_concurrency)
        async with self._slots:
            try:
                result = await run_process(
                    ["/bin/sh", "-c", command],
                    cwd=cwd,
                    env=self.policy(ctx.services).environment(),
                    timeout=limit,
                    max_output_bytes=settings.shell_output_bytes,
                )
            except OSError as exc:
                raise ToolError(f"cannot start the shell: {exc}") from None
        output = result.output.rstrip("\n")
        if result.truncated:
            output += (
                f"\n[output truncated: {result.total_bytes} bytes, first {settings.shell_output_bytes} kept]"
            )
        if result.timed_out:
            raise ToolError(f"timed out after {limit:g} s (the command was killed)\n{output}".rstrip())
        if result.returncode != 0:
            raise ToolError(f"exit code {result.returncode}\n{output}".rstrip())
        return output or "(no output)"


TOOLS: tuple[type[Tool[Any]], ...] = (ShellExecute,)
