"""Context: compaction instead of overflow, sessions that resume, memory in the prompt, facts
extracted when a session ends."""

from __future__ import annotations

from pathlib import Path

from agent_helpers import TASK, call, make_settings, tools

from vaos.agent.compaction import HOT, Compactor, units_of
from vaos.agent.context import messages_tokens
from vaos.agent.runtime import AgentRuntime, open_runtime
from vaos.providers.testing import Fail, Reply, ScriptedProvider
from vaos.providers.types import Message, ToolCall


def long_history(turns: int, size: int = 600) -> list[Message]:
    messages: list[Message] = []
    for i in range(turns):
        messages.append(Message.user(f"question {i}: " + "words " * (size // 6)))
        tool_call = ToolCall(f"c{i}", "file_read", {"path": f"file{i}.txt", "pad": "y" * 200})
        messages.append(Message.assistant("", [tool_call]))
        messages.append(Message.tool_result(tool_call, "result " * (size // 7)))
        messages.append(Message.assistant(f"answer {i}"))
    return messages


def assert_tool_results_follow_their_calls(messages: list[Message] | tuple[Message, ...]) -> None:
    for i, message in enumerate(messages):
        if message.role == "tool":
            j = i - 1
            while messages[j].role == "tool":
                j -= 1
            assert messages[j].role == "assistant" and messages[j].tool_calls, f"orphan tool result at {i}"


async def test_compaction_zones_hot_warm_cold() -> None:
    history = long_history(30)  # 120 messages
    before = messages_tokens(history)
    compactor = Compactor()
    fitted, report = await compactor.fit(history, before // 3)
    assert report is not None and report.fits and report.after_tokens <= before // 3
    assert report.steps == ["trim", "warm", "cold"]
    assert fitted[-HOT:] == history[-HOT:]  # the hot zone is kept word for word
    assert fitted[0].role == "system" and "earlier messages]" in fitted[0].content
    assert_tool_results_follow_their_calls(fitted)
    same, none = await compactor.fit(history, before + 1)
    assert none is None and same == history


async def test_emergency_compaction_keeps_the_last_question(tmp_path: Path) -> None:
    history = long_history(30)
    history.append(Message.user("the question that matters " + "z" * 4000))
    fitted, report = await Compactor().fit(history, 600)
    assert report is not None and "emergency" in report.steps
    assert fitted[-1].role == "user" and fitted[-1].content.startswith("the question that matters")
    assert report.after_tokens <= 700
    assert_tool_results_follow_their_calls(fitted)
    assert all(len(u) >= 1 for u in units_of(fitted))


async def test_a_long_session_is_compacted_not_crashed(vaos_home: Path, workspace: Path) -> None:
    settings = make_settings(vaos_home, workspace, max_context_tokens=4000)
    async with open_runtime(settings, governance=False, mcp=False) as runtime:
        sid, _ = await runtime.conversations.ensure("long-session", channel="cli", title="long")
        for message in long_history(25):
            await runtime.conversations.append(sid, message)
        model = ScriptedProvider("fake", [Reply("still here")])
        result = await runtime.agent(model_override=model).run(TASK, session_id=sid)
    assert result.output == "still here"
    sent = model.requests[0].messages
    assert len(sent) < 100 and messages_tokens(list(sent)) < 4000
    assert sent[-1].role == "user" and sent[-1].content == TASK
    assert any("earlier messages]" in m.content for m in sent if m.role == "system")
    assert_tool_results_follow_their_calls(sent)


async def test_a_provider_overflow_compacts_and_retries(vaos_home: Path, workspace: Path) -> None:
    settings = make_settings(vaos_home, workspace)
    async with open_runtime(settings, governance=False, mcp=False) as runtime:
        sid, _ = await runtime.conversations.ensure("overflow", channel="cli", title="t")
        for message in long_history(25):
            await runtime.conversations.append(sid, message)
        overflow = Fail(
            "bad_request", status=400, message="This model's maximum context length is 8192 tokens"
        )
        model = ScriptedProvider("fake", [overflow, Reply("fits now")], repeat_last=True)
        result = await runtime.agent(model_override=model).run(TASK, session_id=sid)
        assert result.output == "fits now" and model.calls == 2
        assert len(model.requests[1].messages) < len(model.requests[0].messages)
        assert result.failed_attempts and result.failed_attempts[0]["error"]["kind"] == "bad_request"
        stuck = ScriptedProvider("stuck", [overflow])
        gave_up = await runtime.agent(model_override=stuck).run(TASK, session_id=sid)
        assert gave_up.stop_reason == "context" and "context window" in gave_up.output
        assert stuck.calls == 4  # the first try and three compactions


async def test_a_session_resumes_after_a_restart(settings: object, workspace: Path) -> None:
    first = ScriptedProvider("fake", [tools(call("file_read", path="README.md")), Reply("It greets people.")])
    async with open_runtime(settings, governance=False, mcp=False) as runtime:  # type: ignore[arg-type]
        result = await runtime.agent(model_override=first).run(TASK, session_id="resume-me")
    second = ScriptedProvider("fake", [Reply("You asked about the README.")])
    async with open_runtime(settings, governance=False, mcp=False) as runtime:  # type: ignore[arg-type]
        again = await runtime.agent(model_override=second).run(
            "What did I ask you before?", session_id="resume-me"
        )
        stored = await runtime.sessions.list_messages("resume-me")
    assert result.session_id == again.session_id == "resume-me"
    sent = second.requests[0].messages
    assert [m.role for m in sent] == ["system", "user", "assistant", "tool", "assistant", "user"]
    assert sent[1].content == TASK and sent[3].content.startswith("# Demo project")
    assert sent[2].tool_calls[0].name == "file_read" and sent[4].content == "It greets people."
    assert len(stored) == 6


async def test_memory_reaches_the_prompt_and_facts_are_saved_at_session_end(runtime: AgentRuntime) -> None:
    assert runtime.vault is not None
    runtime.vault.remember("The production database is called orca.", "fact", title="Production database")
    model = ScriptedProvider("fake", [Reply("Noted.")])
    agent = runtime.agent(model_override=model)
    result = await agent.run("We decided to use PostgreSQL for the production database going forward.")
    system = model.requests[0].messages[0].content
    assert "## Memory" in system and "orca" in system and "## This message" in system
    saved = await agent.end_session(result.session_id)
    assert saved >= 1
    hits = runtime.vault.search("PostgreSQL production database")
    decision = next(h.entry for h in hits if h.entry.category == "decision")
    assert decision.content == "use PostgreSQL for the production database going forward"
    assert decision.session_id == result.session_id and decision.source == "session"


async def test_tool_schemas_are_cut_to_fit_a_small_window(vaos_home: Path, workspace: Path) -> None:
    settings = make_settings(vaos_home, workspace, max_context_tokens=4000)
    async with open_runtime(settings, governance=False, mcp=False) as runtime:
        model = ScriptedProvider("fake", [Reply("ok")])
        await runtime.agent(model_override=model).run(TASK)
        offered = [t.name for t in model.requests[0].tools]
        assert 0 < len(offered) < len(runtime.tools.specs())
        assert "file_read" in offered and "budget_status" not in offered
