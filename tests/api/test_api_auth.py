"""Auth: required off loopback, API keys and tokens, refresh rotation, and rate limits."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import jwt
import openai
import pytest
from api_fakes import Api

from vaos.store.credentials import CredentialStore


def credentials(api: Api) -> CredentialStore:
    store: CredentialStore = api.server.app.state.vaos.credentials
    return store


def make_key(api: Api, **kw: Any) -> str:
    _, key = api.server.call(credentials(api).create_api_key("test", **kw))
    return str(key)


@pytest.fixture
def secured(make_api: Callable[..., Api]) -> Api:
    """A server that decides auth as if bound to 0.0.0.0 (required by default)."""
    return make_api(bind_host="0.0.0.0")


def test_loopback_needs_no_auth_by_default(api: Api) -> None:
    with api.client() as c:
        assert c.post("/api/v1/classify", json={"message": "hi"}).status_code == 200
        me = c.get("/api/v1/auth/me").json()
    assert me == {"subject": "anonymous", "name": "anonymous", "kind": "anonymous", "auth_required": False}


def test_non_loopback_requires_a_bearer_token(secured: Api) -> None:
    with secured.client() as c:
        for method, path, body in (
            ("POST", "/api/v1/classify", {"message": "hi"}),
            ("GET", "/api/v1/sessions", None),
            ("GET", "/api/v1/stream/s1", None),
            (
                "POST",
                "/v1/chat/completions",
                {"model": "auto", "messages": [{"role": "user", "content": "x"}]},
            ),
            ("GET", "/v1/models", None),
        ):
            r = c.request(method, path, json=body)
            assert r.status_code == 401, path
            assert r.json()["error"]["code"] == "missing_token"
            assert r.headers["www-authenticate"].startswith("Bearer")
        bad = c.get("/v1/models", headers={"Authorization": "Bearer nonsense"})
        assert bad.status_code == 401
        assert bad.json()["error"]["code"] == "invalid_token"
        assert c.get("/health").status_code == 200  # health and metrics stay open
        assert c.get("/metrics").status_code == 200


def test_api_key_as_bearer_and_with_the_openai_sdk(secured: Api) -> None:
    key = make_key(secured)
    assert key.startswith("vaos_")
    with secured.client(headers={"Authorization": f"Bearer {key}"}) as c:
        assert c.post("/api/v1/classify", json={"message": "deploy now"}).status_code == 200
        assert c.get("/api/v1/auth/me").json()["kind"] == "key"
    client = openai.OpenAI(api_key=key, base_url=secured.url + "/v1", max_retries=0)
    assert client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}]).choices
    wrong = openai.OpenAI(
        api_key="vaos_000000000000_" + "A" * 43, base_url=secured.url + "/v1", max_retries=0
    )
    with pytest.raises(openai.AuthenticationError):
        wrong.models.list()


def test_password_login_refresh_rotation_and_reuse(secured: Api) -> None:
    secured.server.call(credentials(secured).create_user("alice", "correct horse"))
    with secured.client() as c:
        assert (
            c.post("/api/v1/auth/login", json={"username": "alice", "password": "wrong pass"}).status_code
            == 401
        )
        assert (
            c.post("/api/v1/auth/login", json={"username": "nobody", "password": "whatever1"}).status_code
            == 401
        )
        tokens = c.post("/api/v1/auth/login", json={"username": "alice", "password": "correct horse"}).json()
        assert tokens["token_type"] == "bearer"
        assert tokens["expires_in"] == 900
        access, refresh = tokens["access_token"], tokens["refresh_token"]
        claims = jwt.decode(access, options={"verify_signature": False})
        assert claims["typ"] == "access"
        assert claims["exp"] - claims["iat"] == 900
        me = c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {access}"}).json()
        assert (me["name"], me["kind"], me["auth_required"]) == ("alice", "user", True)
        # a refresh token is not an access token
        refused = c.get("/api/v1/sessions", headers={"Authorization": f"Bearer {refresh}"})
        assert refused.status_code == 401
        assert "refresh token" in refused.json()["error"]["message"]
        # rotation: the new pair works, the old refresh token is spent
        rotated = c.post("/api/v1/auth/refresh", json={"refresh_token": refresh}).json()
        assert rotated["refresh_token"] != refresh
        assert (
            c.get(
                "/api/v1/sessions", headers={"Authorization": f"Bearer {rotated['access_token']}"}
            ).status_code
            == 200
        )
        reused = c.post("/api/v1/auth/refresh", json={"refresh_token": refresh})
        assert reused.status_code == 401
        assert "already used" in reused.json()["error"]["message"]
        # reuse revoked the whole family: the successor is dead too
        assert (
            c.post("/api/v1/auth/refresh", json={"refresh_token": rotated["refresh_token"]}).status_code
            == 401
        )


def test_login_with_an_api_key_and_logout(secured: Api) -> None:
    key = make_key(secured)
    with secured.client() as c:
        tokens = c.post("/api/v1/auth/login", json={"api_key": key}).json()
        assert c.post("/api/v1/auth/logout", json={"refresh_token": tokens["refresh_token"]}).json() == {
            "revoked": True
        }
        assert (
            c.post("/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}).status_code == 401
        )
        assert c.post("/api/v1/auth/login", json={"api_key": key, "username": "x"}).status_code == 422
        assert c.post("/api/v1/auth/login", json={}).status_code == 422


def test_expired_and_forged_tokens_are_refused(secured: Api) -> None:
    secret = secured.settings.path("api", "token_secret").read_bytes().strip()
    assert oct(secured.settings.path("api", "token_secret").stat().st_mode & 0o777) == "0o600"
    key_record, _ = secured.server.call(credentials(secured).create_api_key("k"))
    now = int(time.time())
    base = {"iss": "vaos-api", "aud": "vaos-api", "sub": f"key:{key_record.id}", "typ": "access", "jti": "j"}
    expired = jwt.encode(
        {**base, "iat": now - 100, "nbf": now - 100, "exp": now - 50}, secret, algorithm="HS256"
    )
    forged = jwt.encode(
        {**base, "iat": now, "nbf": now, "exp": now + 60},
        b"not the secret, though long enough to be one",
        algorithm="HS256",
    )
    refresh_typed = jwt.encode(
        {**base, "typ": "refresh", "iat": now, "nbf": now, "exp": now + 60}, secret, algorithm="HS256"
    )
    good = jwt.encode({**base, "iat": now, "nbf": now, "exp": now + 60}, secret, algorithm="HS256")
    with secured.client() as c:
        for token, why in ((expired, "expired"), (forged, "invalid"), (refresh_typed, "not an access token")):
            r = c.get("/v1/models", headers={"Authorization": f"Bearer {token}"})
            assert r.status_code == 401
            assert why in r.json()["error"]["message"]
        assert c.get("/v1/models", headers={"Authorization": f"Bearer {good}"}).status_code == 200


def test_revoked_keys_and_disabled_users_are_refused(secured: Api) -> None:
    store = credentials(secured)
    record, key = secured.server.call(store.create_api_key("to-revoke"))
    secured.server.call(store.create_user("bob", "bob's password"))
    _, bobs_key = secured.server.call(store.create_api_key("bob", username="bob"))
    secured.server.call(store.revoke_api_key(record.id))
    secured.server.call(store.disable_user("bob"))
    with secured.client() as c:
        assert c.get("/v1/models", headers={"Authorization": f"Bearer {key}"}).status_code == 401
        assert c.get("/v1/models", headers={"Authorization": f"Bearer {bobs_key}"}).status_code == 401
        assert (
            c.post("/api/v1/auth/login", json={"username": "bob", "password": "bob's password"}).status_code
            == 401
        )


def test_credentials_are_stored_hashed(secured: Api) -> None:
    store = credentials(secured)
    secured.server.call(store.create_user("carol", "carol's password"))
    _, key = secured.server.call(store.create_api_key("c"))
    db_file = secured.settings.path("vaos.db")
    raw = db_file.read_bytes() + (
        db_file.with_name("vaos.db-wal").read_bytes() if db_file.with_name("vaos.db-wal").exists() else b""
    )
    assert b"carol's password" not in raw
    secret = key.split("_", 2)[2]  # vaos_<id>_<secret>; the secret itself may contain "_"
    assert secret.encode() not in raw


def test_rate_limits_answer_429_with_retry_after(make_api: Callable[..., Api]) -> None:
    api = make_api(rate_limit_per_minute=3, rate_limit_auth_per_minute=2)
    with api.client() as c:
        answers = [c.post("/api/v1/classify", json={"message": "hi"}) for _ in range(4)]
        assert [r.status_code for r in answers] == [200, 200, 200, 429]
        assert answers[0].headers["x-ratelimit-limit"] == "3"
        assert answers[2].headers["x-ratelimit-remaining"] == "0"
        limited = answers[3]
        assert limited.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(limited.headers["retry-after"]) <= 20
        # the auth bucket is separate and smaller
        logins = [c.post("/api/v1/auth/login", json={"api_key": "vaos_x"}) for _ in range(3)]
        assert [r.status_code for r in logins] == [401, 401, 429]
        # health, metrics and the OpenAPI document are not limited
        assert all(c.get("/health").status_code == 200 for _ in range(10))
        assert c.get("/openapi.json").status_code == 200
        metrics = c.get("/metrics").text
    assert 'vaos_http_rate_limited_total{bucket="api"} 1.0' in metrics
    assert 'vaos_http_rate_limited_total{bucket="auth"} 1.0' in metrics
