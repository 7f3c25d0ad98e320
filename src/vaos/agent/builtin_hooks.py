"""The built-in hooks (the original's that make sense here, with their bugs fixed): they act
on what they decide — a hook that only annotated a payload nobody read is not ported."""

from __future__ import annotations

import logging
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from vaos.agent.hooks import Block, HookCall, HookFn, Hooks, load_hook_specs
from vaos.providers.types import Message
from vaos.tools.base import ToolServices
from vaos.tools.shell_policy import ShellPolicy
from vaos.tools.workspace import PathRefusedError

logger = logging.getLogger(__name__)

WRITE_TOOLS = frozenset({"file_write", "file_edit", "multi_file_edit"})
PERMITTED: dict[str, frozenset[str]] = {
    "read_only": frozenset({"read_only"}),
    "workspace": frozenset({"read_only", "write"}),
    "full": frozenset({"read_only", "write", "execute"}),
}
_INVISIBLE = dict.fromkeys(map(ord, "\u200b\u200c\u200d\u200e\u200f\ufeff\u00ad\u2028\u2029"))
_HOMOGLYPHS = str.maketrans("аеорсхуіѕνορ", "aeopcxyisvop")


@dataclass
class HookEnv:
    """What the built-in hooks need from the runtime."""

    services: ToolServices
    is_paused: Callable[[str], str | None]
    """``is_paused(agent_id)`` -> why no model call may be made now, or None."""


def normalise(text: str) -> str:
    text = text.translate(_INVISIBLE)
    text = unicodedata.normalize("NFKC", text)  # folds full-width forms
    return text.translate(_HOMOGLYPHS).lower()


def _paths_of(tool: str, arguments: dict[str, Any]) -> list[str]:
    if tool == "multi_file_edit":
        return [
            str(e.get("path")) for e in arguments.get("edits", []) if isinstance(e, dict) and e.get("path")
        ]
    path = arguments.get("path")
    return [str(path)] if path else []


def make_hooks(env: HookEnv, data: dict[str, Any]) -> dict[str, HookFn]:
    services = env.services
    policy = ShellPolicy.default(services.settings.tools.shell_env)
    patterns = [re.compile(p, re.IGNORECASE) for p in data.get("injection_patterns", [])]
    refusal = str(data.get("refusal") or "I can't share my internal configuration or system instructions.")

    async def pause_guard(call: HookCall) -> Block | None:
        why = env.is_paused(call.agent_id)
        return Block(why) if why else None

    async def prompt_injection_guard(call: HookCall) -> Block | None:
        if call.data.get("iteration", 1) != 1:
            return None
        text = str(call.data.get("user_text") or "")
        variants = {text, normalise(text)}
        if any(p.search(v) for p in patterns for v in variants):
            return Block(refusal)
        return None

    async def permission_tier(call: HookCall) -> Block | None:
        tier = services.settings.tools.permission
        safety = str(call.data.get("safety") or "execute")
        if safety not in PERMITTED.get(tier, frozenset()):
            return Block(
                f"{tier} mode — {call.data.get('tool_name')} ({safety}) is not permitted at this level"
            )
        return None

    async def security_check(call: HookCall) -> Block | None:
        if call.data.get("tool_name") != "shell_execute":
            return None
        command = str((call.data.get("arguments") or {}).get("command") or "")
        protected = [str(p) for p in services.workspace.protected]
        reason = policy.check(command, protected=protected)
        return Block(f"dangerous command: {reason}") if reason else None

    async def read_before_write(call: HookCall) -> Block | None:
        tool = str(call.data.get("tool_name"))
        if tool not in WRITE_TOOLS or not call.session_id:
            return None
        known = services.files_read.get(call.session_id, set())
        for raw in _paths_of(tool, dict(call.data.get("arguments") or {})):
            try:
                path = services.workspace.resolve(raw)
            except PathRefusedError:
                return None  # the tool itself refuses it, with the reason
            if path.is_file() and str(path) not in known:
                rel = services.workspace.relative(path)
                return Block(f"{rel} exists and was not read in this session: read it with file_read first")
        return None

    async def track_files_read(call: HookCall) -> Block | None:
        tool = str(call.data.get("tool_name"))
        if call.data.get("status") != "ok" or not call.session_id:
            return None
        if tool != "file_read" and tool not in WRITE_TOOLS:
            return None
        seen = services.files_read.setdefault(call.session_id, set())
        for raw in _paths_of(tool, dict(call.data.get("arguments") or {})):
            try:
                seen.add(str(services.workspace.resolve(raw)))
            except PathRefusedError:
                continue
        return None

    async def fact_extraction(call: HookCall) -> Block | None:
        vault = services.vault
        if vault is None or not services.settings.agent.extract_facts:
            return None
        from vaos.tools.facts import extract_from_messages

        messages: Sequence[Message] = call.data.get("messages") or ()
        texts = [m.content for m in messages if m.role == "user" and m.content]
        saved = 0
        for fact in extract_from_messages(texts):
            try:
                vault.remember(
                    fact.value,
                    fact.category,
                    title=fact.value[:80],
                    confidence=fact.confidence,
                    source="session",
                    session_id=call.session_id,
                )
                saved += 1
            except ValueError as exc:
                logger.debug("fact not saved: %s", exc)
        call.data["facts_saved"] = saved
        return None

    return {
        "pause_guard": pause_guard,
        "prompt_injection_guard": prompt_injection_guard,
        "permission_tier": permission_tier,
        "security_check": security_check,
        "read_before_write": read_before_write,
        "track_files_read": track_files_read,
        "fact_extraction": fact_extraction,
    }


def install_builtin_hooks(hooks: Hooks, env: HookEnv) -> list[str]:
    """Register the enabled built-in hooks; returns their names."""
    specs, data = load_hook_specs(env.services.settings.home)
    functions = make_hooks(env, data)
    installed: list[str] = []
    for spec in specs:
        fn = functions.get(spec.name)
        if fn is None:
            logger.warning("hooks.toml names an unknown built-in hook %r", spec.name)
            continue
        if spec.enabled:
            hooks.register(spec.event, spec.name, fn, priority=spec.priority)
            installed.append(spec.name)
    return installed
