"""The file tools: read, write, edit, multi-edit (all or nothing), glob, grep, list, diff, symbols."""

from __future__ import annotations

from pathlib import Path

import pytest
from tool_helpers import run_tool

from vaos.tools.base import ToolError
from vaos.tools.registry import ToolRegistry


async def test_read_whole_and_by_lines(registry: ToolRegistry) -> None:
    assert await run_tool(registry, "file_read", path="README.md") == "# Demo\nhello world\nsecond line\n"
    numbered = await run_tool(registry, "file_read", path="README.md", offset=2, limit=1)
    assert numbered == "     2| hello world"
    with pytest.raises(ToolError, match="no lines in range"):
        await run_tool(registry, "file_read", path="README.md", offset=50)
    with pytest.raises(ToolError, match="no such file"):
        await run_tool(registry, "file_read", path="missing.txt")


async def test_binary_files_are_not_dumped(registry: ToolRegistry, workspace: Path) -> None:
    (workspace / "blob.bin").write_bytes(b"\x00\x01\x02" * 10)
    assert "binary file (30 bytes)" in await run_tool(registry, "file_read", path="blob.bin")


async def test_write_creates_parents_and_reports(registry: ToolRegistry, workspace: Path) -> None:
    out = await run_tool(registry, "file_write", path="docs/new/note.md", content="héllo")
    assert out == "Created docs/new/note.md (6 bytes)."
    assert (workspace / "docs/new/note.md").read_text() == "héllo"
    assert (await run_tool(registry, "file_write", path="docs/new/note.md", content="x")).startswith(
        "Overwrote"
    )


async def test_edit_needs_a_unique_match(registry: ToolRegistry, workspace: Path) -> None:
    (workspace / "f.txt").write_text("a b a\n")
    with pytest.raises(ToolError, match="found 2 times"):
        await run_tool(registry, "file_edit", path="f.txt", old_string="a", new_string="c")
    with pytest.raises(ToolError, match="not found"):
        await run_tool(registry, "file_edit", path="f.txt", old_string="zzz", new_string="c")
    with pytest.raises(ToolError, match="identical"):
        await run_tool(registry, "file_edit", path="f.txt", old_string="a", new_string="a")
    out = await run_tool(
        registry, "file_edit", path="f.txt", old_string="a", new_string="c", replace_all=True
    )
    assert out.startswith("Replaced 2 occurrences in f.txt.") and "-a b a" in out and "+c b c" in out
    assert (workspace / "f.txt").read_text() == "c b c\n"


async def test_multi_file_edit_applies_in_order_or_not_at_all(
    registry: ToolRegistry, workspace: Path
) -> None:
    (workspace / "f.txt").write_text("one two\n")
    (workspace / "g.txt").write_text("three\n")
    edits = [
        {"path": "f.txt", "old_string": "one", "new_string": "uno"},
        {"path": "f.txt", "old_string": "two", "new_string": "dos"},  # sees the first edit (no lost update)
        {"path": "g.txt", "old_string": "three", "new_string": "tres"},
    ]
    out = await run_tool(registry, "multi_file_edit", edits=edits)
    assert out.startswith("Applied 3 edits across 2 file(s)")
    assert (workspace / "f.txt").read_text() == "uno dos\n"
    bad = [
        {"path": "f.txt", "old_string": "uno", "new_string": "one"},
        {"path": "g.txt", "old_string": "missing", "new_string": "x"},
    ]
    with pytest.raises(ToolError, match=r"no edits applied:\n\[edit 2\] g.txt: old_string not found"):
        await run_tool(registry, "multi_file_edit", edits=bad)
    assert (workspace / "f.txt").read_text() == "uno dos\n"


async def test_glob_grep_list_diff_and_symbols(registry: ToolRegistry, workspace: Path) -> None:
    (workspace / "node_modules").mkdir()
    (workspace / "node_modules" / "x.py").write_text("hello")
    assert (await run_tool(registry, "file_glob", pattern="**/*.py")).splitlines() == [
        "1 files found:",
        "src/app.py",
    ]
    assert await run_tool(registry, "file_glob", pattern="*.py") == "No files matched pattern: *.py"
    assert (
        await run_tool(registry, "file_grep", pattern="hello")
        == "README.md:2:hello world\nsrc/app.py:2:    def hello(self):"
    )
    assert (
        await run_tool(
            registry, "file_grep", pattern="HELLO", case_insensitive=True, glob="*.py", output_mode="count"
        )
        == "src/app.py:1"
    )
    assert await run_tool(
        registry, "file_grep", pattern="second", context_lines=1, output_mode="content"
    ) == ("README.md-2-hello world\nREADME.md:3:second line")
    with pytest.raises(ToolError, match="invalid regular expression"):
        await run_tool(registry, "file_grep", pattern="(")
    listing = await run_tool(registry, "dir_list")
    assert "dir\t-\tsrc/" in listing and "file\t31B\tREADME.md" in listing
    diff = await run_tool(registry, "diff", text_a="a\nb\n", text_b="a\nc\n")
    assert "-b" in diff and "+c" in diff
    assert await run_tool(registry, "diff", file_a="README.md", file_b="README.md") == "Files are identical"
    symbols = await run_tool(registry, "code_symbols")
    assert "src/app.py" in symbols and "[class] Greeter" in symbols and "[method] Greeter.hello" in symbols
    assert "_private" not in symbols
    assert "[def] main" in await run_tool(registry, "code_symbols", query="mai")


async def test_arguments_are_validated_with_every_problem_listed(registry: ToolRegistry) -> None:
    tool = registry.get("file_read")
    assert tool is not None
    with pytest.raises(ToolError) as caught:
        tool.validate({"offset": 0, "bogus": 1})
    text = str(caught.value)
    assert "path: Field required" in text and "offset:" in text and "bogus: Extra inputs" in text
