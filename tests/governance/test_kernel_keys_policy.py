"""Kernel keys (files, modes, JWS, rotation) and the policy."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from vaos.governance.errors import JWSError, KeyStoreError, PolicyError
from vaos.governance.keys import KeyStore, jwk_thumbprint, keys_from_jwks, verify_jws
from vaos.governance.policy import Policy


def test_first_open_creates_one_private_key(vaos_home: Path) -> None:
    keystore = KeyStore.open(vaos_home / "keys")
    pems = list((vaos_home / "keys").glob("ed25519-*.pem"))
    assert len(pems) == 1 and pems[0].stat().st_mode & 0o777 == 0o600
    assert (vaos_home / "keys").stat().st_mode & 0o777 == 0o700
    assert keystore.active.kid == jwk_thumbprint(keystore.active.public_key)
    assert KeyStore.open(vaos_home / "keys").active.kid == keystore.active.kid  # stable across opens


def test_open_without_create_needs_keys(vaos_home: Path) -> None:
    with pytest.raises(KeyStoreError, match="no kernel keys"):
        KeyStore.open(vaos_home / "keys", create=False)


def test_a_private_key_readable_by_others_is_refused(vaos_home: Path) -> None:
    KeyStore.open(vaos_home / "keys")
    (pem,) = (vaos_home / "keys").glob("ed25519-*.pem")
    os.chmod(pem, 0o644)
    with pytest.raises(KeyStoreError, match="mode 0644"):
        KeyStore.open(vaos_home / "keys")


def test_jws_round_trip_and_pinning(vaos_home: Path) -> None:
    keystore = KeyStore.open(vaos_home / "keys")
    token = keystore.sign_jws({"type": "pause", "exp": time.time() + 30}, typ="vaos-command+jwt")
    assert keystore.verify_jws(token, typ="vaos-command+jwt")["type"] == "pause"
    with pytest.raises(JWSError, match="wrong type"):
        keystore.verify_jws(token, typ="JWT")
    other = KeyStore.open(vaos_home / "other")
    with pytest.raises(JWSError, match="unknown signing key"):
        other.verify_jws(token)
    jwks_keys = keys_from_jwks(keystore.jwks(60))
    assert verify_jws(token, jwks_keys)["type"] == "pause"
    expired = keystore.sign_jws({"exp": time.time() - 1})
    with pytest.raises(JWSError, match="expired"):
        keystore.verify_jws(expired)


def test_rotation_retires_but_keeps_the_old_key(vaos_home: Path) -> None:
    keystore = KeyStore.open(vaos_home / "keys")
    old = keystore.active
    token = keystore.sign_jws({"n": 1})
    new = keystore.rotate()
    assert new.kid != old.kid and keystore.active.kid == new.kid
    assert keystore.keys[old.kid].retired_at is not None and keystore.keys[old.kid].private_key is None
    assert keystore.verify_jws(token, max_age_after_retirement=60)["n"] == 1
    with pytest.raises(JWSError, match="unknown signing key"):
        keystore.verify_jws(token, max_age_after_retirement=60, now=time.time() + 120)
    assert [k["kid"] for k in keystore.jwks_all()["keys"]] == [old.kid, new.kid]
    assert len(list((vaos_home / "keys").glob("ed25519-*.pem"))) == 2
    for path in (vaos_home / "keys").iterdir():
        assert path.stat().st_mode & 0o777 == 0o600


def test_a_process_sees_another_process_rotation(vaos_home: Path) -> None:
    kernel_view = KeyStore.open(vaos_home / "keys")
    assert not kernel_view.reload_if_changed()
    new = KeyStore.open(vaos_home / "keys").rotate()
    assert kernel_view.reload_if_changed() and kernel_view.active.kid == new.kid


def test_default_policy() -> None:
    policy = Policy.default()
    assert policy.decide("vaos", "file_read").allowed
    assert policy.decide("vaos", "swarm_launch").allowed
    assert policy.decide("vaos", "llm_call").allowed
    assert policy.decide("architect", "file_write").allowed
    assert (
        policy.decide("reviewer", "file_write").reason == "agent 'reviewer' may not take action 'file_write'"
    )
    assert policy.decide("mallory", "file_read").reason == "unknown agent 'mallory'"
    assert policy.decide("vaos", "rm -rf /").reason == "unknown action type 'rm -rf /'"
    assert policy.decide("vaos", "mcp__fs__read").allowed


def test_operator_policy_replaces_the_default(vaos_home: Path) -> None:
    (vaos_home / "kernel_policy.toml").write_text(
        'version = 1\n[action_types]\nbuiltin = ["file_read"]\n[agents.ops]\nactions = ["file_read"]\n'
    )
    policy = Policy.load(home=vaos_home)
    assert policy.decide("ops", "file_read").allowed
    assert not policy.decide("vaos", "file_read").allowed


@pytest.mark.parametrize(
    ("text", "error"),
    [
        ("version = 2", "unsupported policy version"),
        ("version = 1\n[agents.a]\nactions = ['nope']", "unknown action type 'nope'"),
        ("version = 1\n[action_types]\nbuiltin = 'x'", "must be a list"),
        ("version = [", "not valid TOML"),
    ],
)
def test_invalid_policies_are_refused(text: str, error: str) -> None:
    with pytest.raises(PolicyError, match=error):
        Policy.from_toml(text)
