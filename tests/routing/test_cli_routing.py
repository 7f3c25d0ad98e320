"""``vaos route``, ``ask``, ``models`` and ``doctor`` in-process, with a loopback
OpenAI-compatible double standing in for a remote provider."""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator

import pytest
from aiohttp import web

from vaos.config import get_settings
from vaos.providers.catalog import get_catalog
from vaos.providers.testing import LoopbackServer

with warnings.catch_warnings():
    # typer re-exports click names that click 8.3 deprecates (not ours; warnings are errors here)
    warnings.simplefilter("ignore", DeprecationWarning)
    from typer.testing import CliRunner

    from vaos.cli.app import app


@pytest.fixture(autouse=True)
def clean_env(tmp_path: object, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for spec in get_catalog().providers.values():
        for var in (*spec.api_key_env, *spec.base_url_env):
            monkeypatch.delenv(var, raising=False)
    import os

    for var in list(os.environ):
        if var.startswith("VAOS_"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("VAOS_HOME", str(tmp_path))
    monkeypatch.setenv("VAOS_SIGNAL__LLM_ENABLED", "false")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, list(args))
    return result.exit_code, result.stdout, result.stderr


def openai_double(status: int = 200) -> web.Application:
    async def chat(request: web.Request) -> web.StreamResponse:
        body = await request.json()
        if status != 200:
            return web.json_response({"error": {"message": "Incorrect API key provided"}}, status=status)
        response = web.StreamResponse(headers={"Content-Type": "text/event-stream"})
        await response.prepare(request)
        for delta, finish in (({"content": "Paris"}, None), ({"content": " it is."}, None), ({}, "stop")):
            chunk = {"id": "1", "object": "chat.completion.chunk", "created": 1, "model": body["model"],
                     "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]}  # fmt: skip
            await response.write(f"data: {json.dumps(chunk)}\n\n".encode())
        tokens = {"prompt_tokens": 2000, "completion_tokens": 50, "total_tokens": 2050}
        usage = {
            "id": "1",
            "object": "chat.completion.chunk",
            "created": 1,
            "model": body["model"],
            "choices": [],
        }
        usage["usage"] = tokens
        await response.write(f"data: {json.dumps(usage)}\n\ndata: [DONE]\n\n".encode())
        return response

    application = web.Application()
    application.router.add_post("/v1/chat/completions", chat)
    return application


def use_double(monkeypatch: pytest.MonkeyPatch, server: LoopbackServer) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("VAOS_PROVIDERS__OPENAI__BASE_URL", server.url + "/v1")
    get_settings.cache_clear()


def test_route_json_is_one_document() -> None:
    code, out, _ = invoke(
        "route", "--json", "Refactor the backend API and then deploy it, first run the tests"
    )
    assert code == 0
    doc = json.loads(out)
    assert set(doc) == {"signal", "decision"}
    assert doc["decision"]["provider"] == "local" and doc["decision"]["why"]
    assert len(doc["signal"]["intent_hash"]) == 64


def test_route_text_and_overrides(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GROQ_API_KEY", "g")
    get_settings.cache_clear()
    code, out, _ = invoke("route", "--tier", "elite", "--provider", "groq", "what is a monad?")
    assert code == 0 and "elite -> groq / llama-3.3-70b-versatile" in out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--provider", "nope"], "unknown provider 'nope'; known providers: anthropic"),
        (["--model", "gpt-9"], "unknown model 'gpt-9'"),
        (["--tier", "mega"], "unknown tier 'mega'"),
        (["--provider", "openai"], "OPENAI_API_KEY"),
    ],
)
@pytest.mark.parametrize("command", ["route", "ask"])
def test_bad_overrides_exit_2_with_one_line(command: str, args: list[str], message: str) -> None:
    code, out, err = invoke(command, *args, "hello, what time is it in Tokyo?")
    assert code == 2 and out == ""
    assert err.count("\n") == 1 and message in err


def test_empty_message_is_bad_input() -> None:
    code, _, err = invoke("route", "   ")
    assert code == 2 and "empty" in err


def test_models_json_lists_every_provider() -> None:
    code, out, _ = invoke("models", "--json")
    assert code == 0
    doc = json.loads(out)
    by_name = {p["name"]: p for p in doc["providers"]}
    assert len(by_name) == len(get_catalog().names)
    assert by_name["local"]["configured"] is True and doc["chain"] == ["local"]
    assert by_name["openai"]["missing"] == "no API key: set OPENAI_API_KEY"
    assert by_name["groq"]["circuit"]["state"] == "closed"
    assert set(by_name["anthropic"]["models"]) == {"utility", "specialist", "elite"}
    code, out, _ = invoke("models")
    assert code == 0 and "providers (chain: local)" in out


def test_doctor_names_the_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAOS_ROUTING__CHAIN", "openai")
    monkeypatch.setenv("VAOS_AMQP__URL", "amqp://guest:guest@127.0.0.1:1/")
    get_settings.cache_clear()
    code, out, _ = invoke("doctor", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["ok"] is True
    fixes = {c["area"]: c for c in doc["checks"]}
    assert fixes["provider openai"]["fix"] == "export OPENAI_API_KEY=..."
    assert fixes["local model"]["level"] == "ok"
    assert fixes["broker"]["level"] == "warn"
    code, out, _ = invoke("doctor")
    assert "fix: export OPENAI_API_KEY=..." in out


def test_doctor_fails_on_a_broken_routing_setting(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAOS_ROUTING__DEFAULT_PROVIDER", "nope")
    get_settings.cache_clear()
    code, out, _ = invoke("doctor")
    assert code == 1 and "FAIL" in out and "unknown provider 'nope'" in out


def test_ask_json_through_a_remote_provider(monkeypatch: pytest.MonkeyPatch) -> None:
    with LoopbackServer(openai_double()) as server:
        use_double(monkeypatch, server)
        code, out, _ = invoke("ask", "--json", "What is the capital of France?")
    assert code == 0
    doc = json.loads(out)
    assert (doc["output"], doc["provider"], doc["model"]) == ("Paris it is.", "openai", "gpt-4o-mini")
    assert doc["usage"]["input_tokens"] == 2000 and doc["cost_usd"] > 0
    assert doc["signal"]["intent_hash"] and doc["decision"]["chain"][-1]["provider"] == "local"
    rows = (get_settings().home / "calls.jsonl").read_text().splitlines()
    assert json.loads(rows[-1])["provider"] == "openai"


def test_ask_streams_text_then_usage_on_stderr(monkeypatch: pytest.MonkeyPatch) -> None:
    with LoopbackServer(openai_double()) as server:
        use_double(monkeypatch, server)
        code, out, err = invoke("ask", "What is the capital of France?")
    assert code == 0 and out == "Paris it is.\n"
    assert "tokens in 2000, out 50; cost $" in err and "openai/gpt-4o-mini" in err


def test_ask_fails_with_one_line_when_every_provider_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAOS_ROUTING__LOCAL_FALLBACK", "false")
    with LoopbackServer(openai_double(status=401)) as server:
        use_double(monkeypatch, server)
        code, out, err = invoke("ask", "What is the capital of France?")
    assert code == 1 and out == ""
    assert err.splitlines()[-1].startswith("vaos: every provider failed: openai: auth HTTP 401")


def test_ask_noise_gets_the_short_reply_without_a_model_call() -> None:
    code, out, _ = invoke("ask", "--json", "ok")
    doc = json.loads(out)
    assert code == 0 and doc["provider"] is None and doc["output"]


@pytest.mark.slow
def test_ask_and_classify_llm_with_the_embedded_model(monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = invoke("ask", "--json", "What is the capital of France?")
    doc = json.loads(out)
    assert code == 0 and doc["provider"] == "local" and doc["output"] and doc["cost_usd"] == 0
    monkeypatch.setenv("VAOS_SIGNAL__LLM_ENABLED", "true")
    get_settings.cache_clear()
    code, out, _ = invoke("classify", "--llm", "--json", "hmm the thing from before")
    assert code == 0
    assert json.loads(out)["classifier"] in ("llm", "deterministic")
