"""The shell policy: which commands ``shell_execute`` refuses, and the environment it passes.

One source of truth (``vaos/data/tools.toml``), used by the tool itself and by the agent's
``security_check`` hook. The original's policy, with its false positives fixed: ``at`` and
``batch`` are refused as commands, not as English words anywhere in the line, and secret
file checks match file names rather than any substring.
"""

from __future__ import annotations

import os
import re
import shlex
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

_SEGMENTS = re.compile(r"\|\||&&|[|;&\n\r]")
_ASSIGNMENT = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*=")


@lru_cache(maxsize=1)
def tools_data() -> dict[str, Any]:
    return tomllib.loads(resources.files("vaos.data").joinpath("tools.toml").read_text(encoding="utf-8"))


@dataclass(frozen=True)
class ShellPolicy:
    blocked: frozenset[str]
    wrappers: frozenset[str]
    patterns: tuple[re.Pattern[str], ...]
    env_names: tuple[str, ...]
    secret_names: re.Pattern[str]

    @classmethod
    def default(cls, extra_env: Iterable[str] = ()) -> ShellPolicy:
        data = tools_data()["shell"]
        return cls(
            blocked=frozenset(data["blocked_commands"]),
            wrappers=frozenset(data["wrappers"]),
            patterns=tuple(re.compile(p) for p in data["patterns"]),
            env_names=tuple(dict.fromkeys([*data["env_passthrough"], *extra_env])),
            secret_names=re.compile(data["secret_names"]),
        )

    def check(self, command: str, *, protected: Iterable[str] = ()) -> str | None:
        """Why ``command`` is refused, or None when it may run."""
        text = command.strip()
        if not text:
            return "empty command"
        for path in protected:
            if path and path in text:
                return "the command names VAOS's own data directory"
        for segment in _SEGMENTS.split(text):
            name = self._command_of(segment)
            if name is not None and name in self.blocked:
                return f"blocked command {name!r} in: {segment.strip()[:120]}"
        for pattern in self.patterns:
            if pattern.search(text):
                return f"blocked pattern {pattern.pattern!r}"
        return None

    def _command_of(self, segment: str) -> str | None:
        try:
            tokens = shlex.split(segment, comments=False, posix=True)
        except ValueError:
            tokens = segment.split()
        i = 0
        while i < len(tokens):
            token = tokens[i]
            if _ASSIGNMENT.match(token):
                i += 1
                continue
            base = os.path.basename(token)
            if base in self.wrappers:
                i += 1
                while i < len(tokens) and (tokens[i].startswith("-") or tokens[i][:1].isdigit()):
                    i += 1  # the wrapper's own options (timeout 10, nice -n 5, xargs -0)
                continue
            return base
        return None

    def environment(self, source: Mapping[str, str] | None = None) -> dict[str, str]:
        """The environment a command gets: the pass-through names, never a secret-looking one."""
        env = os.environ if source is None else source
        out: dict[str, str] = {}
        for name in self.env_names:
            if self.secret_names.search(name):
                continue
            value = env.get(name)
            if value is not None and not value.startswith("()"):
                out[name] = value
        out.setdefault("PATH", os.defpath)
        return out
