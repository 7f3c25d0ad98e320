"""The daemon's paused state, kept on disk so that a restart stays paused.

``$VAOS_HOME/state/daemon.json`` (0600), replaced atomically and fsynced on every change::

    {"v": 1, "paused_all": false, "paused_agents": ["coder"], "updated_at": "...", "source": "..."}

``paused_all`` stops the whole daemon taking new agent work; ``paused_agents`` only those
agents. A file that cannot be read fails closed: the daemon starts paused and says why, and a
signed ``resume`` (which rewrites the file) or deleting the file ends it.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import orjson

from vaos.events import utc_timestamp

logger = logging.getLogger(__name__)

STATE_DIR = "state"
STATE_FILE = "daemon.json"
ALL_AGENTS = "*"


@dataclass(frozen=True)
class PauseState:
    paused_all: bool = False
    paused_agents: frozenset[str] = field(default_factory=frozenset)
    updated_at: str | None = None
    source: str | None = None

    def is_paused(self, agent_id: str | None = None) -> bool:
        """True when the daemon is paused, or (given ``agent_id``) that agent is."""
        return self.paused_all or (agent_id is not None and agent_id in self.paused_agents)

    def paused(self, agent_id: str, source: str | None = None) -> PauseState:
        if agent_id == ALL_AGENTS:
            return replace(self, paused_all=True, updated_at=utc_timestamp(), source=source)
        return replace(
            self, paused_agents=self.paused_agents | {agent_id}, updated_at=utc_timestamp(), source=source
        )

    def resumed(self, agent_id: str, source: str | None = None) -> PauseState:
        """``*`` resumes everything; an agent id lifts only that agent's pause."""
        if agent_id == ALL_AGENTS:
            return PauseState(updated_at=utc_timestamp(), source=source)
        return replace(
            self, paused_agents=self.paused_agents - {agent_id}, updated_at=utc_timestamp(), source=source
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "v": 1,
            "paused_all": self.paused_all,
            "paused_agents": sorted(self.paused_agents),
            "updated_at": self.updated_at,
            "source": self.source,
        }


class DaemonStateStore:
    """Reads and writes ``PauseState`` at one path."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    @classmethod
    def for_home(cls, home: Path) -> DaemonStateStore:
        return cls(Path(home) / STATE_DIR / STATE_FILE)

    def load(self) -> PauseState:
        try:
            document = orjson.loads(self.path.read_bytes())
        except FileNotFoundError:
            return PauseState()
        except (OSError, orjson.JSONDecodeError) as exc:
            return self._fail_closed(f"cannot read it ({exc})")
        if not isinstance(document, dict):
            return self._fail_closed("it is not a JSON object")
        paused_all = document.get("paused_all")
        agents = document.get("paused_agents", [])
        if (
            not isinstance(paused_all, bool)
            or not isinstance(agents, list)
            or not all(isinstance(a, str) for a in agents)
        ):
            return self._fail_closed("its fields have the wrong types")
        updated_at, source = document.get("updated_at"), document.get("source")
        return PauseState(
            paused_all=paused_all,
            paused_agents=frozenset(agents),
            updated_at=updated_at if isinstance(updated_at, str) else None,
            source=source if isinstance(source, str) else None,
        )

    def _fail_closed(self, why: str) -> PauseState:
        logger.error(
            "daemon state %s: %s; starting PAUSED (send a signed resume, or delete the file)", self.path, why
        )
        return PauseState(paused_all=True, updated_at=utc_timestamp(), source=f"unreadable {self.path.name}")

    def save(self, state: PauseState) -> None:
        """Replace the file atomically and durably."""
        directory = self.path.parent
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        tmp = directory / f".{self.path.name}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(fd, orjson.dumps(state.to_dict()) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dir_fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
