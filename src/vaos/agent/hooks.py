"""Hooks: code run before and after each model call and each tool call, and when a session
starts or ends, in priority order (lower first).

A hook gets a ``HookCall`` whose ``data`` it may change (the executor uses changed tool
arguments, re-validated) and returns ``Block(reason)`` to stop the action or None to let it
go on. A blocked tool call never runs and the model is told ``Blocked: <reason>``; a blocked
model call is not made. A ``pre_*`` hook that raises blocks (fail closed: a broken security
hook must not wave actions through); a ``post_*`` or session hook that raises is logged.

Built-in hooks are listed in ``vaos/data/hooks.toml``; ``$VAOS_HOME/hooks.toml`` may turn
any of them off or change its priority (same ``[[hook]]`` shape, matched by name).
"""

from __future__ import annotations

import logging
import time
import tomllib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal, get_args

logger = logging.getLogger(__name__)

HookEvent = Literal[
    "pre_model", "post_model", "pre_tool", "post_tool", "session_start", "session_end", "pre_compact"
]
HOOK_EVENTS: tuple[HookEvent, ...] = get_args(HookEvent)
FAIL_CLOSED: frozenset[str] = frozenset({"pre_model", "pre_tool"})


@dataclass(frozen=True, slots=True)
class Block:
    """Stop the action; ``reason`` is shown to the model (tools) or the user (model calls)."""

    reason: str


@dataclass
class HookCall:
    event: HookEvent
    session_id: str | None
    agent_id: str
    data: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class HookOutcome:
    data: dict[str, Any]
    blocked: str | None = None
    hook: str | None = None


HookFn = Callable[[HookCall], Awaitable[Block | None]]


@dataclass
class _Entry:
    name: str
    event: HookEvent
    priority: int
    fn: HookFn


@dataclass
class HookStats:
    calls: int = 0
    blocks: int = 0
    errors: int = 0
    total_us: int = 0


class Hooks:
    def __init__(self) -> None:
        self._entries: dict[HookEvent, list[_Entry]] = {event: [] for event in HOOK_EVENTS}
        self.stats: dict[HookEvent, HookStats] = {event: HookStats() for event in HOOK_EVENTS}

    def register(self, event: HookEvent, name: str, fn: HookFn, *, priority: int = 50) -> None:
        """Add (or replace, by name) a hook for ``event``."""
        if event not in self._entries:
            raise ValueError(f"unknown hook event {event!r}; events: {', '.join(HOOK_EVENTS)}")
        chain = [e for e in self._entries[event] if e.name != name]
        chain.append(_Entry(name, event, priority, fn))
        chain.sort(key=lambda e: e.priority)
        self._entries[event] = chain

    def unregister(self, name: str) -> bool:
        removed = False
        for event, chain in self._entries.items():
            kept = [e for e in chain if e.name != name]
            removed = removed or len(kept) != len(chain)
            self._entries[event] = kept
        return removed

    def names(self, event: HookEvent | None = None) -> list[str]:
        events = [event] if event is not None else list(HOOK_EVENTS)
        return [e.name for ev in events for e in self._entries[ev]]

    def listing(self) -> list[dict[str, Any]]:
        return [
            {"name": e.name, "event": e.event, "priority": e.priority}
            for ev in HOOK_EVENTS
            for e in self._entries[ev]
        ]

    def has(self, event: HookEvent) -> bool:
        return bool(self._entries[event])

    async def run(
        self, event: HookEvent, data: dict[str, Any], *, session_id: str | None = None, agent_id: str = "vaos"
    ) -> HookOutcome:
        chain = self._entries[event]
        if not chain:
            return HookOutcome(data)
        call = HookCall(event, session_id, agent_id, data)
        stats = self.stats[event]
        started = time.perf_counter()
        try:
            for entry in chain:
                stats.calls += 1
                try:
                    verdict = await entry.fn(call)
                except Exception as exc:
                    stats.errors += 1
                    if event in FAIL_CLOSED:
                        logger.warning(
                            "hook %s failed on %s; the action is blocked: %r", entry.name, event, exc
                        )
                        stats.blocks += 1
                        return HookOutcome(call.data, f"hook {entry.name} failed: {exc}", entry.name)
                    logger.warning("hook %s failed on %s: %r", entry.name, event, exc)
                    continue
                if isinstance(verdict, Block):
                    stats.blocks += 1
                    return HookOutcome(call.data, verdict.reason, entry.name)
            return HookOutcome(call.data)
        finally:
            stats.total_us += int((time.perf_counter() - started) * 1e6)


@dataclass(frozen=True, slots=True)
class HookSpec:
    name: str
    event: HookEvent
    priority: int
    enabled: bool
    description: str = ""


def load_hook_specs(home: Path | None = None) -> tuple[list[HookSpec], dict[str, Any]]:
    """The built-in hook table (with the user's overrides) and the data section of hooks.toml."""
    data = tomllib.loads(resources.files("vaos.data").joinpath("hooks.toml").read_text(encoding="utf-8"))
    specs = {
        row["name"]: HookSpec(
            row["name"],
            row["event"],
            int(row.get("priority", 50)),
            bool(row.get("enabled", True)),
            str(row.get("description", "")),
        )
        for row in data.get("hook", [])
    }
    override = home / "hooks.toml" if home is not None else None
    if override is not None and override.is_file():
        try:
            user = tomllib.loads(override.read_text(encoding="utf-8"))
        except (OSError, tomllib.TOMLDecodeError) as exc:
            logger.warning("ignoring %s: %s", override, exc)
            user = {}
        for row in user.get("hook", []):
            name = row.get("name")
            if name in specs:
                base = specs[name]
                specs[name] = HookSpec(
                    name,
                    base.event,
                    int(row.get("priority", base.priority)),
                    bool(row.get("enabled", base.enabled)),
                    base.description,
                )
    for spec in specs.values():
        if spec.event not in HOOK_EVENTS:
            raise ValueError(f"hook {spec.name}: unknown event {spec.event!r}")
    return list(specs.values()), data.get("data", {})
