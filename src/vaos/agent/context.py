"""Building what the model sees: the system prompt (with the signal, relevant memory, skills
and the session's tasks), the tool schemas that fit, and token estimates.

The prompt template is ``vaos/data/prompts/system.md``, or ``$VAOS_HOME/prompts/system.md``
when that exists (read again when it changes).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING

from vaos.providers.catalog import get_catalog
from vaos.providers.types import Message, ToolSpec
from vaos.signal.models import Signal
from vaos.tools.shell_policy import tools_data

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.tools.skills import SkillLibrary
    from vaos.tools.tasks import TaskStore
    from vaos.tools.vault import Vault
    from vaos.tools.workspace import Workspace

MESSAGE_OVERHEAD = 4
_WORD = re.compile(r"[a-z0-9]+")


def estimate_tokens(text: str) -> int:
    """About four characters a token: cheap, and close enough to budget a window."""
    return (len(text) + 3) // 4


def message_tokens(message: Message) -> int:
    total = estimate_tokens(message.content) + MESSAGE_OVERHEAD
    for call in message.tool_calls:
        total += estimate_tokens(call.name) + estimate_tokens(json.dumps(call.arguments)) + MESSAGE_OVERHEAD
    return total


def messages_tokens(messages: Sequence[Message]) -> int:
    return sum(message_tokens(m) for m in messages)


def spec_tokens(spec: ToolSpec) -> int:
    return (
        estimate_tokens(spec.name)
        + estimate_tokens(spec.description)
        + estimate_tokens(json.dumps(dict(spec.parameters), separators=(",", ":")))
        + MESSAGE_OVERHEAD
    )


class PromptTemplates:
    """Prompt files: the user's copy in ``$VAOS_HOME/prompts/`` wins over the packaged one."""

    def __init__(self, home: Path) -> None:
        self.dir = home / "prompts"
        self._cache: dict[str, tuple[float, str]] = {}

    def get(self, name: str) -> str:
        user = self.dir / name
        try:
            mtime = user.stat().st_mtime
        except OSError:
            mtime = -1.0
        cached = self._cache.get(name)
        if cached is not None and cached[0] == mtime:
            return cached[1]
        if mtime >= 0:
            text = user.read_text(encoding="utf-8")
        else:
            text = resources.files("vaos.data").joinpath("prompts", name).read_text(encoding="utf-8")
        self._cache[name] = (mtime, text)
        return text

    def render(self, name: str, **values: str) -> str:
        text = self.get(name)
        for key, value in values.items():
            text = text.replace("{{" + key + "}}", value)
        return text


class ContextBuilder:
    def __init__(
        self,
        settings: Settings,
        *,
        workspace: Workspace,
        vault: Vault | None = None,
        skills: SkillLibrary | None = None,
        tasks: TaskStore | None = None,
    ) -> None:
        self.settings = settings
        self.workspace = workspace
        self.vault = vault
        self.skills = skills
        self.tasks = tasks
        self.templates = PromptTemplates(settings.home)
        self._core = list(tools_data().get("selection", {}).get("core", []))
        self._costs: dict[str, tuple[int, int]] = {}

    def spec_cost(self, spec: ToolSpec) -> int:
        """``spec_tokens(spec)``, remembered while the tool's schema object stays the same."""
        cached = self._costs.get(spec.name)
        if cached is not None and cached[0] == id(spec.parameters):
            return cached[1]
        cost = spec_tokens(spec)
        self._costs[spec.name] = (id(spec.parameters), cost)
        return cost

    def window(self, provider: str | None, model: str | None) -> int:
        """The context window to budget for (the setting wins over the model table)."""
        if self.settings.agent.max_context_tokens:
            return self.settings.agent.max_context_tokens
        return get_catalog().context_window(model or "", provider)

    def system_prompt(
        self, *, signal: Signal, text: str, session_id: str | None, agent_id: str, channel: str
    ) -> str:
        base = self.templates.render(
            "system.md",
            agent_id=agent_id,
            workspace=str(self.workspace.root),
            date=datetime.now(UTC).strftime("%Y-%m-%d"),
            channel=channel,
            session_id=session_id or "-",
        ).strip()
        blocks = [
            base,
            (
                f"## This message\nmode {signal.mode}, genre {signal.genre}, type {signal.type}, "
                f"weight {signal.weight:.2f}, tier {signal.tier}"
            ),
        ]
        limit = self.settings.agent.memory_chars
        if self.vault is not None and limit > 0:
            blocks.append(self.vault.context(text, limit))
        if self.skills is not None:
            blocks.append(self.skills.context(text))
        if self.tasks is not None:
            blocks.append(self.tasks.context(session_id))
        return "\n\n".join(b for b in blocks if b)

    def select_tools(self, specs: Sequence[ToolSpec], text: str, budget: int) -> list[ToolSpec]:
        """All the tools when they fit ``budget`` tokens; else the core ones, then the most
        relevant to ``text``, as many as fit (order of the registry kept)."""
        costs = {s.name: self.spec_cost(s) for s in specs}
        if sum(costs.values()) <= budget:
            return list(specs)
        words = set(_WORD.findall(text.lower()))

        def relevance(spec: ToolSpec) -> float:
            hay = set(_WORD.findall(f"{spec.name.replace('_', ' ')} {spec.description}".lower()))
            return len(words & hay)

        order = sorted(
            specs,
            key=lambda s: (
                0 if s.name in self._core else 1,
                self._core.index(s.name) if s.name in self._core else 0,
                -relevance(s),
            ),
        )
        chosen: set[str] = set()
        used = 0
        for spec in order:
            if used + costs[spec.name] <= budget:
                chosen.add(spec.name)
                used += costs[spec.name]
        return [s for s in specs if s.name in chosen]
