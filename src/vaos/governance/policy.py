"""Which agent may take which action type: the kernel's policy, loaded from TOML data.

The default is ``vaos/data/kernel_policy.toml``; an operator file at
``$VAOS_HOME/kernel_policy.toml`` (or ``--policy PATH``) replaces it. The decision is a
pure function of the agent id and the action type: prompt text never reaches it.
"""

from __future__ import annotations

import fnmatch
import hashlib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from vaos.governance.errors import PolicyError

POLICY_FILE = "kernel_policy.toml"
ALL_ACTIONS = "*"


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str | None = None


@dataclass(frozen=True)
class Policy:
    action_types: frozenset[str]
    patterns: tuple[str, ...]
    agents: dict[str, tuple[frozenset[str], tuple[str, ...], bool]]
    source: str
    sha256: str

    @classmethod
    def default(cls) -> Policy:
        text = resources.files("vaos.data").joinpath(POLICY_FILE).read_text(encoding="utf-8")
        return cls.from_toml(text, source=f"vaos/data/{POLICY_FILE}")

    @classmethod
    def load(cls, path: Path | None = None, home: Path | None = None) -> Policy:
        """``path`` if given, else ``home/kernel_policy.toml`` if it exists, else the default."""
        if path is None and home is not None and (home / POLICY_FILE).is_file():
            path = home / POLICY_FILE
        if path is None:
            return cls.default()
        try:
            text = Path(path).read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise PolicyError(f"cannot read policy {path}: {exc}") from None
        return cls.from_toml(text, source=str(path))

    @classmethod
    def from_toml(cls, text: str, *, source: str = "<string>") -> Policy:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise PolicyError(f"{source}: not valid TOML ({exc})") from None
        return cls.from_mapping(data, source=source, sha256=hashlib.sha256(text.encode()).hexdigest())

    @classmethod
    def from_mapping(cls, data: dict[str, Any], *, source: str = "<mapping>", sha256: str = "") -> Policy:
        if data.get("version") != 1:
            raise PolicyError(f"{source}: unsupported policy version {data.get('version')!r} (expected 1)")
        types = data.get("action_types", {})
        builtin = _strings(types.get("builtin", []), f"{source}: action_types.builtin")
        patterns = _strings(types.get("patterns", []), f"{source}: action_types.patterns")
        agents_raw = data.get("agents", {})
        if not isinstance(agents_raw, dict):
            raise PolicyError(f"{source}: [agents] must be a table")
        known = frozenset(builtin)
        agents: dict[str, tuple[frozenset[str], tuple[str, ...], bool]] = {}
        for agent_id, table in agents_raw.items():
            if not isinstance(table, dict):
                raise PolicyError(f"{source}: agents.{agent_id} must be a table")
            actions = _strings(table.get("actions", []), f"{source}: agents.{agent_id}.actions")
            everything = ALL_ACTIONS in actions
            exact = frozenset(a for a in actions if a != ALL_ACTIONS and not _is_pattern(a))
            globs = tuple(a for a in actions if a != ALL_ACTIONS and _is_pattern(a))
            for name in exact:
                if name not in known and not any(fnmatch.fnmatchcase(name, p) for p in patterns):
                    raise PolicyError(f"{source}: agents.{agent_id} allows unknown action type {name!r}")
            agents[agent_id] = (exact, globs, everything)
        return cls(known, tuple(patterns), agents, source, sha256)

    def is_known_action(self, action_type: str) -> bool:
        return action_type in self.action_types or any(
            fnmatch.fnmatchcase(action_type, p) for p in self.patterns
        )

    def decide(self, agent_id: str, action_type: str) -> Decision:
        """Allowed, or refused with the reason the caller is told."""
        if not self.is_known_action(action_type):
            return Decision(False, f"unknown action type {action_type!r}")
        grant = self.agents.get(agent_id)
        if grant is None:
            return Decision(False, f"unknown agent {agent_id!r}")
        exact, globs, everything = grant
        if everything or action_type in exact or any(fnmatch.fnmatchcase(action_type, g) for g in globs):
            return Decision(True)
        return Decision(False, f"agent {agent_id!r} may not take action {action_type!r}")


def _is_pattern(name: str) -> bool:
    return any(ch in name for ch in "*?[")


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) and v for v in value):
        raise PolicyError(f"{where} must be a list of non-empty strings")
    return list(value)
