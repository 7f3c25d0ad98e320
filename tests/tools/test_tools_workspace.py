"""File tools stay inside the workspace: '..', absolute paths, symlinks, '~', secrets, VAOS's home."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from tool_helpers import run_tool

from vaos.tools.base import ToolError
from vaos.tools.registry import ToolRegistry
from vaos.tools.workspace import PathRefusedError, Workspace


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    secret = tmp_path / "outside"
    secret.mkdir()
    (secret / "secret.txt").write_text("top secret")
    return secret


@pytest.mark.parametrize(
    ("path", "why"),
    [
        ("../outside/secret.txt", "outside the workspace"),
        ("src/../../outside/secret.txt", "outside the workspace"),
        ("/etc/passwd", "absolute path outside the workspace"),
        ("~/.ssh/id_rsa", "'~' paths are not available"),
        (".env", "holds secrets"),
        ("config/.env.production", "holds secrets"),
        (".ssh/id_ed25519", "credentials"),
        ("a\x00b", "NUL"),
    ],
)
def test_escapes_and_secrets_are_refused_with_the_reason(workspace: Path, path: str, why: str) -> None:
    ws = Workspace(workspace)
    with pytest.raises(PathRefusedError, match=why):
        ws.resolve(path)


def test_paths_inside_are_allowed(workspace: Path) -> None:
    ws = Workspace(workspace)
    assert ws.resolve("src/../README.md") == workspace.resolve() / "README.md"
    assert ws.resolve(str(workspace / "src" / "app.py")) == workspace.resolve() / "src" / "app.py"
    assert ws.resolve(".env.example").name == ".env.example"
    assert ws.resolve(None) == workspace.resolve()


def test_symlinks_leaving_the_workspace_are_refused(workspace: Path, outside: Path) -> None:
    os.symlink(outside / "secret.txt", workspace / "link.txt")
    os.symlink(outside, workspace / "linkdir")
    os.symlink(workspace / "README.md", workspace / "inside-link.md")
    ws = Workspace(workspace)
    with pytest.raises(PathRefusedError, match="symbolic link leads outside"):
        ws.resolve("link.txt")
    with pytest.raises(PathRefusedError, match="symbolic link leads outside"):
        ws.resolve("linkdir/secret.txt")
    assert ws.resolve("inside-link.md") == (workspace / "README.md").resolve()


def test_git_internals_are_not_writable_and_the_home_is_off_limits(workspace: Path, vaos_home: Path) -> None:
    (workspace / ".git" / "hooks").mkdir(parents=True)
    ws = Workspace(workspace, protected=[workspace / ".vaos"])
    assert ws.resolve(".git/HEAD").name == "HEAD"
    with pytest.raises(PathRefusedError, match="git internals"):
        ws.resolve(".git/hooks/pre-commit", write=True)
    with pytest.raises(PathRefusedError, match="own data directory"):
        ws.resolve(".vaos/keys/key.pem")


async def test_file_tools_refuse_escapes(registry: ToolRegistry, workspace: Path, outside: Path) -> None:
    os.symlink(outside, workspace / "linkdir")
    attempts = [
        ("file_read", {"path": "../outside/secret.txt"}),
        ("file_read", {"path": str(outside / "secret.txt")}),
        ("file_read", {"path": "linkdir/secret.txt"}),
        ("file_write", {"path": "../outside/new.txt", "content": "x"}),
        ("file_write", {"path": "linkdir/new.txt", "content": "x"}),
        ("file_edit", {"path": "linkdir/secret.txt", "old_string": "top", "new_string": "no"}),
        ("dir_list", {"path": "linkdir"}),
        ("dir_list", {"path": "/"}),
        ("file_glob", {"pattern": "../outside/*"}),
        ("file_glob", {"pattern": "*", "path": "linkdir"}),
        ("file_grep", {"pattern": "secret", "path": "../outside"}),
        ("diff", {"file_a": "README.md", "file_b": "../outside/secret.txt"}),
        ("code_symbols", {"path": "/etc"}),
        ("shell_execute", {"command": "ls", "cwd": "../outside"}),
        ("git", {"operation": "add", "path": "../outside/secret.txt"}),
    ]
    for name, args in attempts:
        with pytest.raises(ToolError) as caught:
            await run_tool(registry, name, **args)
        assert "workspace" in str(caught.value) or "symbolic link" in str(caught.value), (name, caught.value)
    assert not (outside / "new.txt").exists()
    assert (outside / "secret.txt").read_text() == "top secret"


async def test_search_tools_skip_links_that_leave(
    registry: ToolRegistry, workspace: Path, outside: Path
) -> None:
    os.symlink(outside / "secret.txt", workspace / "leak.txt")
    (workspace / ".env").write_text("TOKEN=secret")
    found = await run_tool(registry, "file_grep", pattern="secret|TOKEN")
    assert found == "No matches found."
    listed = await run_tool(registry, "file_glob", pattern="**/*")
    assert "leak.txt" not in listed and ".env" not in listed and "README.md" in listed
