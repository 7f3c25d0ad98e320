"""The runtime: events as they happen, governance (kernel tokens, refusals, the audit ledger),
the shared slash commands, and ``vaos ask`` running the loop."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from pathlib import Path

import pytest
from agent_helpers import TASK, call, tools
from aiohttp import web

from vaos.agent import COMMANDS, SessionState, run_command
from vaos.agent.runtime import AgentRuntime, open_runtime
from vaos.config import Settings, get_settings
from vaos.governance.ledger import read_records
from vaos.providers.testing import Fail, LoopbackServer, Reply, ScriptedProvider

with warnings.catch_warnings():
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from vaos.cli.app import app


async def test_stream_yields_every_event_and_ends_with_the_response(runtime: AgentRuntime) -> None:
    model = ScriptedProvider("fake", [tools(call("file_read", path="README.md")), Reply("It greets people.")])
    agent = runtime.agent(model_override=model)
    seen_on_bus: list[str] = []

    async def spy(event: object) -> None:
        seen_on_bus.append(event.type)  # type: ignore[attr-defined]

    runtime.bus.subscribe(spy)
    events = [event async for event in agent.stream(TASK)]
    kinds = [e.type for e in events]
    assert kinds[:2] == ["signal_classified", "routing_decided"]
    assert kinds[-1] == "agent_response" and kinds.count("llm_request") == 2
    assert kinds.index("tool_call") < kinds.index("tool_result") < kinds.index("agent_response")
    assert "llm_token" in kinds and "llm_response" in kinds
    assert seen_on_bus == kinds  # the same events, published on the runtime's bus
    sid = events[-1].session_id
    assert all(e.session_id == sid for e in events) and sid
    assert {e.agent_id for e in events if e.type != "signal_classified"} == {"vaos"}
    final = events[-1].data
    assert final["output"] == "It greets people." and final["tool_calls"][0]["name"] == "file_read"
    result = events[kinds.index("tool_result")].data
    assert result["status"] == "ok" and result["result"].startswith("# Demo project")


async def test_stream_ends_with_an_error_event_on_failure(runtime: AgentRuntime) -> None:
    model = ScriptedProvider("fake", [Fail("auth", status=401)])
    events = [e async for e in runtime.agent(model_override=model).stream(TASK)]
    assert events[-1].type == "error" and events[-1].data["final"] is True
    assert events[-1].data["kind"] == "routing" and "every provider failed" in events[-1].data["message"]
    bad = [e async for e in runtime.agent(model_override=model).stream(TASK, session_id="no/slashes")]
    assert [e.type for e in bad] == ["error"] and bad[0].data["kind"] == "input"


async def test_every_tool_call_is_authorised_and_audited(settings: Settings, workspace: Path) -> None:
    """With the embedded kernel: the daemon's agent gets tokens and every call is confirmed in
    the ledger; an agent the policy does not know is refused, its tools never run, and the model
    is told why."""
    async with open_runtime(settings, mcp=False) as runtime:
        assert runtime.governance is not None and runtime.governance.mode == "enforce"
        model = ScriptedProvider(
            "fake",
            [
                tools(call("file_read", path="README.md"), call("file_write", path="out.txt", content="x")),
                Reply("ok"),
            ],
        )
        allowed = await runtime.agent(model_override=model).run(TASK)
        assert [c["status"] for c in allowed.tool_calls] == ["ok", "ok"]
        intruder_model = ScriptedProvider(
            "fake2", [tools(call("file_write", path="evil.txt", content="x")), Reply("?")]
        )
        refused = await runtime.agent("intruder", model_override=intruder_model).run(TASK)
    assert refused.tool_calls[0]["status"] == "refused"
    assert refused.tool_calls[0]["result"].startswith("Refused: governance did not authorise file_write:")
    assert not (workspace / "evil.txt").exists() and (workspace / "out.txt").exists()
    told = [m.content for m in intruder_model.requests[-1].messages if m.role == "tool"]
    assert told[0].startswith("Refused:")
    records = read_records(settings.home / "ledger", limit=200)
    confirmed = [r for r in records if r["kind"] == "audit_confirmed"]
    assert sorted(r["action_type"] for r in confirmed) == ["file_read", "file_write"]
    assert all(r.get("session_id") == allowed.session_id for r in confirmed)
    refusals = [r for r in records if r["kind"] == "token_refused"]
    assert refusals and refusals[-1]["agent_id"] == "intruder"
    assert any(r["kind"] == "routing_log" for r in records)


async def test_audit_mode_acts_without_a_token_but_records_it(vaos_home: Path, workspace: Path) -> None:
    settings = Settings(
        home=vaos_home,
        tools={"workspace": workspace},
        signal={"llm_enabled": False},
        governance={"mode": "audit"},
    )
    async with open_runtime(settings, mcp=False) as runtime:
        model = ScriptedProvider("fake", [tools(call("file_write", path="a.txt", content="x")), Reply("ok")])
        result = await runtime.agent("intruder", model_override=model).run(TASK)
    assert result.tool_calls[0]["status"] == "ok" and (workspace / "a.txt").exists()
    kinds = [r["kind"] for r in read_records(vaos_home / "ledger", limit=100)]
    assert "audit_refused" in kinds


async def test_the_shared_slash_commands(runtime: AgentRuntime) -> None:
    assert list(COMMANDS) == ["help", "model", "tier", "tools", "memory", "session", "cost", "clear", "quit"]
    state = SessionState()
    help_ = await run_command(runtime, state, "/help")
    assert help_.ok and "/tier" in help_.output and help_.data["commands"][0] == "help"
    assert (await run_command(runtime, state, "/tier elite")).ok and state.tier == "elite"
    assert not (await run_command(runtime, state, "/tier mega")).ok
    assert (await run_command(runtime, state, "/model local")).ok and state.provider == "local"
    wrong = await run_command(runtime, state, "/model nope/x")
    assert not wrong.ok and "unknown" in wrong.output
    assert (await run_command(runtime, state, "/model auto")).ok and state.provider is None
    tools_ = await run_command(runtime, state, "/tools file_read")
    assert tools_.ok and '"path"' in tools_.output
    saved = await run_command(runtime, state, "/memory save The build server is called heron.")
    assert saved.ok and "heron" in (await run_command(runtime, state, "/memory search build server")).output
    model = ScriptedProvider("fake", [Reply("hello")])
    result = await runtime.agent(model_override=model).run(TASK, **{**state.run_kwargs(), "tier": None})
    state.record(result)
    cost = await run_command(runtime, state, "/cost")
    assert cost.ok and "1 turns, 10 tokens in, 5 out" in cost.output
    listed = await run_command(runtime, state, "/session list")
    assert result.session_id in listed.output
    shown = await run_command(runtime, state, "/session")
    assert "2 messages" in shown.output
    cleared = await run_command(runtime, state, "/clear")
    assert cleared.action == "clear" and state.session_id is None
    resumed = await run_command(runtime, state, f"/session resume {result.session_id}")
    assert resumed.ok and state.session_id == result.session_id
    assert not (await run_command(runtime, state, "/session resume nope")).ok
    assert not (await run_command(runtime, state, "/bogus")).ok
    quit_ = await run_command(runtime, state, "/exit")
    assert quit_.action == "quit" and quit_.to_dict()["command"] == "quit"


# -- vaos ask -------------------------------------------------------------------------------


def tool_calling_double() -> web.Application:
    """An OpenAI-compatible server: the first answer calls file_read, the second answers."""

    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        has_result = any(m.get("role") == "tool" for m in body["messages"])
        if has_result:
            deltas: list[tuple[dict[str, object], str | None]] = [
                ({"content": "The README says hello."}, None),
                ({}, "stop"),
            ]
        else:
            assert any(t["function"]["name"] == "file_read" for t in body.get("tools", []))
            function = {"name": "file_read", "arguments": json.dumps({"path": "README.md"})}
            deltas = [
                (
                    {"tool_calls": [{"index": 0, "id": "call_1", "type": "function", "function": function}]},
                    None,
                ),
                ({}, "tool_calls"),
            ]
        for delta, finish in deltas:
            chunk = {
                "id": "1",
                "object": "chat.completion.chunk",
                "created": 1,
                "model": body["model"],
                "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
            }
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        usage = {
            "id": "1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": body["model"],
            "choices": [],
            "usage": {"prompt_tokens": 100, "completion_tokens": 10, "total_tokens": 110},
        }
        await response.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
        return response

    application = web.Application()
    application.router.add_post("/v1/chat/completions", chat)
    return application


@pytest.fixture
def openai_double(monkeypatch: pytest.MonkeyPatch, workspace: Path) -> Iterator[None]:
    with LoopbackServer(tool_calling_double()) as server:
        monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
        monkeypatch.setenv("VAOS_PROVIDERS__OPENAI__BASE_URL", server.url + "/v1")
        monkeypatch.setenv("VAOS_SIGNAL__LLM_ENABLED", "false")
        monkeypatch.setenv("VAOS_TOOLS__WORKSPACE", str(workspace))
        get_settings.cache_clear()
        yield
    get_settings.cache_clear()


def test_vaos_ask_runs_the_loop_with_tools_under_governance(openai_double: None, vaos_home: Path) -> None:
    result = CliRunner().invoke(app, ["ask", "--json", TASK])
    assert result.exit_code == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc["output"] == "The README says hello." and doc["provider"] == "openai"
    assert doc["tool_calls"][0]["name"] == "file_read" and doc["tool_calls"][0]["status"] == "ok"
    assert doc["usage"]["input_tokens"] == 200 and doc["usage"]["prompt_tokens"] == 200
    assert doc["iterations"] == 2 and doc["decision"]["tier"] and doc["signal"]["intent_hash"]
    assert {"latency_s", "first_token_s", "failed_attempts", "cost_usd", "session_id"} <= set(doc)
    confirmed = [r for r in read_records(vaos_home / "ledger", limit=100) if r["kind"] == "audit_confirmed"]
    assert [r["action_type"] for r in confirmed] == ["file_read"]
    streamed = CliRunner().invoke(app, ["ask", TASK])
    assert streamed.exit_code == 0 and streamed.stdout == "The README says hello.\n"
    assert (
        "-> file_read(path='README.md')" in streamed.stderr and "1 tool call(s), 2 steps" in streamed.stderr
    )


async def test_a_runtime_uses_the_kernel_that_already_owns_this_home(settings: Settings) -> None:
    """``vaos ask`` while ``vaos serve`` runs: the ledger is locked, so the running kernel is used."""
    import socket

    from vaos.governance.server import KernelServer

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    shared = settings.model_copy(update={"kernel": settings.kernel.model_copy(update={"port": port})})
    async with KernelServer.from_settings(shared, host="127.0.0.1", jwks_port=0) as kernel:
        async with open_runtime(shared, mcp=False) as runtime:
            model = ScriptedProvider("fake", [tools(call("dir_list")), Reply("listed")])
            result = await runtime.agent(model_override=model).run(TASK)
        assert kernel.address.endswith(f":{port}")
    assert result.tool_calls[0]["status"] == "ok"
    confirmed = [
        r for r in read_records(settings.home / "ledger", limit=100) if r["kind"] == "audit_confirmed"
    ]
    assert [r["action_type"] for r in confirmed] == ["dir_list"]


def test_the_public_surface_is_the_contract() -> None:
    import dataclasses
    import inspect

    import vaos.agent
    import vaos.tools

    for name in (
        "AgentResult",
        "open_runtime",
        "AgentRuntime",
        "Agent",
        "COMMANDS",
        "run_command",
        "CommandResult",
        "SessionState",
        "AgentInputError",
        "AgentCallError",
        "Hooks",
        "Block",
    ):
        assert name in vaos.agent.__all__ and getattr(vaos.agent, name) is not None
    for name in ("ToolRegistry", "Tool", "ToolArgs", "ToolContext", "ToolError", "Vault", "Workspace"):
        assert name in vaos.tools.__all__ and getattr(vaos.tools, name) is not None
    fields = [f.name for f in dataclasses.fields(vaos.agent.AgentResult)]
    assert fields[:10] == [
        "session_id",
        "output",
        "signal",
        "tier",
        "provider",
        "model",
        "usage",
        "cost_usd",
        "tool_calls",
        "iterations",
    ]
    assert list(inspect.signature(vaos.agent.open_runtime).parameters)[:3] == [
        "settings",
        "bus",
        "governance",
    ]
    run = inspect.signature(vaos.agent.Agent.run).parameters
    assert list(run) == ["self", "text", "session_id", "tier", "provider", "model", "channel"]
    assert list(inspect.signature(vaos.agent.Agent.stream).parameters) == list(run)
    assert list(inspect.signature(vaos.agent.run_command).parameters) == ["runtime", "session_state", "line"]


async def test_ask_user_reaches_the_front_end_that_offers_it(runtime: AgentRuntime) -> None:
    model = ScriptedProvider(
        "fake", [tools(call("ask_user", question="Which colour?", options=["red", "blue"]))]
    )
    assert "ask_user" not in {s.name for s in runtime.tools.specs()}
    asked: list[tuple[str, list[str], str | None]] = []

    async def answer(question: str, options: list[str], session_id: str | None) -> str:
        asked.append((question, options, session_id))
        return "blue"

    runtime.ask_user = answer
    model.script = [
        tools(call("ask_user", question="Which colour?", options=["red", "blue"])),
        Reply("Blue it is."),
    ]
    result = await runtime.agent(model_override=model).run(TASK)
    assert result.tool_calls[0]["result"] == "User answered: blue" and result.output == "Blue it is."
    assert asked == [("Which colour?", ["red", "blue"], result.session_id)]
