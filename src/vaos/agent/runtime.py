"""The agent runtime: everything a front end needs to run agents, built and torn down together.

``open_runtime()`` builds, in order: the event bus, the store (migrated), the routing layer,
the signal service (with the LLM classifier per the settings), the governance gate (an
embedded kernel on an ephemeral loopback port unless ``VAOS_KERNEL__URL`` names one; when
another VAOS process already owns this home's kernel, it is used instead), the memory vault,
skills, tasks, the tool registry (built-ins, then the servers of ``$VAOS_HOME/mcp.json``),
the hooks, the executor and the context builder. Closing ends the sessions this process ran
(facts extracted to the vault) and releases everything in reverse order.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from typing import TYPE_CHECKING, Any

from vaos.agent.agent import Agent
from vaos.agent.builtin_hooks import HookEnv, install_builtin_hooks
from vaos.agent.compaction import Compactor, Summariser
from vaos.agent.context import ContextBuilder
from vaos.agent.conversation import ConversationStore
from vaos.agent.hooks import Hooks
from vaos.agent.tool_execution import ToolExecutor
from vaos.events import EventBus
from vaos.tools.base import AskUser, ToolServices
from vaos.tools.registry import ToolRegistry

if TYPE_CHECKING:
    from vaos.config import Settings
    from vaos.governance.gate import Governance
    from vaos.providers.base import Provider
    from vaos.providers.types import Message
    from vaos.routing.wiring import Routing
    from vaos.signal.service import SignalService
    from vaos.store.database import Database
    from vaos.store.sessions import SessionStore
    from vaos.tools.skills import SkillLibrary
    from vaos.tools.tasks import TaskStore
    from vaos.tools.vault import Vault

logger = logging.getLogger(__name__)


class AgentRuntime:
    """The pieces of a running VAOS, shared by every agent and front end of the process."""

    settings: Settings
    bus: EventBus
    db: Database
    sessions: SessionStore
    tools: ToolRegistry
    governance: Governance | None

    def __init__(
        self,
        *,
        settings: Settings,
        bus: EventBus,
        db: Database,
        sessions: SessionStore,
        routing: Routing,
        signals: SignalService,
        tools: ToolRegistry,
        services: ToolServices,
        governance: Governance | None,
    ) -> None:
        self.settings = settings
        self.bus = bus
        self.db = db
        self.sessions = sessions
        self.routing = routing
        self.signals = signals
        self.tools = tools
        self.services = services
        self.governance = governance
        self.vault: Vault | None = services.vault
        self.skills: SkillLibrary | None = services.skills
        self.tasks: TaskStore | None = services.tasks
        self.workspace = services.workspace
        self.hooks = Hooks()
        self.conversations = ConversationStore(sessions)
        self.context = ContextBuilder(
            settings, workspace=self.workspace, vault=self.vault, skills=self.skills, tasks=self.tasks
        )
        self.compactor = Compactor(self._summariser() if settings.agent.compaction_llm else None)
        self.executor = ToolExecutor(
            tools, services, hooks=self.hooks, governance=governance, bus=bus, settings=settings
        )
        self.active_sessions: set[str] = set()
        self.builtin_hooks = install_builtin_hooks(self.hooks, HookEnv(services, self._paused))

    # -- agents ------------------------------------------------------------------------------

    def agent(self, agent_id: str = "vaos", *, model_override: Provider | None = None) -> Agent:
        """An agent on this runtime. ``model_override`` answers every model call of it instead of
        the routed chain (tests, embedders; the LLM signal classifier is then not used)."""
        return Agent(self, agent_id, model_override=model_override)

    @property
    def ask_user(self) -> AskUser | None:
        return self.services.ask_user

    @ask_user.setter
    def ask_user(self, handler: AskUser | None) -> None:
        """Set by an interactive front end so the ``ask_user`` tool can reach a person."""
        self.services.ask_user = handler

    # -- sessions ----------------------------------------------------------------------------

    def touch_session(self, session_id: str) -> None:
        self.active_sessions.add(session_id)

    async def end_session(self, session_id: str, *, agent_id: str = "vaos") -> int:
        """Run the ``session_end`` hooks (fact extraction) and forget the cached messages."""
        self.active_sessions.discard(session_id)
        messages: list[Message] = []
        with contextlib.suppress(Exception):
            messages = await self.conversations.load(session_id)
        outcome = await self.hooks.run(
            "session_end", {"messages": messages}, session_id=session_id, agent_id=agent_id
        )
        self.conversations.forget(session_id)
        self.services.files_read.pop(session_id, None)
        saved = outcome.data.get("facts_saved", 0)
        return saved if isinstance(saved, int) else 0

    async def close_sessions(self) -> None:
        try:
            await self.conversations.flush()
        except Exception as exc:  # reported; closing goes on
            logger.error("messages could not be stored: %r", exc)
        for session_id in list(self.active_sessions):
            try:
                await self.end_session(session_id)
            except Exception as exc:  # closing must go on
                logger.warning("ending session %s: %r", session_id, exc)

    # -- internals ---------------------------------------------------------------------------

    def _paused(self, agent_id: str) -> str | None:
        from vaos.governance.daemon_state import DaemonStateStore

        state = DaemonStateStore.for_home(self.settings.home)
        if not state.path.exists():
            return None
        paused = state.load()
        if paused.is_paused(agent_id):
            who = "VAOS is" if paused.paused_all else f"agent {agent_id} is"
            return f"{who} paused by a kernel command; a signed resume command lifts it"
        return None

    def _summariser(self) -> Summariser:
        from vaos.providers.types import Request

        async def summarise(messages: Any) -> str:
            from vaos.agent.compaction import extractive_summary

            lines = "\n".join(f"{m.role}: {' '.join(m.content.split())[:800]}" for m in messages)
            prompt = self.context.templates.render("compaction.md", messages=lines)
            decision = self.routing.router.decide(tier="utility")
            result = await self.routing.runner.complete(
                Request.of(prompt, max_tokens=400, temperature=0.2), decision
            )
            return result.completion.text or extractive_summary(messages)

        return summarise


@asynccontextmanager
async def open_runtime(
    settings: Settings | None = None,
    *,
    bus: EventBus | None = None,
    governance: bool | Governance = True,
    mcp: bool = True,
) -> AsyncIterator[AgentRuntime]:
    """Build a runtime from the settings and tear it down after.

    ``governance``: True builds the gate from the settings (embedded kernel unless
    ``VAOS_KERNEL__URL``), False runs without one (tools are then not authorised — tests and
    tools listing only), or pass a ``Governance`` a server already opened. ``mcp``: connect
    the servers of ``$VAOS_HOME/mcp.json``.
    """
    from vaos.config import get_settings
    from vaos.routing.call_recorder import CallRecorder
    from vaos.routing.wiring import build_routing
    from vaos.signal.classifier import DeterministicClassifier
    from vaos.signal.noise_filter import NoiseFilter, NoiseThresholds
    from vaos.signal.recorder import SignalRecorder
    from vaos.signal.service import SignalService
    from vaos.store.database import Database
    from vaos.store.sessions import SessionStore
    from vaos.tools.setup import open_tools

    settings = settings or get_settings()
    settings.home.mkdir(parents=True, exist_ok=True)
    bus = bus or EventBus()
    async with AsyncExitStack() as stack:
        db = Database.from_settings(settings)
        stack.push_async_callback(db.dispose)
        await db.migrate()
        sessions = SessionStore(db)
        SignalRecorder(db).attach(bus)
        CallRecorder(db).attach(bus)

        routing = build_routing(settings, bus=bus)
        stack.push_async_callback(routing.aclose)
        llm = None
        if settings.signal.llm_enabled:
            from vaos.signal.llm_classifier import LLMSignalClassifier

            async def classify_call(request: Any) -> Any:
                decision = routing.router.decide(tier="utility")
                return (await routing.runner.complete(request, decision)).completion

            llm = LLMSignalClassifier(classify_call)
        thresholds = NoiseThresholds(settings.signal.likely_noise, settings.signal.uncertain)
        signals = SignalService(
            bus,
            deterministic=DeterministicClassifier(noise_filter=NoiseFilter(thresholds)),
            llm=llm,
            llm_below=settings.signal.llm_below_confidence,
        )

        gate: Governance | None
        if governance is True:
            gate = await stack.enter_async_context(_governance(settings, bus))
        elif governance is False:
            gate = None
        else:
            gate = governance

        tools = await stack.enter_async_context(open_tools(settings, db=db, budget=routing.budget, mcp=mcp))
        services = tools.services
        assert services is not None
        runtime = AgentRuntime(
            settings=settings,
            bus=bus,
            db=db,
            sessions=sessions,
            routing=routing,
            signals=signals,
            tools=tools,
            services=services,
            governance=gate,
        )
        stack.push_async_callback(runtime.close_sessions)
        yield runtime


@asynccontextmanager
async def _governance(settings: Settings, bus: EventBus) -> AsyncIterator[Governance]:
    """The gate: external kernel, or an embedded one on an ephemeral loopback port; if this
    home's ledger is held by another kernel (a running ``vaos serve``), that kernel is used."""
    from vaos.governance.errors import LedgerLocked
    from vaos.governance.gate import open_governance
    from vaos.governance.server import KernelStartError

    if settings.governance.mode == "off" or settings.kernel.url:
        async with open_governance(settings, bus=bus) as gate:
            yield gate
        return
    ephemeral = settings.model_copy(
        update={"kernel": settings.kernel.model_copy(update={"port": 0, "jwks_port": 0})}
    )
    try:
        cm = open_governance(ephemeral, bus=bus)
        gate = await cm.__aenter__()
    except KernelStartError as exc:
        if not isinstance(exc.__cause__, LedgerLocked):
            raise
        host = settings.kernel.host if settings.kernel.host not in ("0.0.0.0", "::", "") else "127.0.0.1"
        target = f"{host}:{settings.kernel.port}"
        logger.info("this home's kernel runs in another process; using it at %s", target)
        shared = settings.model_copy(update={"kernel": settings.kernel.model_copy(update={"url": target})})
        async with open_governance(shared, bus=bus) as gate:
            yield gate
        return
    try:
        yield gate
    finally:
        await cm.__aexit__(None, None, None)
