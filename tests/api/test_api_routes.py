"""The ``/api/v1`` routes: shapes of section 2 of the contract, and what each one does."""

from __future__ import annotations

import subprocess
import sys
import warnings
from collections.abc import Callable
from pathlib import Path

import orjson
from api_fakes import Api

from vaos.providers.testing import Reply
from vaos.providers.types import ToolCall, Usage

VAOS = str(Path(sys.executable).with_name("vaos"))
SIGNAL_KEYS = {
    "mode",
    "genre",
    "type",
    "format",
    "weight",
    "confidence",
    "tier",
    "noise",
    "intent_hash",
    "classifier",
}


def test_health(api: Api) -> None:
    with api.client() as c:
        body = c.get("/health").json()
    assert body["status"] == "ok"
    assert body["version"]
    assert body["kernel"] == "disabled"
    assert body["providers"] == {"fake": {"configured": True, "in_chain": True, "circuit": "closed"}}


def test_classify_matches_the_cli(api: Api, vaos_home: Path) -> None:
    message = "restart nginx on prod, users are getting 502s"
    with api.client() as c:
        body = c.post("/api/v1/classify", json={"message": message}).json()
    cli = subprocess.run([VAOS, "classify", "--json", message], capture_output=True, check=True)
    assert body == orjson.loads(cli.stdout)
    assert set(body) == SIGNAL_KEYS


def test_route_gives_the_signal_and_the_decision(api: Api) -> None:
    with api.client() as c:
        body = c.post(
            "/api/v1/route", json={"message": "design a distributed database", "tier": "elite"}
        ).json()
    assert set(body) == {"signal", "decision"}
    assert set(body["signal"]) == SIGNAL_KEYS
    decision = body["decision"]
    assert (decision["tier"], decision["provider"], decision["model"]) == ("elite", "fake", "fake-model")
    assert "tier elite requested" in decision["why"]


def test_orchestrate_and_the_stored_session(api: Api) -> None:
    api.script(
        Reply("", tool_calls=[ToolCall("x1", "echo", {"text": "abc"})], usage=Usage(7, 2)),
        Reply("echoed abc", usage=Usage(9, 3)),
    )
    with api.client() as c:
        result = c.post(
            "/api/v1/orchestrate", json={"input": "echo abc for me", "session_id": "orch-1"}
        ).json()
        assert {
            "session_id",
            "output",
            "signal",
            "tier",
            "provider",
            "model",
            "usage",
            "cost_usd",
            "tool_calls",
        } <= set(result)
        assert result["session_id"] == "orch-1"
        assert result["output"] == "echoed abc"
        assert (result["provider"], result["model"]) == ("fake", "fake-model")
        assert result["usage"] == {"prompt_tokens": 16, "completion_tokens": 5, "total_tokens": 21}
        assert [t["name"] for t in result["tool_calls"]] == ["echo"]
        listed = c.get("/api/v1/sessions").json()
        assert "orch-1" in [s["id"] for s in listed["sessions"]]
        detail = c.get("/api/v1/sessions/orch-1").json()
    assert detail["id"] == "orch-1"
    assert [(m["role"], m["content"]) for m in detail["messages"]] == [
        ("user", "echo abc for me"),
        ("assistant", "echoed abc"),
    ]
    assert detail["message_count"] == 2


def test_create_a_session(api: Api) -> None:
    with api.client() as c:
        made = c.post("/api/v1/sessions", json={"session_id": "made-here", "title": "t"})
        assert made.status_code == 201
        assert made.json()["channel"] == "http"
        again = c.post("/api/v1/sessions", json={"session_id": "made-here"})
        assert again.status_code == 409


def test_tools_and_models(api: Api) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)  # Typer imports deprecated Click names
        from vaos.cli.models import models_document

    with api.client() as c:
        tools = c.get("/api/v1/tools").json()
        models = c.get("/api/v1/models").json()
    assert tools == {
        "tools": [
            {
                "name": "echo",
                "description": "Repeat the text.",
                "parameters": {
                    "type": "object",
                    "properties": {"text": {"type": "string"}},
                    "required": ["text"],
                },
            }
        ],
        "mcp_servers": [],
    }
    routing = api.runtime.routing
    assert models == orjson.loads(orjson.dumps(models_document(routing.registry, routing.router)))
    assert models["chain"] == ["fake"]


def test_swarm_launch_status_and_list(api: Api) -> None:
    with api.client() as c:
        launched = c.post("/api/v1/swarm/launch", json={"task": "compare two designs", "pattern": "debate"})
        assert launched.status_code == 202, launched.text
        swarm_id = launched.json()["swarm_id"]
        status = c.get(f"/api/v1/swarm/{swarm_id}").json()
        assert (status["swarm_id"], status["pattern"]) == (swarm_id, "debate")
        assert status["status"]
        listed = c.get("/api/v1/swarm").json()
        assert swarm_id in [s["swarm_id"] for s in listed["swarms"]]
        assert c.get("/api/v1/swarm/swarm_unknown").status_code == 404


def test_shared_slash_commands(api: Api) -> None:
    with api.client() as c:
        listed = c.get("/api/v1/commands").json()
        assert {"help", "tier", "model", "cost", "quit"} <= {cmd["name"] for cmd in listed}
        tier = c.post("/api/v1/commands", json={"line": "/tier elite", "state": {"session_id": "s9"}}).json()
        assert tier["result"]["ok"] is True
        assert tier["state"]["tier"] == "elite"
        assert tier["state"]["session_id"] == "s9"
        bad = c.post("/api/v1/commands", json={"line": "/tier mega"}).json()
        assert bad["result"]["ok"] is False
        unknown = c.post("/api/v1/commands", json={"line": "/bogus"}).json()
        assert "unknown command" in unknown["result"]["output"]
        quit_ = c.post("/api/v1/commands", json={"line": "/quit"}).json()
        assert quit_["result"]["action"] == "quit"


def test_metrics_count_requests_tokens_and_breakers(api: Api) -> None:
    api.script(Reply("metered", usage=Usage(11, 4)))
    with api.client() as c:
        c.post("/v1/chat/completions", json={"model": "auto", "messages": [{"role": "user", "content": "x"}]})
        c.get("/api/v1/sessions/unknown-one")
        r = c.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain")
    text = r.text
    assert 'vaos_http_requests_total{method="POST",route="/v1/chat/completions",status="200"}' in text
    assert 'vaos_http_requests_total{method="GET",route="/api/v1/sessions/{session_id}",status="404"}' in text
    assert "vaos_http_request_duration_seconds_bucket" in text
    assert 'vaos_llm_tokens_total{direction="input",model="fake-model",provider="fake"}' in text
    assert 'vaos_llm_calls_total{model="fake-model",provider="fake",tier="utility"}' in text
    assert 'vaos_provider_circuit_state{provider="fake",state="closed"} 1.0' in text
    assert "process_cpu_seconds_total" in text
    assert "vaos_sse_subscribers" in text


def test_audit_trail_of_completions(make_api: Callable[..., Api]) -> None:
    api = make_api(governance=True)
    with api.client() as c:
        assert c.get("/health").json()["kernel"] == "up"
        for i in range(3):
            body = {
                "model": "auto",
                "messages": [{"role": "user", "content": f"question {i}"}],
                "session_id": "aud",
            }
            assert c.post("/v1/chat/completions", json=body).status_code == 200
        api.server.call(api.runtime.governance.flush())
        records = c.get("/api/v1/audit", params={"limit": 50}).json()
        routed = [
            r for r in records["records"] if r.get("kind") == "routing_log" and r.get("session_id") == "aud"
        ]
        assert len(routed) == 3  # one record per completion: the signal and the decision together
        assert all(r["data"]["provider"] == "fake" and r["data"]["tier"] for r in routed)
        assert records["count"] == len(records["records"])
        verified = c.get("/api/v1/audit/verify").json()
    assert verified["ok"] is True
    assert verified["records"] >= 3
    assert verified["problem"] is None
