"""Tokens: what the kernel issues, and every attack on ConfirmAudit refused and recorded."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import secrets
import time
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jwt
import orjson
import pytest
from kernel_helpers import INTENT, records, verify

from vaos.governance.client import KernelClient, Token
from vaos.governance.errors import KernelRefused
from vaos.governance.keys import KeyStore, b64url, raw_public_key
from vaos.governance.server import KernelServer

OTHER_INTENT = hashlib.sha256(b"something else").hexdigest()


def claims(**overrides: Any) -> dict[str, Any]:
    now = int(time.time())
    base: dict[str, Any] = {
        "iss": "vaos-kernel",
        "sub": "vaos",
        "aud": "vaos",
        "iat": now,
        "nbf": now,
        "exp": now + 60,
        "jti": secrets.token_hex(16),
        "agent_id": "vaos",
        "intent_fingerprint": INTENT,
        "action_type": "file_read",
        "scope": "file_read",
    }
    base.update(overrides)
    return base


def compact(header: dict[str, Any], payload: dict[str, Any], sign: Callable[[bytes], bytes]) -> str:
    signing_input = f"{b64url(orjson.dumps(header))}.{b64url(orjson.dumps(payload))}"
    return f"{signing_input}.{b64url(sign(signing_input.encode()))}"


async def confirm(client: KernelClient, token: str, *, agent: str = "vaos", intent: str = INTENT) -> Any:
    return await client.confirm_audit(
        agent_id=agent,
        action_id=secrets.token_hex(4),
        intent_hash=intent,
        jwt_token=token,
        performed_by="alice",
    )


async def test_issued_token_has_the_contract_claims(client: KernelClient, kernel: KernelServer) -> None:
    token = await client.request_token("vaos", INTENT, "shell_execute", {"session_id": "s-9"})
    header = jwt.get_unverified_header(token.token)
    assert header["alg"] == "EdDSA" and header["kid"] == kernel.keystore.active.kid  # type: ignore[union-attr]
    body = jwt.decode(token.token, options={"verify_signature": False})
    assert set(body) == {
        "iss",
        "sub",
        "aud",
        "iat",
        "nbf",
        "exp",
        "jti",
        "agent_id",
        "intent_fingerprint",
        "action_type",
        "scope",
    }
    assert body["jti"] == token.token_id and body["exp"] == token.expires_at
    (grants,) = [r["data"]["grants"] for r in records(kernel.home, "tokens_issued")]
    assert grants[0]["jti"] == token.token_id and grants[0]["metadata"] == {"session_id": "s-9"}


async def test_token_lifetime_follows_the_setting(vaos_home: Path) -> None:
    async with (
        KernelServer(vaos_home, port=0, jwks_port=None, token_ttl=7) as server,
        KernelClient(server.address) as c,
    ):
        token = await c.request_token("vaos", INTENT, "file_read")
        body = jwt.decode(token.token, options={"verify_signature": False})
        assert body["exp"] - body["iat"] == 7


@pytest.mark.parametrize(
    ("agent", "action", "reason"),
    [
        ("intruder", "file_read", "unknown agent 'intruder'"),
        ("vaos", "format_disk", "unknown action type 'format_disk'"),
        ("reviewer", "shell_execute", "agent 'reviewer' may not take action 'shell_execute'"),
        ("vaos", "file_read", None),
        ("reviewer", "file_read", None),
        ("vaos", "mcp__github__create_issue", None),
    ],
)
async def test_policy_decides_and_refusals_are_recorded(
    client: KernelClient, kernel: KernelServer, agent: str, action: str, reason: str | None
) -> None:
    if reason is None:
        assert (await client.request_token(agent, INTENT, action)).token
        return
    with pytest.raises(KernelRefused) as refused:
        await client.request_token(agent, INTENT, action)
    assert refused.value.reason == reason
    (record,) = records(kernel.home, "token_refused")
    assert record["reason"] == reason and record["id"] == refused.value.refusal_id
    assert record["agent_id"] == agent and record["outcome"] == "refused"


async def test_malformed_token_requests_are_refused(client: KernelClient, kernel: KernelServer) -> None:
    for agent, intent, action, reason in [
        ("", INTENT, "file_read", "agent_id is required"),
        ("vaos", INTENT.upper(), "file_read", "intent_hash must be 64 lowercase hex"),
        ("vaos", "abc", "file_read", "intent_hash must be 64 lowercase hex"),
        ("v" * 300, INTENT, "file_read", "agent_id is longer than 256"),
        ("vaos\n", INTENT, "file_read", "control characters"),
    ]:
        with pytest.raises(KernelRefused, match=reason):
            await client.request_token(agent, intent, action)
    assert len(records(kernel.home, "token_refused")) == 5


def _alter_signature(token: Token, _: KeyStore) -> str:
    head, body, sig = token.token.split(".")
    middle = len(sig) // 2
    return f"{head}.{body}.{sig[:middle]}{'A' if sig[middle] != 'A' else 'B'}{sig[middle + 1 :]}"


def _other_key(_: Token, keystore: KeyStore) -> str:
    other = KeyStore.open(keystore.directory.parent / "other-keys")
    return other.sign_jws(claims())


def _other_key_same_kid(_: Token, keystore: KeyStore) -> str:
    other = KeyStore.open(keystore.directory.parent / "other-keys")
    assert other.active.private_key is not None
    header = {"alg": "EdDSA", "kid": keystore.active.kid, "typ": "JWT"}
    return compact(header, claims(), other.active.private_key.sign)


def _alg_none(_: Token, keystore: KeyStore) -> str:
    header = {"alg": "none", "kid": keystore.active.kid, "typ": "JWT"}
    return f"{b64url(orjson.dumps(header))}.{b64url(orjson.dumps(claims()))}."


def _hs256_with_public_key(_: Token, keystore: KeyStore) -> str:
    header = {"alg": "HS256", "kid": keystore.active.kid, "typ": "JWT"}
    secret = raw_public_key(keystore.active.public_key)
    return compact(header, claims(), lambda data: hmac.new(secret, data, hashlib.sha256).digest())


def _hs256_with_public_jwk_x(_: Token, keystore: KeyStore) -> str:
    header = {"alg": "HS256", "kid": keystore.active.kid, "typ": "JWT"}
    secret = keystore.active.jwk()["x"].encode()
    return compact(header, claims(), lambda data: hmac.new(secret, data, hashlib.sha256).digest())


def _expired(_: Token, keystore: KeyStore) -> str:
    now = int(time.time())
    return keystore.sign_jws(claims(iat=now - 120, nbf=now - 120, exp=now - 60))


def _not_yet_valid(_: Token, keystore: KeyStore) -> str:
    now = int(time.time())
    return keystore.sign_jws(claims(nbf=now + 600, exp=now + 660))


def _issued_in_future(_: Token, keystore: KeyStore) -> str:
    now = int(time.time())
    return keystore.sign_jws(claims(iat=now + 600, nbf=now, exp=now + 660))


def _wrong_audience(_: Token, keystore: KeyStore) -> str:
    return keystore.sign_jws(claims(aud="someone-else"))


def _wrong_issuer(_: Token, keystore: KeyStore) -> str:
    return keystore.sign_jws(claims(iss="evil-kernel"))


def _no_jti(_: Token, keystore: KeyStore) -> str:
    body = claims()
    del body["jti"]
    return keystore.sign_jws(body)


def _garbage(_: Token, __: KeyStore) -> str:
    return "not.a.token"


def _wrong_type(_: Token, keystore: KeyStore) -> str:
    return keystore.sign_jws(claims(), typ="vaos-command+jwt")


ATTACKS: dict[str, tuple[Callable[[Token, KeyStore], str], str]] = {
    "altered signature": (_alter_signature, "bad signature"),
    "token from another key": (_other_key, "unknown signing key"),
    "another key under our kid": (_other_key_same_kid, "bad signature"),
    "alg none": (_alg_none, "algorithm 'none' is not allowed"),
    "HS256 keyed with the public key": (_hs256_with_public_key, "algorithm 'HS256' is not allowed"),
    "HS256 keyed with the JWK x": (_hs256_with_public_jwk_x, "algorithm 'HS256' is not allowed"),
    "expired": (_expired, "token expired"),
    "not yet valid": (_not_yet_valid, "not yet valid"),
    "issued in the future": (_issued_in_future, "issued in the future"),
    "wrong audience": (_wrong_audience, "wrong audience"),
    "wrong issuer": (_wrong_issuer, "wrong issuer"),
    "no jti": (_no_jti, "claim 'jti' is missing"),
    "not a JWT": (_garbage, "malformed token"),
    "a signed command, not a token": (_wrong_type, "wrong type"),
}


@pytest.mark.parametrize("attack", sorted(ATTACKS))
async def test_attack_is_refused_and_recorded(
    attack: str, client: KernelClient, kernel: KernelServer, keystore: KeyStore
) -> None:
    make, reason = ATTACKS[attack]
    genuine = await client.request_token("vaos", INTENT, "file_read")
    forged = make(genuine, keystore)
    with pytest.raises(KernelRefused) as refused:
        await confirm(client, forged)
    assert reason in refused.value.reason
    (record,) = records(kernel.home, "audit_refused")
    assert reason in record["reason"] and record["id"] == refused.value.refusal_id
    assert record["data"]["token"]["sha256"] == hashlib.sha256(forged.encode()).hexdigest()
    assert "jwt_token" not in json.dumps(record)  # the presented token itself is not stored
    # The genuine token is untouched by the failed attempt.
    assert (await confirm(client, genuine.token)).confirmed


async def test_replayed_jti_is_refused(client: KernelClient, kernel: KernelServer) -> None:
    token = await client.request_token("vaos", INTENT, "file_read")
    first = await confirm(client, token.token)
    assert first.confirmed and first.sequence > 0
    with pytest.raises(KernelRefused, match=r"already used \(replayed jti\)"):
        await confirm(client, token.token)
    assert [r["reason"] for r in records(kernel.home, "audit_refused")] == [
        "token already used (replayed jti)"
    ]


async def test_replay_is_refused_after_a_kernel_restart(vaos_home: Path) -> None:
    async with KernelServer(vaos_home, port=0, jwks_port=None) as server, KernelClient(server.address) as c:
        token = await c.request_token("vaos", INTENT, "file_read")
        await confirm(c, token.token)
    async with KernelServer(vaos_home, port=0, jwks_port=None) as server, KernelClient(server.address) as c:
        with pytest.raises(KernelRefused, match="replayed jti"):
            await confirm(c, token.token)


async def test_intent_hash_mismatch_is_refused(client: KernelClient) -> None:
    token = await client.request_token("vaos", INTENT, "file_read")
    with pytest.raises(KernelRefused, match="intent hash does not match"):
        await confirm(client, token.token, intent=OTHER_INTENT)


async def test_token_for_another_agent_is_refused(client: KernelClient) -> None:
    token = await client.request_token("reviewer", INTENT, "file_read")
    with pytest.raises(KernelRefused, match="token is for agent 'reviewer', not 'coder'"):
        await confirm(client, token.token, agent="coder")


async def test_unknown_agent_is_refused_at_confirmation_too(client: KernelClient, keystore: KeyStore) -> None:
    forged = keystore.sign_jws(claims(sub="intruder", agent_id="intruder"))
    with pytest.raises(KernelRefused, match="unknown agent 'intruder'"):
        await confirm(client, forged, agent="intruder")


async def test_missing_token_is_refused_and_recorded(client: KernelClient, kernel: KernelServer) -> None:
    with pytest.raises(KernelRefused, match="no token presented"):
        await confirm(client, "")
    assert records(kernel.home, "audit_refused")[0]["reason"] == "no token presented"


async def test_receipt_is_verifiable_by_the_client(client: KernelClient, kernel: KernelServer) -> None:
    token = await client.request_token("vaos", INTENT, "file_read")
    receipt = await confirm(client, token.token)
    keys = KeyStore.open_public(kernel.home / "keys")
    assert receipt.verify(keys)
    record = json.loads(receipt.record)
    assert record["kind"] == "audit_confirmed" and record["data"]["jti"] == token.token_id
    assert record["user"] == "alice" and record["data"]["checks"]["contemporaneous"] is True
    tampered = receipt.__class__(**{**receipt.__dict__, "record": receipt.record.replace("alice", "mallory")})
    assert not tampered.verify(keys)


async def test_rotation_keeps_old_tokens_valid_until_they_expire(
    client: KernelClient, kernel: KernelServer, keystore: KeyStore
) -> None:
    old = await client.request_token("vaos", INTENT, "file_read")
    old_kid = keystore.active.kid
    new_kid = KeyStore.open(keystore.directory).rotate().kid  # as `vaos kernel rotate-key` does
    assert await kernel.reload_keys()
    new = await client.request_token("vaos", INTENT, "file_read")
    assert jwt.get_unverified_header(new.token)["kid"] == new_kid != old_kid

    assert kernel.jwks_url is not None
    url = kernel.jwks_url
    jwks = await asyncio.to_thread(lambda: json.loads(urllib.request.urlopen(url, timeout=5).read()))
    assert [k["kid"] for k in jwks["keys"]] == [old_kid, new_kid]
    assert (await confirm(client, old.token)).kid == new_kid  # the record is signed with the new key
    assert (await confirm(client, new.token)).confirmed

    assert kernel.keystore is not None
    later = time.time() + kernel.token_ttl + 10
    assert [k["kid"] for k in kernel.keystore.jwks(kernel.token_ttl, now=later)["keys"]] == [new_kid]
    rotated = records(kernel.home, "key_rotated")
    assert rotated[0]["data"]["previous_kid"] == old_kid and rotated[0]["data"]["active_kid"] == new_kid
    assert verify(kernel.home, full=True).ok
