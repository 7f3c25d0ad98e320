"""The workspace: the one directory tree the file tools may touch.

``Workspace.resolve`` turns a path given by the model into a real path inside the root, or
refuses it with a message saying why: a ``..`` or an absolute path that leaves the root, a
symbolic link that points out of it, ``~``, a secret file (``.env``, SSH and GnuPG keys,
cloud credentials), VAOS's own data directory, and (for writes) ``.git`` internals, where a
hook would let a later ``git`` call run arbitrary code.

Symbolic links are resolved at check time; the tools then open the resolved path, so a link
swapped in between still cannot redirect an operation that was already resolved.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable
from pathlib import Path

from vaos.tools.base import ToolError

SECRET_NAMES = frozenset(
    {
        ".netrc",
        ".npmrc",
        ".pypirc",
        ".pgpass",
        ".git-credentials",
        "id_rsa",
        "id_ed25519",
        "id_ecdsa",
        "id_dsa",
    }
)
SECRET_DIRS = frozenset({".ssh", ".gnupg", ".aws", ".docker", ".kube"})
_ENV_FILE = re.compile(r"^\.env(\..+)?$")
_ENV_TEMPLATES = frozenset({".env.example", ".env.sample", ".env.template", ".env.dist"})


class PathRefusedError(ToolError):
    """A path the file tools will not touch."""


class Workspace:
    def __init__(self, root: Path | str, *, protected: Iterable[Path | str] = ()) -> None:
        self.root = Path(os.path.realpath(Path(root).expanduser()))
        self.protected = tuple(
            Path(os.path.realpath(Path(p).expanduser()))
            for p in protected
            if p and Path(os.path.realpath(Path(p).expanduser())) != self.root
        )

    def __repr__(self) -> str:
        return f"Workspace({str(self.root)!r})"

    def resolve(self, path: str | None, *, write: bool = False, default: str = ".") -> Path:
        """The real path inside the workspace, or ``PathRefusedError`` saying why."""
        raw = default if path is None or path == "" else path
        if "\x00" in raw:
            raise PathRefusedError("the path contains a NUL character")
        if raw.startswith("~"):
            raise PathRefusedError(
                f"{raw!r}: '~' paths are not available; use a path inside the workspace {self.root}"
            )
        given = Path(raw)
        candidate = given if given.is_absolute() else self.root / given
        lexical = Path(os.path.normpath(candidate))
        if not _inside(lexical, self.root):
            kind = "absolute path" if given.is_absolute() else "path"
            raise PathRefusedError(f"{raw!r}: {kind} outside the workspace {self.root}")
        real = Path(os.path.realpath(lexical))
        if not _inside(real, self.root):
            raise PathRefusedError(f"{raw!r}: a symbolic link leads outside the workspace {self.root}")
        for protected in self.protected:
            if _inside(real, protected):
                raise PathRefusedError(f"{raw!r}: VAOS's own data directory is not available to tools")
        self._check_secret(raw, real, write=write)
        return real

    def relative(self, path: Path) -> str:
        """``path`` relative to the root, for messages (``.`` for the root itself)."""
        try:
            rel = path.relative_to(self.root)
        except ValueError:
            return str(path)
        return str(rel) or "."

    def is_secret(self, path: Path) -> bool:
        try:
            self._check_secret(str(path), path, write=False)
        except PathRefusedError:
            return True
        return False

    def _check_secret(self, raw: str, real: Path, *, write: bool) -> None:
        try:
            parts = real.relative_to(self.root).parts
        except ValueError:
            parts = real.parts
        for part in parts[:-1]:
            if part in SECRET_DIRS:
                raise PathRefusedError(f"{raw!r}: files under {part}/ hold credentials and are not available")
        name = parts[-1] if parts else ""
        if name in SECRET_NAMES or (_ENV_FILE.match(name) and name not in _ENV_TEMPLATES):
            raise PathRefusedError(f"{raw!r}: {name} holds secrets and is not available to tools")
        if write and (".git" in parts[:-1] or name == ".git"):
            raise PathRefusedError(f"{raw!r}: git internals are not writable (use the git tool)")


def _inside(path: Path, root: Path) -> bool:
    return path == root or path.is_relative_to(root)
