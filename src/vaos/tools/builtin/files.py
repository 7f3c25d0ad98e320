"""File tools, confined to the workspace: read, write, edit, multi-edit, glob, grep, list, diff."""

from __future__ import annotations

import asyncio
import difflib
import fnmatch
import functools
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Literal

from pydantic import Field

from vaos.tools.base import Safety, Tool, ToolArgs, ToolContext, ToolError, ToolServices
from vaos.tools.workspace import PathRefusedError, Workspace

MAX_READ_BYTES = 1_000_000
MAX_WRITE_BYTES = 5_000_000
MAX_GLOB_RESULTS = 200
MAX_LIST_ENTRIES = 1000
MAX_GREP_FILES = 5000
MAX_GREP_FILE_BYTES = 2_000_000
GREP_OUTPUT_CHARS = 20_000
SKIP_DIRS = frozenset(
    {
        ".git",
        "node_modules",
        ".venv",
        "venv",
        "__pycache__",
        ".mypy_cache",
        ".ruff_cache",
        ".pytest_cache",
        "dist",
        "build",
        "target",
        ".tox",
        ".cache",
        ".idea",
        ".hg",
        ".svn",
    }
)


def _looks_binary(data: bytes) -> bool:
    return b"\x00" in data[:8192]


def _size(n: int) -> str:
    if n == 0:
        return "-"
    if n < 1024:
        return f"{n}B"
    if n < 1024 * 1024:
        return f"{n / 1024:.1f}K"
    return f"{n / (1024 * 1024):.1f}M"


def walk_files(ws: Workspace, base: Path, *, limit: int) -> Iterator[Path]:
    """Files under ``base`` (inside the workspace), skipping caches, VCS data and secrets;
    symbolic links are followed only when they stay inside the workspace."""
    count = 0
    for dirpath, dirnames, filenames in os.walk(base, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            path = Path(dirpath) / name
            real = Path(os.path.realpath(path))
            if not (real == ws.root or real.is_relative_to(ws.root)) or ws.is_secret(real):
                continue
            if any(real.is_relative_to(p) for p in ws.protected):
                continue
            yield path
            count += 1
            if count >= limit:
                return


class _FileTool(Tool[Any]):
    def resources(self, args: Any, services: ToolServices) -> frozenset[str] | None:
        path = getattr(args, "path", None)
        try:
            resolved = services.workspace.resolve(path)
        except PathRefusedError:
            return frozenset()
        prefix = "w:" if self.safety != "read_only" else "r:"
        return frozenset({prefix + str(resolved)})


# -- file_read --------------------------------------------------------------------------


class FileReadArgs(ToolArgs):
    path: str = Field(description="File path, relative to the workspace (or absolute inside it).")
    offset: int | None = Field(default=None, ge=1, description="First line to show (1-based).")
    limit: int | None = Field(default=None, ge=1, le=100_000, description="How many lines to show.")


class FileRead(_FileTool):
    name = "file_read"
    description = (
        "Read a text file in the workspace. With offset/limit, returns numbered lines; read before "
        "you edit a file."
    )
    args_model = FileReadArgs

    async def run(self, args: FileReadArgs, ctx: ToolContext) -> str:
        path = ctx.workspace.resolve(args.path)
        if not path.exists():
            raise ToolError(f"no such file: {args.path}")
        if path.is_dir():
            raise ToolError(f"{args.path} is a directory; use dir_list")
        size = path.stat().st_size
        with path.open("rb") as fh:
            data = fh.read(MAX_READ_BYTES + 1)
        if _looks_binary(data):
            return f"{args.path} is a binary file ({size} bytes); not shown."
        text = data[:MAX_READ_BYTES].decode("utf-8", errors="replace")
        cut = size > MAX_READ_BYTES
        if args.offset is None and args.limit is None:
            if cut:
                text += f"\n\n[file is {size} bytes; showing the first {MAX_READ_BYTES}. Use offset/limit.]"
            return text if text else "(empty file)"
        lines = text.splitlines()
        start = (args.offset or 1) - 1
        end = start + args.limit if args.limit is not None else len(lines)
        chosen = lines[start:end]
        if not chosen:
            raise ToolError(f"no lines in range for {args.path} (it has {len(lines)} lines)")
        return "\n".join(f"{n:6d}| {line}" for n, line in enumerate(chosen, start=start + 1))


# -- file_write -------------------------------------------------------------------------


class FileWriteArgs(ToolArgs):
    path: str = Field(description="File path inside the workspace; parent directories are created.")
    content: str = Field(description="The whole new content of the file.")


class FileWrite(_FileTool):
    name = "file_write"
    description = "Create or overwrite a file in the workspace with the given content."
    args_model = FileWriteArgs
    safety: Safety = "write"

    async def run(self, args: FileWriteArgs, ctx: ToolContext) -> str:
        path = ctx.workspace.resolve(args.path, write=True)
        data = args.content.encode("utf-8")
        if len(data) > MAX_WRITE_BYTES:
            raise ToolError(f"content too large ({len(data)} bytes, at most {MAX_WRITE_BYTES})")
        if path.is_dir():
            raise ToolError(f"{args.path} is a directory")
        existed = path.exists()
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        verb = "Overwrote" if existed else "Created"
        return f"{verb} {ctx.workspace.relative(path)} ({len(data)} bytes)."


# -- file_edit / multi_file_edit ---------------------------------------------------------


def _replace(text: str, old: str, new: str, replace_all: bool, label: str) -> tuple[str, int]:
    if old == new:
        raise ToolError(f"{label}: old_string and new_string are identical")
    if not old:
        raise ToolError(f"{label}: old_string is empty")
    count = text.count(old)
    if count == 0:
        raise ToolError(f"{label}: old_string not found")
    if count > 1 and not replace_all:
        raise ToolError(
            f"{label}: old_string found {count} times — it must be unique. Add more surrounding "
            "context or set replace_all."
        )
    return text.replace(old, new) if replace_all else text.replace(old, new, 1), count if replace_all else 1


def _mini_diff(before: str, after: str, name: str, limit: int = 60) -> str:
    lines = list(
        difflib.unified_diff(
            before.splitlines(), after.splitlines(), f"a/{name}", f"b/{name}", n=2, lineterm=""
        )
    )
    if len(lines) > limit:
        lines = [*lines[:limit], f"... ({len(lines) - limit} more diff lines)"]
    return "\n".join(lines)


def _read_text(path: Path, label: str) -> str:
    if not path.is_file():
        raise ToolError(f"{label}: no such file")
    data = path.read_bytes()
    if _looks_binary(data):
        raise ToolError(f"{label}: binary file")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ToolError(f"{label}: not UTF-8 text") from None


class FileEditArgs(ToolArgs):
    path: str = Field(description="File to edit (read it first).")
    old_string: str = Field(description="Exact text to replace; must occur once unless replace_all.")
    new_string: str = Field(description="Replacement text.")
    replace_all: bool = Field(default=False, description="Replace every occurrence.")


class FileEdit(_FileTool):
    name = "file_edit"
    description = "Replace an exact string in a workspace file (read the file first)."
    args_model = FileEditArgs
    safety: Safety = "write"

    async def run(self, args: FileEditArgs, ctx: ToolContext) -> str:
        path = ctx.workspace.resolve(args.path, write=True)
        before = _read_text(path, args.path)
        after, count = _replace(before, args.old_string, args.new_string, args.replace_all, args.path)
        path.write_text(after, encoding="utf-8")
        rel = ctx.workspace.relative(path)
        head = f"Replaced {count} occurrence{'s' if count != 1 else ''} in {rel}."
        return head + "\n" + _mini_diff(before, after, rel)


class EditSpec(ToolArgs):
    path: str = Field(description="File to edit.")
    old_string: str = Field(description="Exact text to replace.")
    new_string: str = Field(description="Replacement text.")
    replace_all: bool = False


class MultiFileEditArgs(ToolArgs):
    edits: list[EditSpec] = Field(min_length=1, max_length=20, description="Applied in order; all or none.")


class MultiFileEdit(Tool[MultiFileEditArgs]):
    name = "multi_file_edit"
    description = (
        "Apply several exact-string edits across files, in order, all or nothing (at most 20). "
        "Later edits see the result of earlier ones in the same file."
    )
    args_model = MultiFileEditArgs
    safety: Safety = "write"

    def resources(self, args: MultiFileEditArgs, services: ToolServices) -> frozenset[str] | None:
        out: set[str] = set()
        for edit in args.edits:
            try:
                out.add("w:" + str(services.workspace.resolve(edit.path)))
            except PathRefusedError:
                continue
        return frozenset(out)

    async def run(self, args: MultiFileEditArgs, ctx: ToolContext) -> str:
        contents: dict[Path, str] = {}
        originals: dict[Path, str] = {}
        counts: dict[Path, int] = {}
        problems: list[str] = []
        for i, edit in enumerate(args.edits, start=1):
            label = f"[edit {i}] {edit.path}"
            try:
                path = ctx.workspace.resolve(edit.path, write=True)
                if path not in contents:
                    contents[path] = originals[path] = _read_text(path, label)
                contents[path], n = _replace(
                    contents[path], edit.old_string, edit.new_string, edit.replace_all, label
                )
                counts[path] = counts.get(path, 0) + n
            except ToolError as exc:
                problems.append(str(exc))
        if problems:
            raise ToolError("validation failed — no edits applied:\n" + "\n".join(problems))
        for path, text in contents.items():
            path.write_text(text, encoding="utf-8")
        lines = [f"Applied {len(args.edits)} edits across {len(contents)} file(s):"]
        lines += [f"  {ctx.workspace.relative(p)}: {counts[p]} replacement(s)" for p in contents]
        return "\n".join(lines)


# -- file_glob --------------------------------------------------------------------------


class FileGlobArgs(ToolArgs):
    pattern: str = Field(description="Glob such as '**/*.py' or 'src/*.md'.")
    path: str = Field(default=".", description="Directory to search from.")


class FileGlob(_FileTool):
    name = "file_glob"
    description = "Find files by glob pattern in the workspace (sorted, at most 200)."
    args_model = FileGlobArgs

    async def run(self, args: FileGlobArgs, ctx: ToolContext) -> str:
        if args.pattern.startswith(("/", "~")) or ".." in Path(args.pattern).parts:
            raise PathRefusedError(f"{args.pattern!r}: the pattern must stay inside the workspace")
        base = ctx.workspace.resolve(args.path)
        if not base.is_dir():
            raise ToolError(f"{args.path} is not a directory")
        rel_pattern = args.pattern
        matches: list[str] = []
        for path in walk_files(ctx.workspace, base, limit=50_000):
            rel = path.relative_to(base).as_posix()
            if _glob_match(rel, rel_pattern):
                matches.append(ctx.workspace.relative(path))
        matches.sort()
        if not matches:
            return f"No files matched pattern: {args.pattern}"
        shown = matches[:MAX_GLOB_RESULTS]
        more = f" (showing first {MAX_GLOB_RESULTS})" if len(matches) > MAX_GLOB_RESULTS else ""
        return f"{len(matches)} files found{more}:\n" + "\n".join(shown)


def _glob_match(rel: str, pattern: str) -> bool:
    """Shell-style: ``*`` and ``?`` stay within one path segment, ``**`` crosses them."""
    return _glob_regex(pattern).fullmatch(rel) is not None


@functools.lru_cache(maxsize=256)
def _glob_regex(pattern: str) -> re.Pattern[str]:
    out = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            out.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            out.append(".*")
            i += 2
        elif pattern[i] == "*":
            out.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            out.append("[^/]")
            i += 1
        else:
            out.append(re.escape(pattern[i]))
            i += 1
    return re.compile("".join(out))


# -- file_grep --------------------------------------------------------------------------


class FileGrepArgs(ToolArgs):
    pattern: str = Field(description="Regular expression (Python syntax).")
    path: str = Field(default=".", description="File or directory to search.")
    glob: str | None = Field(default=None, description="Only files matching this glob, e.g. '*.py'.")
    case_insensitive: bool = False
    context_lines: int = Field(default=0, ge=0, le=10)
    output_mode: Literal["content", "files_with_matches", "count"] = "content"
    max_results: int = Field(default=50, ge=1, le=1000, description="Matches per file.")


class FileGrep(_FileTool):
    name = "file_grep"
    description = "Search file contents with a regular expression (file:line:text)."
    args_model = FileGrepArgs

    async def run(self, args: FileGrepArgs, ctx: ToolContext) -> str:
        try:
            regex = re.compile(args.pattern, re.IGNORECASE if args.case_insensitive else 0)
        except re.error as exc:
            raise ToolError(f"invalid regular expression: {exc}") from None
        base = ctx.workspace.resolve(args.path)
        if not base.exists():
            raise ToolError(f"no such file or directory: {args.path}")
        return await asyncio.to_thread(self._search, regex, base, args, ctx.workspace)

    def _search(self, regex: re.Pattern[str], base: Path, args: FileGrepArgs, ws: Workspace) -> str:
        files = [base] if base.is_file() else walk_files(ws, base, limit=MAX_GREP_FILES)
        out: list[str] = []
        used = 0
        matched_files = 0
        for path in files:
            rel_to_base = path.name if base.is_file() else path.relative_to(base).as_posix()
            if args.glob and not (
                _glob_match(rel_to_base, args.glob) or fnmatch.fnmatch(path.name, args.glob)
            ):
                continue
            try:
                if path.stat().st_size > MAX_GREP_FILE_BYTES:
                    continue
                data = path.read_bytes()
            except OSError:
                continue
            if _looks_binary(data):
                continue
            lines = data.decode("utf-8", errors="replace").splitlines()
            hits = [i for i, line in enumerate(lines) if regex.search(line)][: args.max_results]
            if not hits:
                continue
            matched_files += 1
            rel = ws.relative(path)
            if args.output_mode == "files_with_matches":
                chunk = [rel]
            elif args.output_mode == "count":
                chunk = [f"{rel}:{len(hits)}"]
            else:
                chunk = []
                shown: set[int] = set()
                for i in hits:
                    lo, hi = max(0, i - args.context_lines), min(len(lines), i + args.context_lines + 1)
                    for j in range(lo, hi):
                        if j not in shown:
                            shown.add(j)
                            sep = ":" if j == i else "-"
                            chunk.append(f"{rel}{sep}{j + 1}{sep}{lines[j]}")
            for line in chunk:
                if used + len(line) + 1 > GREP_OUTPUT_CHARS:
                    out.append("...[truncated]")
                    return "\n".join(out)
                out.append(line)
                used += len(line) + 1
        return "\n".join(out) if out else "No matches found."


# -- dir_list ---------------------------------------------------------------------------


class DirListArgs(ToolArgs):
    path: str = Field(default=".", description="Directory inside the workspace.")


class DirList(_FileTool):
    name = "dir_list"
    description = "List a workspace directory: one entry per line, type, size and name."
    args_model = DirListArgs

    async def run(self, args: DirListArgs, ctx: ToolContext) -> str:
        path = ctx.workspace.resolve(args.path)
        if not path.is_dir():
            raise ToolError(f"{args.path} is not a directory")
        rows: list[str] = []
        entries = sorted(path.iterdir(), key=lambda p: p.name)
        for entry in entries[:MAX_LIST_ENTRIES]:
            try:
                if entry.is_dir():
                    rows.append(f"dir\t-\t{entry.name}/")
                elif entry.is_file():
                    rows.append(f"file\t{_size(entry.stat().st_size)}\t{entry.name}")
                else:
                    rows.append(f"other\t-\t{entry.name}")
            except OSError:
                rows.append(f"other\t-\t{entry.name}")
        if len(entries) > MAX_LIST_ENTRIES:
            rows.append(f"... {len(entries) - MAX_LIST_ENTRIES} more entries")
        return "\n".join(rows) if rows else "(empty directory)"


# -- diff -------------------------------------------------------------------------------


class DiffArgs(ToolArgs):
    file_a: str | None = Field(default=None, description="First file (with file_b).")
    file_b: str | None = None
    text_a: str | None = Field(default=None, description="First text (with text_b).")
    text_b: str | None = None


class Diff(Tool[DiffArgs]):
    name = "diff"
    description = "Unified diff of two workspace files, or of two texts."
    args_model = DiffArgs

    async def run(self, args: DiffArgs, ctx: ToolContext) -> str:
        if args.file_a is not None and args.file_b is not None:
            a = _read_text(ctx.workspace.resolve(args.file_a), args.file_a)
            b = _read_text(ctx.workspace.resolve(args.file_b), args.file_b)
            names, kind = (args.file_a, args.file_b), "Files"
        elif args.text_a is not None and args.text_b is not None:
            a, b, names, kind = args.text_a, args.text_b, ("a", "b"), "Texts"
        else:
            raise ToolError("give file_a and file_b, or text_a and text_b")
        lines = list(difflib.unified_diff(a.splitlines(), b.splitlines(), *names, lineterm=""))
        return "\n".join(lines) if lines else f"{kind} are identical"


TOOLS: tuple[type[Tool[Any]], ...] = (
    FileRead,
    FileWrite,
    FileEdit,
    MultiFileEdit,
    FileGlob,
    FileGrep,
    DirList,
    Diff,
)
