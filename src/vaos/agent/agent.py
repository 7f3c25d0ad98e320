"""``Agent``: the public face of the loop — ``run`` for the result, ``stream`` for the events."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from vaos.agent.errors import AgentCallError, AgentInputError
from vaos.agent.result import AgentResult
from vaos.agent.run import AgentRun
from vaos.events import Event

if TYPE_CHECKING:
    from vaos.agent.runtime import AgentRuntime
    from vaos.providers.base import Provider


class Agent:
    """One agent id on a runtime. Cheap to create; all state lives in the runtime and store."""

    def __init__(
        self, runtime: AgentRuntime, agent_id: str = "vaos", *, model_override: Provider | None = None
    ) -> None:
        self.runtime = runtime
        self.agent_id = agent_id
        self.model_override = model_override
        if model_override is not None:
            runtime.routing.registry.register(model_override.name, model_override)

    def __repr__(self) -> str:
        return f"Agent({self.agent_id!r})"

    async def run(
        self,
        text: str,
        *,
        session_id: str | None = None,
        tier: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        channel: str = "cli",
    ) -> AgentResult:
        """Classify, route, loop (model calls and tools) and answer.

        Raises ``AgentInputError`` for a bad message, session id or override, and
        ``AgentCallError`` when no provider answered (or the budget refused the call).
        """
        run = AgentRun(
            self, text, session_id=session_id, tier=tier, provider=provider, model=model, channel=channel
        )
        return await run.execute()

    async def stream(
        self,
        text: str,
        *,
        session_id: str | None = None,
        tier: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        channel: str = "cli",
    ) -> AsyncIterator[Event]:
        """Every event of this run as it happens (also published on the runtime's bus); the
        last is ``agent_response`` (data: ``AgentResult.to_dict()``) or ``error`` (data:
        ``kind`` = ``input`` | ``model_call`` | ``budget`` | ``internal``, ``message``, ``final``)."""
        queue: asyncio.Queue[Event | None] = asyncio.Queue()
        run = AgentRun(
            self, text, session_id=session_id, tier=tier, provider=provider, model=model, channel=channel
        )
        agent_id = self.agent_id

        async def forward(event: Event) -> None:
            if (
                event.agent_id in (agent_id, None)
                and run.session_id is not None
                and event.session_id == run.session_id
            ):
                queue.put_nowait(event)

        async def drive() -> None:
            final: Event | None = None
            try:
                await run.execute()
            except AgentInputError as exc:
                final = await self._final_error("input", str(exc), run.session_id)
            except AgentCallError as exc:
                final = await self._final_error(exc.kind, str(exc), run.session_id, attempts=exc.attempts)
            except Exception as exc:
                final = await self._final_error("internal", f"{type(exc).__name__}: {exc}", run.session_id)
            finally:
                if final is not None and (run.session_id is None):
                    queue.put_nowait(final)  # not seen by ``forward`` (no session yet)
                queue.put_nowait(None)

        unsubscribe = self.runtime.bus.subscribe(forward)
        task = asyncio.create_task(drive(), name=f"vaos-agent-{agent_id}")
        try:
            while True:
                event = await queue.get()
                if event is None:
                    break
                yield event
        finally:
            unsubscribe()
            if not task.done():
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _final_error(
        self, kind: str, message: str, session_id: str | None, *, attempts: list[dict[str, Any]] | None = None
    ) -> Event:
        data: dict[str, Any] = {"kind": kind, "message": message, "final": True}
        if attempts:
            data["attempts"] = attempts
        return await self.runtime.bus.emit("error", data, session_id=session_id, agent_id=self.agent_id)

    async def end_session(self, session_id: str) -> int:
        """End a session now (facts extracted to the vault); returns how many were saved."""
        return await self.runtime.end_session(session_id, agent_id=self.agent_id)
