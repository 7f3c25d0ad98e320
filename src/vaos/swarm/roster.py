"""The roster: roles, named agents and named configurations, loaded once from
``src/vaos/data/swarm_roster.toml``.

A *role* is what a swarm member does (its prompt and tier); a *named agent* is who does it —
the id its actions are governed under (``kernel_policy.toml`` lists the same agents). A plan
may name either: a role alone is played by the role's default agent. A *named configuration*
is a ready-made swarm: a pattern and its agents in order.
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any, Final

from vaos.tiers import TIERS

PATTERNS: Final[tuple[str, ...]] = ("parallel", "pipeline", "debate", "review", "pact")
PATTERN_ALIASES: Final[dict[str, str]] = {"review_loop": "review", "pipeline_chain": "pipeline"}
_WORD = re.compile(r"[a-z0-9]+")


class RosterError(ValueError):
    """The roster data is inconsistent (an unknown role, agent or pattern)."""


@dataclass(frozen=True)
class Role:
    name: str
    tier: str
    agent: str
    prompt: str


@dataclass(frozen=True)
class NamedAgent:
    name: str
    tier: str
    role: str
    description: str
    tools: tuple[str, ...] = ()
    triggers: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "tier": self.tier,
            "role": self.role,
            "description": self.description,
            "tools": list(self.tools),
            "triggers": list(self.triggers),
        }


@dataclass(frozen=True)
class Configuration:
    name: str
    pattern: str
    description: str
    agents: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "pattern": self.pattern,
            "description": self.description,
            "agents": list(self.agents),
        }


@dataclass(frozen=True)
class Roster:
    roles: dict[str, Role]
    agents: dict[str, NamedAgent]
    configurations: dict[str, Configuration] = field(default_factory=dict)

    # -- look-ups -------------------------------------------------------------------------

    def role(self, name: str) -> Role:
        try:
            return self.roles[name]
        except KeyError:
            raise RosterError(f"unknown role {name!r}; known: {', '.join(sorted(self.roles))}") from None

    def agent(self, name: str) -> NamedAgent:
        try:
            return self.agents[name]
        except KeyError:
            raise RosterError(f"unknown agent {name!r}; known: {', '.join(sorted(self.agents))}") from None

    def configuration(self, name: str) -> Configuration | None:
        return self.configurations.get(name)

    def resolve(self, role: str | None, agent: str | None) -> tuple[str, str, str]:
        """``(role, agent id, tier)`` of a plan entry naming a role, an agent, or both."""
        if agent:
            named = self.agent(agent)
            chosen_role = role or named.role
            self.role(chosen_role)
            return chosen_role, named.name, named.tier
        if not role:
            raise RosterError("a plan entry needs a role or an agent")
        found = self.role(role)
        return found.name, found.agent, found.tier

    def pattern_names(self) -> list[str]:
        """Everything ``--pattern`` accepts: the execution patterns, then the configurations."""
        return [*PATTERNS, *sorted(self.configurations)]

    def select_agents(self, text: str, *, limit: int) -> list[NamedAgent]:
        """The agents whose triggers the text mentions, best first (deterministic)."""
        lowered = text.lower()
        words = set(_WORD.findall(lowered))
        scored: list[tuple[int, int, str]] = []
        for order, agent in enumerate(self.agents.values()):
            hits = 0
            for trigger in agent.triggers:
                parts = _WORD.findall(trigger)
                if (len(parts) == 1 and parts[0] in words) or (len(parts) > 1 and trigger in lowered):
                    hits += 1
            if hits:
                scored.append((-hits, order, agent.name))
        scored.sort()
        return [self.agents[name] for _, _, name in scored[:limit]]

    def to_dict(self) -> dict[str, Any]:
        return {
            "roles": {
                name: {"tier": r.tier, "agent": r.agent, "prompt": r.prompt} for name, r in self.roles.items()
            },
            "agents": [a.to_dict() for a in self.agents.values()],
            "configurations": [c.to_dict() for c in self.configurations.values()],
        }


def normalize_pattern(name: str) -> str:
    """The execution pattern ``name`` stands for (aliases folded), or ``name`` unchanged."""
    key = name.strip().lower()
    return PATTERN_ALIASES.get(key, key)


def parse_roster(data: dict[str, Any]) -> Roster:
    """A ``Roster`` from the TOML document's data; ``RosterError`` when it does not hold together."""
    roles: dict[str, Role] = {}
    for name, raw in dict(data.get("roles") or {}).items():
        roles[name] = Role(name, str(raw["tier"]), str(raw["agent"]), " ".join(str(raw["prompt"]).split()))
    agents: dict[str, NamedAgent] = {}
    for name, raw in dict(data.get("agents") or {}).items():
        agents[name] = NamedAgent(
            name=name,
            tier=str(raw["tier"]),
            role=str(raw["role"]),
            description=str(raw.get("description", "")),
            tools=tuple(str(t) for t in raw.get("tools", ())),
            triggers=tuple(str(t).lower() for t in raw.get("triggers", ())),
        )
    configurations: dict[str, Configuration] = {}
    for name, raw in dict(data.get("configurations") or {}).items():
        configurations[name] = Configuration(
            name=name,
            pattern=normalize_pattern(str(raw["pattern"])),
            description=str(raw.get("description", "")),
            agents=tuple(str(a) for a in raw.get("agents", ())),
        )
    roster = Roster(roles, agents, configurations)
    _check(roster)
    return roster


def _check(roster: Roster) -> None:
    problems: list[str] = []
    for role in roster.roles.values():
        if role.tier not in TIERS:
            problems.append(f"role {role.name}: unknown tier {role.tier!r}")
        if role.agent not in roster.agents:
            problems.append(f"role {role.name}: unknown agent {role.agent!r}")
    for agent in roster.agents.values():
        if agent.tier not in TIERS:
            problems.append(f"agent {agent.name}: unknown tier {agent.tier!r}")
        if agent.role not in roster.roles:
            problems.append(f"agent {agent.name}: unknown role {agent.role!r}")
    for config in roster.configurations.values():
        if config.name in PATTERNS:
            problems.append(f"configuration {config.name}: shadows a pattern")
        if config.pattern not in PATTERNS:
            problems.append(f"configuration {config.name}: unknown pattern {config.pattern!r}")
        problems.extend(
            f"configuration {config.name}: unknown agent {a!r}"
            for a in config.agents
            if a not in roster.agents
        )
        if config.pattern == "review" and len(config.agents) != 2:
            problems.append(f"configuration {config.name}: review takes exactly 2 agents")
    if problems:
        raise RosterError("; ".join(problems))


def load_roster(path: Path | None = None) -> Roster:
    """The roster at ``path``, or the one shipped in the package (cached)."""
    if path is not None:
        return parse_roster(tomllib.loads(path.read_text(encoding="utf-8")))
    return _default_roster()


@lru_cache(maxsize=1)
def _default_roster() -> Roster:
    text = resources.files("vaos.data").joinpath("swarm_roster.toml").read_text(encoding="utf-8")
    return parse_roster(tomllib.loads(text))
