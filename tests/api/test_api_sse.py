"""Server-Sent Events read by a real HTTP client: frames, flat envelopes, heartbeats, resume."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
from api_fakes import Api

from vaos.providers.testing import Reply
from vaos.providers.types import ToolCall

ENVELOPE = {"id", "type", "session_id", "agent_id", "ts", "data"}


def frames(lines: Iterator[str]) -> Iterator[dict[str, Any]]:
    """SSE frames as dicts: ``event``, ``id``, ``data`` (parsed), or ``comment``."""
    current: dict[str, Any] = {}
    for line in lines:
        if line == "":
            if current:
                yield current
            current = {}
            continue
        if line.startswith(":"):
            yield {"comment": line[1:].strip()}
            continue
        name, _, value = line.partition(": ")
        current[name] = json.loads(value) if name == "data" else value


def collect(
    api: Api,
    session_id: str,
    until: Callable[[dict[str, Any]], bool],
    *,
    headers: dict[str, str] | None = None,
    params: dict[str, str] | None = None,
    started: threading.Event | None = None,
) -> list[dict[str, Any]]:
    seen: list[dict[str, Any]] = []
    with (
        httpx.Client(base_url=api.url, timeout=10) as client,
        client.stream("GET", f"/api/v1/stream/{session_id}", headers=headers, params=params) as response,
    ):
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        assert response.headers["cache-control"] == "no-cache"
        for frame in frames(response.iter_lines()):
            if started is not None:
                started.set()
            seen.append(frame)
            if until(frame):
                break
    return seen


def in_background(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []
    thread = threading.Thread(target=lambda: out.append(work()), daemon=True)
    thread.start()
    return thread, out


def test_a_session_stream_carries_the_run_as_flat_envelopes(api: Api) -> None:
    api.script(Reply("", tool_calls=[ToolCall("t1", "echo", {"text": "hi"})]), Reply("all done", chunks=2))
    sid = "sse-run-1"
    ready = threading.Event()
    thread, out = in_background(
        lambda: collect(api, sid, lambda f: f.get("event") == "agent_response", started=ready)
    )
    assert ready.wait(5)  # the hello comment arrived: subscribed
    with api.client() as client:
        result = client.post(
            "/api/v1/orchestrate", json={"input": "echo hi please", "session_id": sid}
        ).json()
    thread.join(10)
    seen = out[0]
    assert seen[0]["comment"].startswith("connected to session")
    events = [f for f in seen if "event" in f]
    kinds = [f["event"] for f in events]
    assert kinds[0] == "signal_classified"
    for expected in (
        "routing_decided",
        "llm_request",
        "tool_call",
        "tool_result",
        "llm_token",
        "llm_response",
    ):
        assert expected in kinds, kinds
    assert kinds[-1] == "agent_response"
    for f in events:
        envelope = f["data"]
        assert set(envelope) == ENVELOPE  # flat: the payload is under data, nothing nested elsewhere
        assert envelope["type"] == f["event"]
        assert envelope["id"] == f["id"]
        assert envelope["session_id"] == sid
        assert envelope["ts"].endswith("Z")
    assert events[-1]["data"]["data"]["output"] == result["output"] == "all done"
    tokens = "".join(f["data"]["data"]["text"] for f in events if f["event"] == "llm_token")
    assert "all done" in tokens


def test_last_event_id_resumes_after_the_given_event(api: Api) -> None:
    sid = "sse-resume"
    with api.client() as client:
        assert (
            client.post("/api/v1/orchestrate", json={"input": "first message", "session_id": sid}).status_code
            == 200
        )
    everything = collect(api, sid, lambda f: f.get("event") == "agent_response", params={"replay": "true"})
    events = [f for f in everything if "event" in f]
    assert events[0]["event"] == "signal_classified"
    cut = events[2]["id"]
    resumed = collect(api, sid, lambda f: f.get("event") == "agent_response", headers={"Last-Event-ID": cut})
    assert [f["id"] for f in resumed if "event" in f] == [f["id"] for f in events[3:]]
    by_query = collect(api, sid, lambda f: f.get("event") == "agent_response", params={"after": cut})
    assert [f["id"] for f in by_query if "event" in f] == [f["id"] for f in events[3:]]


def test_resume_then_live_events_without_loss_or_doubles(api: Api) -> None:
    sid = "sse-resume-live"
    with api.client() as client:
        client.post("/api/v1/orchestrate", json={"input": "one", "session_id": sid})
    first = [
        f for f in collect(api, sid, lambda f: f.get("event") == "agent_response", params={"replay": "true"})
    ]
    last_id = [f for f in first if "event" in f][-1]["id"]
    ready = threading.Event()
    thread, out = in_background(
        lambda: collect(
            api,
            sid,
            lambda f: f.get("event") == "agent_response",
            headers={"Last-Event-ID": last_id},
            started=ready,
        )
    )
    assert ready.wait(5)
    with api.client() as client:
        client.post("/api/v1/orchestrate", json={"input": "two", "session_id": sid})
    thread.join(10)
    second = [f for f in out[0] if "event" in f]
    assert second[0]["event"] == "signal_classified"
    assert not {f["id"] for f in second} & {f["id"] for f in first if "event" in f}


def test_heartbeats_keep_an_idle_stream_alive(make_api: Callable[..., Api]) -> None:
    api = make_api(sse_heartbeat=0.2)
    started = time.monotonic()
    seen = collect(api, "idle", lambda f: f.get("comment") == "keepalive")
    assert seen[-1] == {"comment": "keepalive"}
    assert time.monotonic() - started < 5


def test_orchestrate_stream_gives_the_events_of_one_run(api: Api) -> None:
    api.script(Reply("streamed answer", chunks=3))
    with (
        httpx.Client(base_url=api.url, timeout=10) as client,
        client.stream(
            "POST", "/api/v1/orchestrate/stream", json={"input": "tell me", "session_id": "one-run"}
        ) as r,
    ):
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/event-stream")
        got = [f for f in frames(r.iter_lines()) if "event" in f]
    assert got[-1]["event"] == "agent_response"
    assert got[-1]["data"]["data"]["output"] == "streamed answer"
    assert "".join(f["data"]["data"]["text"] for f in got if f["event"] == "llm_token") == "streamed answer"


def test_stream_validates_the_session_id(api: Api) -> None:
    with api.client() as client:
        r = client.get("/api/v1/stream/bad id!")
    assert r.status_code == 422
    assert r.json()["error"]["code"] == "invalid_request"
