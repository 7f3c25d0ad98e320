"""A small agent runtime for tests and benchmarks of the swarm machinery, with the shape of
``vaos.agent.AgentRuntime`` (``runtime.agent(agent_id, model_override=…).run(text, …)``).

Each run asks the ``model_override`` (e.g. a ``ScriptedProvider``) when one is given, else
answers ``"<agent_id>: <first line of the task>"`` with no model at all. Directives in the
text steer it: ``[[sleep 1.5]]`` waits, ``[[fail]]`` raises, ``[[cost 0.01]]`` reports that
cost. With a ``governance`` gate every run is authorised as ``llm_call`` of its agent id, so
the audit ledger shows each swarm agent under its own id, as the real loop does.

``VAOS_SWARM__RUNTIME=vaos.swarm.testing:open_echo_runtime vaos worker`` runs a worker on it.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.events import EventBus
    from vaos.governance.gate import Governance
    from vaos.providers.base import Provider

_SLEEP = re.compile(r"\[\[sleep ([0-9.]+)\]\]")
_COST = re.compile(r"\[\[cost ([0-9.]+)\]\]")
_TASK_HEADER = "## Your task\n"


@dataclass
class EchoResult:
    session_id: str
    output: str
    tier: str | None = None
    provider: str | None = "echo"
    model: str | None = "echo"
    usage: dict[str, int] = field(default_factory=dict)
    cost_usd: float = 0.0
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    iterations: int = 1

    def to_dict(self) -> dict[str, Any]:
        return {
            "session_id": self.session_id,
            "output": self.output,
            "tier": self.tier,
            "provider": self.provider,
            "model": self.model,
            "usage": dict(self.usage),
            "cost_usd": self.cost_usd,
            "tool_calls": list(self.tool_calls),
            "iterations": self.iterations,
        }


def echo_answer(agent_id: str, text: str) -> str:
    """``<agent_id>: <first line of the task section>`` (directives removed)."""
    body = text.rsplit(_TASK_HEADER, 1)[-1]
    for line in body.splitlines():
        line = re.sub(r"\[\[[^\]]*\]\]", "", line).strip()
        if line:
            return f"{agent_id}: {line}"
    return f"{agent_id}: done"


class EchoAgent:
    def __init__(self, runtime: EchoRuntime, agent_id: str, model_override: Provider | None) -> None:
        self.runtime = runtime
        self.agent_id = agent_id
        self.model_override = model_override

    async def run(
        self,
        text: str,
        *,
        session_id: str | None = None,
        tier: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        channel: str = "cli",
    ) -> EchoResult:
        self.runtime.calls.append((self.agent_id, session_id, text))
        governance = self.runtime.governance
        if governance is None:
            return await self._answer(text, session_id, tier)
        async with governance.authorize(
            "llm_call", intent=text, agent_id=self.agent_id, session_id=session_id, args={"tier": tier}
        ):
            return await self._answer(text, session_id, tier)

    async def _answer(self, text: str, session_id: str | None, tier: str | None) -> EchoResult:
        sleep = _SLEEP.search(text)
        if sleep:
            await asyncio.sleep(float(sleep.group(1)))
        if "[[fail]]" in text:
            raise RuntimeError("scripted agent failure")
        cost = _COST.search(text)
        result = EchoResult(session_id=session_id or f"echo-{time.monotonic_ns()}", output="", tier=tier)
        result.cost_usd = float(cost.group(1)) if cost else 0.0
        if self.model_override is None:
            result.output = echo_answer(self.agent_id, text)
            return result
        from vaos.providers.types import Request

        completion = await self.model_override.complete(Request.of(text, max_tokens=self.runtime.max_tokens))
        result.output = completion.text
        result.provider, result.model = completion.provider, completion.model
        usage = completion.usage
        result.usage = {
            "prompt_tokens": usage.input_tokens,
            "completion_tokens": usage.output_tokens,
            "total_tokens": usage.input_tokens + usage.output_tokens,
        }
        return result


class EchoRuntime:
    def __init__(
        self,
        settings: Settings | None = None,
        *,
        bus: EventBus | None = None,
        governance: Governance | None = None,
        db: Any = None,
        max_tokens: int | None = None,
    ) -> None:
        from vaos.events import EventBus

        self.settings = settings
        self.bus = bus or EventBus()
        self.governance = governance
        self.db = db
        self.max_tokens = max_tokens
        self.calls: list[tuple[str, str | None, str]] = []

    def agent(self, agent_id: str = "vaos", *, model_override: Provider | None = None) -> EchoAgent:
        return EchoAgent(self, agent_id, model_override)


@asynccontextmanager
async def open_echo_runtime(
    settings: Settings | None = None, *, bus: EventBus | None = None
) -> AsyncIterator[EchoRuntime]:
    """An ``EchoRuntime`` with the settings' database (migrated) and no governance."""
    from vaos.config import get_settings
    from vaos.store.database import Database

    settings = settings or get_settings()
    db = Database.from_settings(settings)
    try:
        await db.migrate()
        yield EchoRuntime(settings, bus=bus, db=db)
    finally:
        await db.dispose()
