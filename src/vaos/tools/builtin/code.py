"""Code search: a symbol index of the workspace (classes, functions, types) without reading
whole files into the context. Python is parsed with ``ast``; other languages by line patterns.
"""

from __future__ import annotations

import ast
import asyncio
import re
from pathlib import Path
from typing import Any

from pydantic import Field

from vaos.tools.base import Tool, ToolArgs, ToolContext, ToolError
from vaos.tools.builtin.files import _glob_match, walk_files
from vaos.tools.workspace import Workspace

MAX_FILES = 300
MAX_FILE_BYTES = 1_000_000
OUTPUT_CHARS = 20_000

_PATTERNS: dict[str, list[tuple[str, re.Pattern[str]]]] = {
    ".go": [
        ("func", re.compile(r"^func\s+(?:\([^)]*\)\s*)?([A-Za-z_]\w*)")),
        ("type", re.compile(r"^type\s+([A-Za-z_]\w*)\s+(?:struct|interface)")),
    ],
    ".rs": [
        ("fn", re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:async\s+)?fn\s+([A-Za-z_]\w*)")),
        ("type", re.compile(r"^\s*(?:pub(?:\([^)]*\))?\s+)?(?:struct|enum|trait)\s+([A-Za-z_]\w*)")),
    ],
    ".ts": [
        (
            "function",
            re.compile(r"^\s*(?:export\s+)?(?:default\s+)?(?:async\s+)?function\s+([A-Za-z_$][\w$]*)"),
        ),
        ("class", re.compile(r"^\s*(?:export\s+)?(?:default\s+)?(?:abstract\s+)?class\s+([A-Za-z_$][\w$]*)")),
        ("const", re.compile(r"^\s*export\s+const\s+([A-Za-z_$][\w$]*)")),
        ("type", re.compile(r"^\s*(?:export\s+)?(?:interface|type)\s+([A-Za-z_$][\w$]*)")),
    ],
    ".ex": [
        ("module", re.compile(r"^\s*defmodule\s+([A-Z][\w.]*)")),
        ("def", re.compile(r"^\s*def(?:p|macro)?\s+([a-z_][\w?!]*)")),
    ],
    ".rb": [
        ("class", re.compile(r"^\s*(?:class|module)\s+([A-Z]\w*)")),
        ("def", re.compile(r"^\s*def\s+(?:self\.)?([a-z_]\w*[?!]?)")),
    ],
    ".java": [
        (
            "class",
            re.compile(
                r"^\s*(?:public\s+|private\s+|protected\s+)?(?:abstract\s+|final\s+)?"
                r"(?:class|interface|enum|record)\s+([A-Za-z_]\w*)"
            ),
        ),
    ],
}
for _alias, _lang in (
    (".tsx", ".ts"),
    (".js", ".ts"),
    (".jsx", ".ts"),
    (".mjs", ".ts"),
    (".exs", ".ex"),
    (".kt", ".java"),
):
    _PATTERNS[_alias] = _PATTERNS[_lang]
SOURCE_SUFFIXES = frozenset({".py", *_PATTERNS})


def python_symbols(source: str, include_private: bool) -> list[tuple[int, str, str]]:
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return []
    out: list[tuple[int, str, str]] = []

    def visit(nodes: list[ast.stmt], prefix: str, in_class: bool) -> None:
        for node in nodes:
            if isinstance(node, ast.ClassDef):
                if include_private or not node.name.startswith("_"):
                    out.append((node.lineno, "class", prefix + node.name))
                visit(node.body, f"{prefix}{node.name}.", True)
            elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and (
                include_private or not node.name.startswith("_") or node.name == "__init__"
            ):
                out.append((node.lineno, "method" if in_class else "def", prefix + node.name))

    visit(tree.body, "", False)
    return out


def pattern_symbols(source: str, suffix: str) -> list[tuple[int, str, str]]:
    out: list[tuple[int, str, str]] = []
    patterns = _PATTERNS.get(suffix, [])
    for number, line in enumerate(source.splitlines(), start=1):
        for kind, regex in patterns:
            match = regex.match(line)
            if match:
                out.append((number, kind, match.group(1)))
                break
    return out


class CodeSymbolsArgs(ToolArgs):
    path: str = Field(default=".", description="File or directory to index.")
    glob: str | None = Field(default=None, description="Only files matching this glob, e.g. '**/*.py'.")
    query: str | None = Field(default=None, description="Only symbols whose name contains this (any case).")
    include_private: bool = Field(default=False, description="Include names starting with '_'.")


class CodeSymbols(Tool[CodeSymbolsArgs]):
    name = "code_symbols"
    description = (
        "List the classes, functions and types defined in workspace source files (file, line, "
        "kind, name), optionally filtered by name. Cheaper than reading whole files."
    )
    args_model = CodeSymbolsArgs

    async def run(self, args: CodeSymbolsArgs, ctx: ToolContext) -> str:
        base = ctx.workspace.resolve(args.path)
        if not base.exists():
            raise ToolError(f"no such file or directory: {args.path}")
        return await asyncio.to_thread(self._index, base, args, ctx.workspace)

    def _index(self, base: Path, args: CodeSymbolsArgs, ws: Workspace) -> str:
        files = [base] if base.is_file() else walk_files(ws, base, limit=20_000)
        needle = (args.query or "").lower()
        blocks: list[str] = []
        total = scanned = 0
        for path in files:
            if path.suffix not in SOURCE_SUFFIXES:
                continue
            if (
                args.glob
                and not base.is_file()
                and not _glob_match(path.relative_to(base).as_posix(), args.glob)
            ):
                continue
            scanned += 1
            if scanned > MAX_FILES:
                break
            try:
                if path.stat().st_size > MAX_FILE_BYTES:
                    continue
                source = path.read_text(encoding="utf-8", errors="replace")
            except OSError:
                continue
            found = (
                python_symbols(source, args.include_private)
                if path.suffix == ".py"
                else [
                    s
                    for s in pattern_symbols(source, path.suffix)
                    if args.include_private or not s[2].startswith("_")
                ]
            )
            if needle:
                found = [s for s in found if needle in s[2].lower()]
            if not found:
                continue
            total += len(found)
            blocks.append(
                ws.relative(path) + "\n" + "\n".join(f"  {n}: [{k}] {name}" for n, k, name in found)
            )
        if not blocks:
            return "No symbols found."
        text = f"{total} symbols across {len(blocks)} file(s):\n" + "\n".join(blocks)
        return text if len(text) <= OUTPUT_CHARS else text[:OUTPUT_CHARS] + "\n...[truncated]"


TOOLS: tuple[type[Tool[Any]], ...] = (CodeSymbols,)
