"""The swarm in the audit ledger (real embedded kernel), the mailbox, and idempotent results."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from conftest import swarm_settings
from vaos.governance.gate import open_governance
from vaos.governance.ledger import read_records
from vaos.store.swarms import SwarmStore
from vaos.swarm.errors import SwarmRefusedError
from vaos.swarm.mailbox import Mailbox, format_context
from vaos.swarm.service import SwarmService
from vaos.swarm.testing import EchoRuntime


async def test_the_swarm_and_each_agent_are_in_the_ledger(store: SwarmStore, vaos_home: Path) -> None:
    settings = swarm_settings()
    async with open_governance(settings) as governance:
        runtime = EchoRuntime(settings, governance=governance)
        service = SwarmService(runtime, settings=settings, store=store, executor="local")
        status = await service.run(
            "Review the auth module",
            "review",
            rounds=1,
            agents=[{"agent": "coder"}, {"agent": "code-reviewer"}],
        )
        await service.aclose()
    swarm_id = status["swarm_id"]
    records = read_records(vaos_home / "ledger")

    def confirmed(action: str) -> list[dict[str, Any]]:
        return [r for r in records if r["kind"] == "audit_confirmed" and r["action_type"] == action]

    (launch,) = confirmed("swarm_launch")
    assert (launch["agent_id"], launch["session_id"]) == ("vaos", swarm_id)
    assert launch["data"]["context"]["swarm_id"] == swarm_id
    calls = {(r["agent_id"], r["session_id"]) for r in confirmed("llm_call")}
    assert calls == {("coder", f"{swarm_id}.i1.work"), ("code-reviewer", f"{swarm_id}.i1.review")}
    (outcome,) = [r for r in records if r["kind"] == "telemetry"]
    assert outcome["agent_id"] == "vaos"
    assert swarm_id in str(outcome["data"])


async def test_governance_refuses_an_agent_without_swarm_launch(store: SwarmStore) -> None:
    settings = swarm_settings()
    async with open_governance(settings) as governance:
        runtime = EchoRuntime(settings, governance=governance)
        service = SwarmService(
            runtime, settings=settings, store=store, executor="local", launched_by="writer"
        )
        with pytest.raises(SwarmRefusedError, match="swarm launch refused by governance"):
            await service.launch("t", "parallel")
    assert await service.list_swarms() == []


async def test_mailbox_broadcast_and_direct_messages(store: SwarmStore) -> None:
    await store.create_swarm("swarm_mb", task="t", pattern="parallel", launched_by="vaos", limits={})
    mailbox = Mailbox(store, "swarm_mb", max_chars=1000)
    await mailbox.post("coder", "my draft")
    await mailbox.post("reviewer", "fix line 3", to="coder")
    await mailbox.post("reviewer", "note for the writer", to="writer")
    seen = [(m["from"], m["to"], m["message"]) for m in await mailbox.read("coder")]
    assert seen == [("reviewer", "coder", "fix line 3")]
    assert [m["message"] for m in await mailbox.read("writer")] == ["my draft", "note for the writer"]
    assert len(await mailbox.read()) == 3
    context = await mailbox.context("coder")
    assert context == "## Messages from your team (mailbox)\n[reviewer → coder]: fix line 3"
    assert await mailbox.context("nobody-else", senders={"ghost"}) is None


def test_mailbox_context_is_bounded() -> None:
    messages = [{"from": f"a{i}", "to": None, "message": "x" * 5000} for i in range(10)]
    context = format_context(messages, 1000)
    assert context is not None
    assert len(context) < 1400
    assert "older message(s) not shown" in context
    assert context.rstrip().endswith("…")


async def test_results_are_stored_once_per_task_id(store: SwarmStore) -> None:
    await store.create_swarm("swarm_once", task="t", pattern="parallel", launched_by="vaos", limits={})
    task = {
        "id": "swarm_once/a0",
        "swarm_id": "swarm_once",
        "step": "a0",
        "agent_id": "coder",
        "role": "coder",
        "task": "t",
        "prompt": "p",
    }
    _, created = await store.ensure_task(task)
    assert created
    _, created_again = await store.ensure_task(task)
    assert not created_again
    first, stored = await store.record_result("swarm_once/a0", status="done", output="first", post_as="coder")
    second, stored_again = await store.record_result(
        "swarm_once/a0", status="done", output="second", post_as="coder"
    )
    assert (stored, stored_again) == (True, False)
    assert first["output"] == second["output"] == "first"
    assert [m["message"] for m in await store.messages("swarm_once")] == ["first"]
    assert len(await store.results("swarm_once")) == 1
    with pytest.raises(KeyError):
        await store.record_result("swarm_once/zz", status="done")
