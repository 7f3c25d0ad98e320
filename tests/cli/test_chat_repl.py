"""``vaos chat`` driven through a pseudo-terminal: one full exchange with a running daemon."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pexpect
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "api"))

from api_fakes import start_api

from vaos.providers.testing import Reply
from vaos.providers.types import ToolCall

VAOS = str(Path(sys.executable).with_name("vaos"))


@pytest.fixture
def daemon(tmp_path: Path):  # type: ignore[no-untyped-def]
    api = start_api(tmp_path / "daemon-home")
    try:
        yield api
    finally:
        api.server.stop()


def spawn(args: list[str], home: Path, extra: dict[str, str] | None = None) -> pexpect.spawn:
    env = {k: v for k, v in os.environ.items() if not k.startswith("VAOS_")}
    env.update(
        {"VAOS_HOME": str(home), "TERM": "xterm-256color", "PROMPT_TOOLKIT_NO_CPR": "1", "COLUMNS": "100"}
    )
    env.update(extra or {})
    return pexpect.spawn(VAOS, args, env=env, encoding="utf-8", timeout=20, dimensions=(40, 100))


def test_one_full_exchange_with_a_tool_call(daemon, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    daemon.script(
        Reply("", tool_calls=[ToolCall("c1", "echo", {"text": "ping"})]),
        Reply("**Done**: the echo said ping."),
    )
    child = spawn(["chat", "--url", daemon.url], tmp_path / "client-home")
    try:
        child.expect("VAOS chat")
        child.expect("daemon at")
        child.expect("❯")
        child.sendline("please echo ping")
        child.expect("echo")  # the tool call, shown as it happens
        child.expect("the echo said ping")
        child.expect("✓")
        child.expect("tokens 20→10")
        child.expect("❯")
        child.sendline("/cost")
        child.expect("this session: 1 turns")
        child.sendline("/quit")
        child.expect(pexpect.EOF)
    finally:
        child.close(force=True)
    assert child.exitstatus == 0, child.before


def test_in_process_when_no_daemon_answers(tmp_path: Path) -> None:
    from vaos.api.testing import fake_openai_app
    from vaos.providers.testing import LoopbackServer

    with LoopbackServer(fake_openai_app("Local **answer** here.")) as backend:
        env_home = tmp_path / "home"
        child = spawn(["chat", "--url", "http://127.0.0.1:9"], env_home)  # nothing listens there
        child.expect(pexpect.EOF)
        child.close()
        assert child.exitstatus == 1  # an explicit --url that does not answer is an error
        child = spawn(
            ["chat", "--local"],
            env_home,
            extra={
                "VAOS_PROVIDERS__FAKE__BASE_URL": backend.url + "/v1",
                "VAOS_ROUTING__DEFAULT_PROVIDER": "fake",
                "VAOS_ROUTING__LOCAL_FALLBACK": "false",
                "VAOS_SIGNAL__LLM_ENABLED": "false",
                "VAOS_GOVERNANCE__MODE": "off",
            },
        )
        try:
            child.expect("in-process")
            child.expect("❯")
            child.sendline("/tier elite")
            child.expect("tier: elite")
            child.expect("❯")
            child.sendline("explain how a compiler works")
            child.expect(r"Local (\x1b\[[0-9;]*m)*answer")  # bold, as Markdown
            child.expect("elite/fake/")
            child.expect("❯")
            child.sendline("/cost")
            child.expect("this session: 1 turns")
            child.expect("❯")
            child.sendeof()
            child.expect(pexpect.EOF)
        finally:
            child.close(force=True)
    assert child.exitstatus == 0, child.before
