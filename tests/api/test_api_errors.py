"""Bad input gets a 4xx and the error envelope, never a 5xx; bodies have a size limit."""

from __future__ import annotations

import socket
from collections.abc import Callable
from urllib.parse import urlsplit

import pytest
from api_fakes import Api


def envelope(body: dict[str, object]) -> dict[str, object]:
    assert set(body) == {"error"}
    error = body["error"]
    assert isinstance(error, dict)
    assert isinstance(error["code"], str) and error["code"]
    assert isinstance(error["message"], str) and error["message"]
    return error


@pytest.mark.parametrize(
    ("method", "path", "kwargs", "status", "code"),
    [
        ("GET", "/nope", {}, 404, "not_found"),
        ("DELETE", "/api/v1/classify", {}, 405, "method_not_allowed"),
        (
            "POST",
            "/api/v1/classify",
            {"content": b"{not json", "headers": {"content-type": "application/json"}},
            400,
            "invalid_json",
        ),
        ("POST", "/api/v1/classify", {"json": {}}, 422, "invalid_request"),
        ("POST", "/api/v1/classify", {"json": {"message": 5}}, 422, "invalid_request"),
        ("POST", "/api/v1/classify", {"json": {"message": "hi", "extra": 1}}, 422, "invalid_request"),
        ("POST", "/api/v1/classify", {"json": {"message": "   "}}, 422, "invalid_message"),
        ("POST", "/api/v1/classify", {"json": ["a", "list"]}, 422, "invalid_request"),
        (
            "POST",
            "/api/v1/classify",
            {"content": b"message=hi", "headers": {"content-type": "application/x-www-form-urlencoded"}},
            415,
            "unsupported_media_type",
        ),
        ("POST", "/api/v1/route", {"json": {"message": "hi", "tier": "mega"}}, 422, "invalid_request"),
        ("POST", "/api/v1/route", {"json": {"message": "hi", "provider": "nope"}}, 404, "unknown_provider"),
        ("POST", "/api/v1/route", {"json": {"message": "hi", "model": "nope-model"}}, 422, "invalid_routing"),
        (
            "POST",
            "/api/v1/orchestrate",
            {"json": {"input": "hi", "session_id": "bad id"}},
            422,
            "invalid_request",
        ),
        ("GET", "/api/v1/sessions/does-not-exist", {}, 404, "session_not_found"),
        ("GET", "/api/v1/sessions", {"params": {"limit": 0}}, 422, "invalid_request"),
        ("GET", "/api/v1/sessions", {"params": {"limit": "many"}}, 422, "invalid_request"),
        (
            "POST",
            "/api/v1/swarm/launch",
            {"json": {"task": "x", "pattern": "Bad Pattern"}},
            422,
            "invalid_request",
        ),
        ("POST", "/api/v1/swarm/launch", {"json": {"task": "x", "pattern": "chaos"}}, 422, "invalid_swarm"),
        ("GET", "/api/v1/swarm/swarm_0000", {}, 404, "swarm_not_found"),
        ("POST", "/v1/chat/completions", {"json": {"model": "auto"}}, 400, "invalid_request"),
        (
            "POST",
            "/v1/chat/completions",
            {"json": {"model": "auto", "messages": [{"role": "tool", "content": "x"}]}},
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/v1/chat/completions",
            {
                "json": {
                    "model": "auto",
                    "messages": [{"role": "user", "content": "x"}],
                    "tool_choice": "required",
                }
            },
            400,
            "invalid_request",
        ),
        (
            "POST",
            "/v1/chat/completions",
            {"json": {"model": "auto", "messages": [{"role": "user", "content": "x"}], "temperature": 9}},
            400,
            "invalid_request",
        ),
    ],
)
def test_bad_input_is_4xx_with_the_envelope(
    api: Api, method: str, path: str, kwargs: dict[str, object], status: int, code: str
) -> None:
    with api.client() as c:
        r = c.request(method, path, **kwargs)  # type: ignore[arg-type]
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith("application/json")
    assert envelope(r.json())["code"] == code


def test_oversized_messages_name_the_limit(make_api: Callable[..., Api]) -> None:
    api = make_api(max_request_bytes=2000)
    with api.client() as c:
        big = c.post("/api/v1/classify", json={"message": "x" * 5000})
        assert big.status_code == 413
        error = envelope(big.json())
        assert error["code"] == "payload_too_large"
        assert "2000 bytes" in str(error["message"])

        def chunks():  # type: ignore[no-untyped-def]
            yield b'{"message": "'
            for _ in range(10):
                yield b"y" * 500
            yield b'"}'

        streamed = c.post("/api/v1/classify", content=chunks(), headers={"content-type": "application/json"})
        assert streamed.status_code == 413
        assert c.post("/api/v1/classify", json={"message": "small"}).status_code == 200


def test_message_over_the_signal_limit(api: Api) -> None:
    limit = api.settings.signal.max_message_bytes
    with api.client() as c:
        r = c.post("/api/v1/classify", json={"message": "z" * (limit + 1)})
    assert r.status_code in (413, 422)
    assert str(limit) in r.json()["error"]["message"]


def test_a_lying_content_length_does_not_hang_or_crash(api: Api) -> None:
    url = urlsplit(api.url)
    with socket.create_connection((url.hostname, url.port), timeout=5) as sock:
        sock.sendall(
            b"POST /api/v1/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            b"Content-Length: 999999999\r\n\r\n{}"
        )
        head = sock.recv(4096)
    assert head.startswith(b"HTTP/1.1 413")
