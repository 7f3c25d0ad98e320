"""A small runtime with the shape of ``vaos.agent.open_runtime`` for the API tests.

Real parts where they matter (event bus, store, routing with its runner, breakers, budget and
cost; the governance gate when asked), a scripted model, and a tiny agent loop: classify,
route, call the model, run the ``echo`` tool when asked, call again, answer.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from vaos.api import create_app
from vaos.api.testing import LiveServer
from vaos.config import ApiSettings, GovernanceSettings, RoutingSettings, Settings
from vaos.events import Event, EventBus
from vaos.governance.gate import Governance, open_governance
from vaos.providers.registry import ProviderRegistry
from vaos.providers.testing import Reply, ScriptedProvider
from vaos.providers.types import Message, Request, TextDelta, ToolCallEvent, ToolSpec
from vaos.routing.runner import Finished, StreamFailed, StreamInterruptedError
from vaos.routing.wiring import Routing, build_routing
from vaos.signal.service import SignalService
from vaos.store.database import Database
from vaos.store.sessions import SessionStore

ECHO = ToolSpec(
    "echo",
    "Repeat the text.",
    {"type": "object", "properties": {"text": {"type": "string"}}, "required": ["text"]},
)


def test_settings(home: Path, **api: Any) -> Settings:
    limits = {"rate_limit_per_minute": 100_000, "rate_limit_auth_per_minute": 100_000}
    limits.update(api)
    return Settings(
        home=home,
        routing=RoutingSettings(default_provider="fake", local_fallback=False, max_attempts=1),
        governance=GovernanceSettings(mode="off"),
        api=ApiSettings(**limits),
    )


class FakeTools:
    def specs(self) -> list[ToolSpec]:
        return [ECHO]

    def to_json(self) -> list[dict[str, Any]]:
        return [
            {"name": t.name, "description": t.description, "parameters": dict(t.parameters)}
            for t in self.specs()
        ]


@dataclass
class FakeResult:
    session_id: str
    output: str
    signal: dict[str, Any]
    tier: str
    provider: str | None
    model: str | None
    usage: dict[str, int]
    cost_usd: float | None
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    iterations: int = 0

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


class FakeAgent:
    def __init__(self, runtime: FakeRuntime) -> None:
        self.rt = runtime

    async def run(self, text: str, **options: Any) -> FakeResult:
        result: FakeResult | None = None
        async for event in self.stream(text, **options):
            if event.type == "agent_response":
                result = FakeResult(**event.data)
            elif event.type == "error":
                raise RuntimeError(event.data.get("message"))
        assert result is not None
        return result

    async def stream(
        self,
        text: str,
        *,
        session_id: str | None = None,
        tier: str | None = None,
        provider: str | None = None,
        model: str | None = None,
        channel: str = "http",
    ) -> AsyncIterator[Event]:
        rt = self.rt
        bus = rt.bus
        sessions = rt.sessions
        if session_id is None or await sessions.get_session(session_id) is None:
            session_id = (await sessions.create_session(channel=channel, session_id=session_id)).id
        events: list[Event] = []

        async def emit(kind: str, data: dict[str, Any]) -> Event:
            event = await bus.emit(kind, data, session_id=session_id, agent_id="vaos")
            events.append(event)
            return event

        signal = await SignalService(bus, deterministic=None).classify(
            text, session_id=session_id, channel=channel
        )
        yield Event(
            type="signal_classified",
            session_id=session_id,
            agent_id="vaos",
            data={"signal": signal.to_dict()},
        )
        decision = rt.routing.router.decide(
            signal, text, tier=tier, provider=provider, model=model, session_id=session_id
        )
        yield await emit("routing_decided", decision.to_dict())
        await sessions.append_message(session_id, "user", text)
        messages: list[Message] = [Message.user(text)]
        calls: list[dict[str, Any]] = []
        usage = {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0}
        cost = 0.0
        answer = ""
        used_provider = used_model = None
        iteration = 0
        while iteration < 4:
            iteration += 1
            request = Request(tuple(messages), tools=(ECHO,))
            result = None
            async for item in rt.routing.runner.stream(request, decision, session_id=session_id):
                if isinstance(item, TextDelta):
                    yield Event(
                        type="llm_token", session_id=session_id, agent_id="vaos", data={"text": item.text}
                    )
                elif isinstance(item, Finished):
                    result = item.result
                elif isinstance(item, StreamFailed):
                    raise StreamInterruptedError(item)
                elif isinstance(item, ToolCallEvent):
                    pass
            assert result is not None
            c = result.completion
            used_provider, used_model = c.provider, c.model
            usage["prompt_tokens"] += c.usage.input_tokens
            usage["completion_tokens"] += c.usage.output_tokens
            usage["total_tokens"] += c.usage.total_tokens
            cost += float(result.cost_usd or 0)
            if not c.tool_calls:
                answer = c.text
                break
            messages.append(Message.assistant(c.text, c.tool_calls))
            for call in c.tool_calls:
                yield await emit("tool_call", {"name": call.name, "arguments": call.arguments, "id": call.id})
                output = str(call.arguments.get("text", ""))
                calls.append(
                    {"id": call.id, "name": call.name, "arguments": call.arguments, "result": output}
                )
                yield await emit(
                    "tool_result", {"name": call.name, "id": call.id, "result": output, "ok": True}
                )
                messages.append(Message.tool_result(call, output))
        await sessions.append_message(session_id, "assistant", answer)
        data = FakeResult(
            session_id=session_id,
            output=answer,
            signal=signal.to_dict(),
            tier=decision.tier,
            provider=used_provider,
            model=used_model,
            usage=usage,
            cost_usd=cost,
            tool_calls=calls,
            iterations=iteration,
        ).to_dict()
        yield await emit("agent_response", data)


@dataclass
class FakeRuntime:
    settings: Settings
    bus: EventBus
    db: Database
    sessions: SessionStore
    routing: Routing
    governance: Governance
    tools: FakeTools
    provider: ScriptedProvider

    vault: Any = None

    def agent(self, name: str = "vaos") -> FakeAgent:
        return FakeAgent(self)

    async def end_session(self, session_id: str, *, agent_id: str = "vaos") -> int:
        return 0


def fake_runtime_factory(
    provider: ScriptedProvider, *, governance: bool = False
) -> Callable[[Settings, EventBus], contextlib.AbstractAsyncContextManager[FakeRuntime]]:
    @contextlib.asynccontextmanager
    async def factory(settings: Settings, bus: EventBus) -> AsyncIterator[FakeRuntime]:
        db = Database.from_settings(settings)
        await db.migrate()
        registry = ProviderRegistry(settings, environ={})
        registry.register("fake", provider)
        routing = build_routing(settings, bus=bus, registry=registry)
        try:
            if governance:
                gov_settings = settings.model_copy(
                    update={
                        "governance": GovernanceSettings(mode="enforce"),
                        "kernel": settings.kernel.model_copy(update={"port": 0, "jwks_port": 0}),
                    }
                )
                async with open_governance(gov_settings, bus=bus) as gate:
                    yield FakeRuntime(
                        settings, bus, db, SessionStore(db), routing, gate, FakeTools(), provider
                    )
            else:
                gate = Governance(None, mode="off")
                yield FakeRuntime(settings, bus, db, SessionStore(db), routing, gate, FakeTools(), provider)
        finally:
            await routing.aclose()
            await db.dispose()

    return factory


def scripted(*steps: Any) -> ScriptedProvider:
    return ScriptedProvider(
        "fake", list(steps) or [Reply("hello from the fake model")], default_model="fake-model"
    )


@dataclass
class Api:
    server: LiveServer
    settings: Settings
    provider: ScriptedProvider

    @property
    def url(self) -> str:
        return self.server.url

    def client(self, **kwargs: Any) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=10, **kwargs)

    @property
    def runtime(self) -> FakeRuntime:
        runtime: FakeRuntime = self.server.app.state.vaos.runtime
        return runtime

    def script(self, *steps: Any) -> None:
        """The model's next answers (the last one repeats)."""
        self.provider.script[:] = list(steps)
        self.provider.requests.clear()
        ctx = getattr(self.server.app.state, "vaos", None)
        if ctx is not None:
            ctx.runtime.routing.registry.breakers["fake"].reset()


def start_api(home: Path, *, governance: bool = False, bind_host: str | None = None, **api: Any) -> Api:
    settings = test_settings(home, **api)
    provider = scripted()
    app = create_app(
        settings,
        runtime_factory=fake_runtime_factory(provider, governance=governance),  # type: ignore[arg-type]
        bind_host=bind_host,
    )
    server = LiveServer(app)
    server.start()
    return Api(server, settings, provider)
