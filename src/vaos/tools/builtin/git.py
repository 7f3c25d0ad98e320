"""``git``: structured git operations in the workspace, run without a shell.

Hooks are disabled for every call (``core.hooksPath=/dev/null``), so a file written into the
repository cannot make a commit run code; nothing rewrites or deletes history (no reset
--hard, no force push, no branch -D, no clean), and nothing reaches the network.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import Field

from vaos.tools.base import Safety, Tool, ToolArgs, ToolContext, ToolError, ToolServices
from vaos.tools.process import run_process
from vaos.tools.shell_policy import ShellPolicy

_REF = re.compile(r"^(?!-)[A-Za-z0-9._/@{}^~:+-]{1,200}$")
_SAFE_CONFIG = (
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.fsmonitor=false",
    "-c",
    "core.pager=cat",
    "-c",
    "color.ui=false",
    "-c",
    "core.quotePath=false",
)
OUTPUT_BYTES = 200_000

Operation = Literal[
    "status",
    "diff",
    "log",
    "show",
    "blame",
    "branch",
    "switch",
    "add",
    "commit",
    "stash",
    "tag",
    "init",
]


class GitArgs(ToolArgs):
    operation: Operation = Field(description="What to do.")
    path: str | None = Field(default=None, description="A file or directory (diff, log, blame, add).")
    files: list[str] | None = Field(default=None, description="Files to stage (add).")
    ref: str | None = Field(default=None, description="A commit, branch or range (diff, log, show).")
    message: str | None = Field(default=None, max_length=10_000, description="Commit or stash message.")
    staged: bool = Field(default=False, description="diff: the staged changes.")
    count: int = Field(default=15, ge=1, le=500, description="log: how many commits.")
    branch_name: str | None = Field(default=None, description="branch: create this; switch: to this.")
    stash_action: Literal["list", "push", "pop"] = "list"
    line_start: int | None = Field(default=None, ge=1, description="blame: first line.")
    line_end: int | None = Field(default=None, ge=1, description="blame: last line.")


def _ref(value: str | None, what: str) -> str:
    if value is None or not _REF.match(value):
        raise ToolError(f"invalid {what}: {value!r}")
    return value


class Git(Tool[GitArgs]):
    name = "git"
    description = (
        "Git in the workspace: status, diff, log, show, blame, branch (list or create), switch, add, "
        "commit, stash (list/push/pop), tag (list), init. No history rewriting, no network."
    )
    args_model = GitArgs
    safety: Safety = "execute"

    def resources(self, args: GitArgs, services: ToolServices) -> frozenset[str] | None:
        if args.operation in ("status", "diff", "log", "show", "blame"):
            return frozenset({"git:read"})
        return None

    async def run(self, args: GitArgs, ctx: ToolContext) -> str:
        ws = ctx.workspace
        op = args.operation

        def rel(path: str) -> str:  # resolves (and so refuses) every path the model gives
            return ws.relative(ws.resolve(path))

        argv: list[str]
        if op == "status":
            argv = ["status", "--short", "--branch"]
        elif op == "diff":
            argv = ["diff", "--stat", "--patch"]
            if args.staged:
                argv.append("--cached")
            if args.ref:
                argv.append(_ref(args.ref, "ref"))
            if args.path:
                argv += ["--", rel(args.path)]
        elif op == "log":
            argv = ["log", f"-n{args.count}", "--format=%h %ad %an: %s", "--date=short"]
            if args.ref:
                argv.append(_ref(args.ref, "ref"))
            if args.path:
                argv += ["--", rel(args.path)]
        elif op == "show":
            argv = ["show", "--stat", "--patch", _ref(args.ref or "HEAD", "ref")]
        elif op == "blame":
            if not args.path:
                raise ToolError("blame needs path")
            argv = ["blame", "--date=short"]
            if args.line_start:
                argv += ["-L", f"{args.line_start},{args.line_end or args.line_start + 50}"]
            argv += ["--", rel(args.path)]
        elif op == "branch":
            argv = ["branch", _ref(args.branch_name, "branch name")] if args.branch_name else ["branch", "-a"]
        elif op == "switch":
            argv = ["switch", _ref(args.branch_name, "branch name")]
        elif op == "add":
            paths = list(args.files or []) + ([args.path] if args.path else [])
            if not paths:
                raise ToolError("add needs path or files")
            for p in paths:
                ws.resolve(p, write=True)
            argv = ["add", "--", *(rel(p) for p in paths)]
        elif op == "commit":
            if not args.message or not args.message.strip():
                raise ToolError("commit needs a message")
            argv = ["commit", "-m", args.message]
        elif op == "stash":
            argv = ["stash", args.stash_action]
            if args.stash_action == "push" and args.message:
                argv += ["-m", args.message]
        elif op == "tag":
            argv = ["tag", "--list"]
        else:  # init
            argv = ["init"]
        return await self._git(argv, ctx)

    async def _git(self, argv: list[str], ctx: ToolContext) -> str:
        policy = ShellPolicy.default()
        env = policy.environment()
        env.update(GIT_TERMINAL_PROMPT="0", GIT_OPTIONAL_LOCKS="0", GIT_CONFIG_NOSYSTEM="1")
        if argv[0] == "commit":
            env.setdefault("GIT_AUTHOR_NAME", "VAOS")
            env.setdefault("GIT_AUTHOR_EMAIL", "vaos@localhost")
            env.setdefault("GIT_COMMITTER_NAME", "VAOS")
            env.setdefault("GIT_COMMITTER_EMAIL", "vaos@localhost")
            has_identity = await run_process(
                ["git", *_SAFE_CONFIG, "config", "user.email"],
                cwd=ctx.workspace.root,
                env=env,
                timeout=10,
                max_output_bytes=1000,
            )
            if has_identity.returncode == 0 and has_identity.output.strip():
                for key in (
                    "GIT_AUTHOR_NAME",
                    "GIT_AUTHOR_EMAIL",
                    "GIT_COMMITTER_NAME",
                    "GIT_COMMITTER_EMAIL",
                ):
                    env.pop(key, None)
        timeout = min(60.0, ctx.settings.agent.tool_timeout)
        try:
            result = await run_process(
                ["git", *_SAFE_CONFIG, *argv],
                cwd=ctx.workspace.root,
                env=env,
                timeout=timeout,
                max_output_bytes=OUTPUT_BYTES,
            )
        except OSError as exc:
            raise ToolError(f"git is not available: {exc}") from None
        output = result.output.strip()
        if result.timed_out:
            raise ToolError(f"git {argv[0]} timed out after {timeout:g} s")
        if result.returncode != 0:
            raise ToolError(f"git {argv[0]} failed (exit {result.returncode}): {output}")
        if result.truncated:
            output += f"\n[output truncated: {result.total_bytes} bytes]"
        return output or "(no output)"


TOOLS: tuple[type[Tool[Any]], ...] = (Git,)
