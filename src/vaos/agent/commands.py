"""The slash commands every front end shares (the REPL, the HTTP API): one table, as data plus
handlers. A front end keeps a ``SessionState`` per conversation and calls
``run_command(runtime, state, line)``; the ``CommandResult`` says what to show and whether to
quit or clear.

    /help [command]             the commands
    /model [provider[/model] | auto]
    /tier [utility | specialist | elite | auto]
    /tools [name]               the tools, or one tool's schema
    /memory [search TEXT | save TEXT | recent | forget PATH]
    /session [new | list | resume ID | show | search TEXT]
    /cost                       tokens and cost of this session
    /clear                      end this session and start a new one
    /quit                       end the session and leave
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from vaos.tiers import TIERS

if TYPE_CHECKING:
    from vaos.agent.result import AgentResult
    from vaos.agent.runtime import AgentRuntime

Action = Literal["quit", "clear"]


@dataclass
class SessionState:
    """One conversation as a front end holds it: the session, its overrides and its spend."""

    session_id: str | None = None
    agent_id: str = "vaos"
    channel: str = "cli"
    tier: str | None = None
    provider: str | None = None
    model: str | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    turns: int = 0
    tool_calls: int = 0

    def run_kwargs(self) -> dict[str, Any]:
        """Keyword arguments for ``Agent.run`` / ``Agent.stream``."""
        return {
            "session_id": self.session_id,
            "tier": self.tier,
            "provider": self.provider,
            "model": self.model,
            "channel": self.channel,
        }

    def record(self, result: AgentResult) -> None:
        """Account one answer (and adopt its session id)."""
        self.session_id = result.session_id
        self.prompt_tokens += int(result.usage.get("prompt_tokens", 0))
        self.completion_tokens += int(result.usage.get("completion_tokens", 0))
        self.cost_usd += result.cost_usd
        self.turns += 1
        self.tool_calls += len(result.tool_calls)

    def reset(self) -> None:
        self.session_id = None
        self.prompt_tokens = self.completion_tokens = self.turns = self.tool_calls = 0
        self.cost_usd = 0.0


@dataclass(frozen=True)
class CommandResult:
    command: str
    ok: bool
    output: str
    action: Action | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "command": self.command,
            "ok": self.ok,
            "output": self.output,
            "action": self.action,
            "data": self.data,
        }


Handler = Callable[["AgentRuntime", SessionState, str], Awaitable[CommandResult]]


@dataclass(frozen=True)
class Command:
    name: str
    usage: str
    summary: str
    handler: Handler
    aliases: tuple[str, ...] = ()


def is_command(line: str) -> bool:
    return line.lstrip().startswith("/")


async def run_command(runtime: AgentRuntime, session_state: SessionState, line: str) -> CommandResult:
    """Run one ``/command args`` line against ``session_state``."""
    text = line.strip()
    if text.startswith("/"):
        text = text[1:]
    name, _, arg = text.partition(" ")
    name = name.lower()
    command = _LOOKUP.get(name)
    if command is None:
        return CommandResult(name or "", False, f"unknown command /{name}; /help lists them")
    try:
        return await command.handler(runtime, session_state, arg.strip())
    except ValueError as exc:
        return CommandResult(command.name, False, str(exc))


# -- handlers -----------------------------------------------------------------------------------


async def _help(runtime: AgentRuntime, state: SessionState, arg: str) -> CommandResult:
    if arg:
        command = _LOOKUP.get(arg.lstrip("/").lower())
        if command is None:
            return CommandResult("help", False, f"unknown command /{arg}")
        return CommandResult("help", True, f"{command.usage}\n  {command.summary}")
    width = max(len(c.usage) for c in COMMANDS.values())
    lines = [f"{c.usage:<{width}}  {c.summary}" for c in COMMANDS.values()]
    return CommandResult(
        "help", True, "\n".join(lines), data={"commands": [c.name for c in COMMANDS.values()]}
    )


async def _model(runtime: AgentRuntime, state: SessionState, arg: str) -> CommandResult:
    if not arg:
        current = f"{state.provider or 'auto'}" + (f"/{state.model}" if state.model else "")
        chain = ", ".join(runtime.routing.router.order)
        return CommandResult(
            "model",
            True,
            f"model: {current} (chain: {chain})",
            data={"provider": state.provider, "model": state.model},
        )
    if arg == "auto":
        state.provider = state.model = None
        return CommandResult("model", True, "model: auto (routed by signal)")
    provider, _, model = arg.partition("/") if "/" in arg else arg.partition(" ")
    provider, model = provider.strip(), model.strip()
    registry = runtime.routing.registry
    if provider not in registry.statuses:
        # a bare model name: find who serves it
        model, provider = arg.strip(), ""
    from vaos.providers.registry import UnknownProviderError
    from vaos.routing.router import RoutingInputError

    try:
        decision = runtime.routing.router.decide(
            tier=state.tier, provider=provider or None, model=model or None, session_id=state.session_id
        )
    except (UnknownProviderError, RoutingInputError) as exc:
        raise ValueError(str(exc).strip("'\"")) from None
    state.provider, state.model = provider or None, model or None
    return CommandResult(
        "model",
        True,
        f"model: {decision.provider}/{decision.model}",
        data={"provider": decision.provider, "model": decision.model},
    )


async def _tier(runtime: AgentRuntime, state: SessionState, arg: str) -> CommandResult:
    if not arg:
        return CommandResult("tier", True, f"tier: {state.tier or 'auto'}", data={"tier": state.tier})
    if arg == "auto":
        state.tier = None
        return CommandResult("tier", True, "tier: auto (from the signal)", data={"tier": None})
    if arg not in TIERS:
        raise ValueError(f"unknown tier {arg!r}; tiers: {', '.join(TIERS)}, auto")
    state.tier = arg
    return CommandResult("tier", True, f"tier: {arg}", data={"tier": arg})


async def _tools(runtime: AgentRuntime, state: SessionState, arg: str) -> CommandResult:
    registry = runtime.tools
    if arg:
        tool = registry.get(arg)
        if tool is None:
            raise ValueError(f"unknown tool {arg!r}")
        info = registry.describe(tool)
        text = f"{tool.name} ({tool.source}, {tool.safety})\n{tool.description}\n" + json.dumps(
            info["parameters"], indent=2
        )
        return CommandResult("tools", True, text, data=info)
    lines = []
    for tool in registry:
        why = registry.unavailable(tool)
        mark = "" if why is None else f"  [unavailable: {why}]"
        lines.append(f"{tool.name:<28} {tool.description.splitlines()[0][:80]}{mark}")
    return CommandResult("tools", True, "\n".join(lines), data={"count": len(registry)})


async def _memory(runtime: AgentRuntime, state: SessionState, arg: str) -> CommandResult:
    vault = runtime.vault
    if vault is None:
        raise ValueError("the memory vault is not available")
    verb, _, rest = arg.partition(" ")
    rest = rest.strip()
    if verb in ("", "recent"):
        entries = vault.recent(15)
        if not entries:
            return CommandResult("memory", True, f"The vault ({vault.root}) is empty.")
        text = "\n".join(f"[{e.category}] {e.title}  ({e.path})" for e in entries)
        return CommandResult("memory", True, text, data={"entries": [e.to_dict() for e in entries]})
    if verb == "search":
        if not rest:
            raise ValueError("usage: /memory search TEXT")
        hits = vault.search(rest, limit=10)
        text = "\n".join(f"[{h.entry.category}] {h.entry.title}: {h.entry.content[:200]}" for h in hits)
        return CommandResult(
            "memory", True, text or "Nothing found.", data={"hits": [h.to_dict() for h in hits]}
        )
    if verb == "save":
        if not rest:
            raise ValueError("usage: /memory save TEXT")
        entry = vault.remember(rest, "fact", source="command", session_id=state.session_id)
        return CommandResult("memory", True, f"Saved ({entry.path}).", data=entry.to_dict())
    if verb == "forget":
        if not rest:
            raise ValueError("usage: /memory forget PATH")
        found = vault.forget(rest)
        return CommandResult("memory", found, "Forgotten." if found else f"no such entry: {rest}")
    raise ValueError("usage: /memory [recent | search TEXT | save TEXT | forget PATH]")


async def _session(runtime: AgentRuntime, state: SessionState, arg: str) -> CommandResult:
    verb, _, rest = arg.partition(" ")
    rest = rest.strip()
    if verb in ("", "show"):
        if state.session_id is None:
            return CommandResult("session", True, "No session yet: the next message starts one.")
        count = await runtime.sessions.count_messages(state.session_id)
        return CommandResult(
            "session",
            True,
            f"session {state.session_id}: {count} messages, {state.turns} turns here",
            data={"session_id": state.session_id, "messages": count},
        )
    if verb == "new":
        old = state.session_id
        if old is not None:
            await runtime.end_session(old, agent_id=state.agent_id)
        state.reset()
        return CommandResult("session", True, "New session: the next message starts it.", data={"ended": old})
    if verb == "list":
        rows = await runtime.sessions.list_sessions(limit=20)
        text = "\n".join(
            f"{s.id}  {s.updated_at:%Y-%m-%d %H:%M}  {s.channel:<6} {s.title or ''}" for s in rows
        )
        return CommandResult(
            "session", True, text or "No sessions.", data={"sessions": [s.to_dict() for s in rows]}
        )
    if verb == "resume":
        if not rest:
            raise ValueError("usage: /session resume ID")
        from vaos.store.sessions import check_session_id

        check_session_id(rest)
        stored = await runtime.sessions.get_session(rest)
        if stored is None:
            raise ValueError(f"unknown session {rest!r}")
        if state.session_id and state.session_id != rest:
            await runtime.end_session(state.session_id, agent_id=state.agent_id)
        state.reset()
        state.session_id = rest
        count = await runtime.sessions.count_messages(rest)
        return CommandResult(
            "session",
            True,
            f"Resumed session {rest} ({count} messages).",
            data={"session_id": rest, "messages": count},
        )
    if verb == "search":
        if not rest:
            raise ValueError("usage: /session search TEXT")
        from vaos.store.message_search import search_messages

        found = await search_messages(runtime.db, rest, limit=10)
        text = "\n".join(f"{m.session_id}  {m.role}: {' '.join(m.content.split())[:120]}" for m in found)
        return CommandResult("session", True, text or "Nothing found.")
    raise ValueError("usage: /session [show | new | list | resume ID | search TEXT]")


async def _cost(runtime: AgentRuntime, state: SessionState, arg: str) -> CommandResult:
    budget = runtime.routing.budget
    stored = float(budget.spent_session(state.session_id)) if state.session_id else 0.0
    lines = [
        f"this session: {state.turns} turns, {state.prompt_tokens} tokens in, {state.completion_tokens} out, "
        f"${max(state.cost_usd, stored):.6f}",
        f"today: ${float(budget.spent_today()):.6f}",
    ]
    over = budget.over(state.session_id)
    if over:
        lines.append(f"over budget: {over}")
    data = {
        "prompt_tokens": state.prompt_tokens,
        "completion_tokens": state.completion_tokens,
        "cost_usd": max(state.cost_usd, stored),
        "today_usd": float(budget.spent_today()),
    }
    return CommandResult("cost", True, "\n".join(lines), data=data)


async def _clear(runtime: AgentRuntime, state: SessionState, arg: str) -> CommandResult:
    old = state.session_id
    if old is not None:
        await runtime.end_session(old, agent_id=state.agent_id)
    state.reset()
    return CommandResult(
        "clear",
        True,
        "Cleared: a new session starts with the next message.",
        action="clear",
        data={"ended": old},
    )


async def _quit(runtime: AgentRuntime, state: SessionState, arg: str) -> CommandResult:
    if state.session_id is not None:
        await runtime.end_session(state.session_id, agent_id=state.agent_id)
    return CommandResult("quit", True, "Bye.", action="quit")


COMMANDS: dict[str, Command] = {
    c.name: c
    for c in (
        Command("help", "/help [command]", "List the commands, or explain one.", _help, ("?",)),
        Command("model", "/model [provider[/model] | auto]", "Show or pin the provider and model.", _model),
        Command("tier", "/tier [utility|specialist|elite|auto]", "Show or force the compute tier.", _tier),
        Command("tools", "/tools [name]", "List the tools, or show one tool's schema.", _tools),
        Command(
            "memory", "/memory [recent|search T|save T|forget P]", "Look into or add to the vault.", _memory
        ),
        Command("session", "/session [show|new|list|resume ID|search T]", "Manage conversations.", _session),
        Command("cost", "/cost", "Tokens and cost of this session, and today's spend.", _cost),
        Command("clear", "/clear", "End this session (facts saved) and start a new one.", _clear),
        Command("quit", "/quit", "End the session and leave.", _quit, ("exit", "q")),
    )
}
_LOOKUP: dict[str, Command] = {
    **{c.name: c for c in COMMANDS.values()},
    **{alias: c for c in COMMANDS.values() for alias in c.aliases},
}
