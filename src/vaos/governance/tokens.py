"""Action tokens: short-lived EdDSA JWTs bound to agent, intent hash and action type.

Claims (INTERFACES.md section 3): ``iss``, ``sub`` (agent id), ``aud``, ``iat``, ``nbf``,
``exp``, ``jti``, ``agent_id``, ``intent_fingerprint`` (the intent hash, verbatim),
``action_type``, ``scope``. Header: ``alg`` EdDSA, ``kid``, ``typ`` JWT. Any standard JWT
library verifies them with the kernel's JWKS.
"""

from __future__ import annotations

import hmac
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from vaos.governance.errors import JWSError
from vaos.governance.keys import KeyStore, jws_header, verify_jws

DEFAULT_ISSUER = "vaos-kernel"
DEFAULT_AUDIENCE = "vaos"
TOKEN_TYPE = "JWT"


@dataclass(frozen=True)
class IssuedToken:
    token: str
    jti: str
    kid: str
    issued_at: int
    expires_at: int
    scope: str


class TokenIssuer:
    """Issues and verifies the kernel's action tokens."""

    def __init__(
        self,
        keystore: KeyStore,
        *,
        ttl: int = 60,
        issuer: str = DEFAULT_ISSUER,
        audience: str = DEFAULT_AUDIENCE,
        clock: Callable[[], float] = time.time,
    ) -> None:
        if ttl <= 0:
            raise ValueError("token ttl must be positive")
        self.keystore = keystore
        self.ttl = ttl
        self.issuer = issuer
        self.audience = audience
        self.clock = clock

    def issue(self, agent_id: str, intent_hash: str, action_type: str) -> IssuedToken:
        now = int(self.clock())
        jti = secrets.token_hex(16)
        claims = {
            "iss": self.issuer,
            "sub": agent_id,
            "aud": self.audience,
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": jti,
            "agent_id": agent_id,
            "intent_fingerprint": intent_hash,
            "action_type": action_type,
            "scope": action_type,
        }
        token = self.keystore.sign_jws(claims, typ=TOKEN_TYPE)
        return IssuedToken(token, jti, self.keystore.active.kid, now, now + self.ttl, action_type)

    def verify(self, token: str, *, agent_id: str, intent_hash: str) -> dict[str, Any]:
        """The claims of a valid token for this agent and intent; ``JWSError`` says why not.

        Checks, in order: EdDSA only, a known kid (active, or retired less than one token
        lifetime ago and not used after retirement), the signature, ``exp``/``nbf``/``iat``,
        issuer, audience, required claims, agent and intent hash. Single use (``jti``) is the
        caller's check, after this one.
        """
        now = self.clock()
        claims = verify_jws(token, self.keystore.token_keys(self.ttl, now), typ=TOKEN_TYPE, now=now)
        if claims.get("iss") != self.issuer:
            raise JWSError(f"wrong issuer {claims.get('iss')!r}")
        audience = claims.get("aud")
        if audience != self.audience and not (isinstance(audience, list) and self.audience in audience):
            raise JWSError(f"wrong audience {audience!r}")
        for name in ("sub", "jti", "agent_id", "intent_fingerprint", "action_type"):
            if not isinstance(claims.get(name), str) or not claims[name]:
                raise JWSError(f"claim {name!r} is missing")
        for name in ("exp", "iat", "nbf"):
            if name not in claims:
                raise JWSError(f"claim {name!r} is missing")
        key = self.keystore.keys.get(str(jws_header(token).get("kid")))
        if key is not None and key.retired_at is not None and claims["iat"] > key.retired_at:
            raise JWSError("signed by a retired key after its retirement")
        if claims["sub"] != claims["agent_id"] or not hmac.compare_digest(claims["agent_id"], agent_id):
            raise JWSError(f"token is for agent {claims['agent_id']!r}, not {agent_id!r}")
        if not hmac.compare_digest(claims["intent_fingerprint"].encode(), intent_hash.encode()):
            raise JWSError("intent hash does not match the token")
        return claims


class JtiRegistry:
    """Token ids already used; each is kept until its token has expired."""

    def __init__(self, clock: Callable[[], float] = time.time) -> None:
        self._used: dict[str, float] = {}
        self._clock = clock
        self._next_prune = 0.0

    def __len__(self) -> int:
        return len(self._used)

    def __contains__(self, jti: object) -> bool:
        return jti in self._used

    def consume(self, jti: str, expires_at: float) -> bool:
        """Mark ``jti`` used; False when it already was (a replay)."""
        now = self._clock()
        if now >= self._next_prune:
            self._used = {k: exp for k, exp in self._used.items() if exp > now}
            self._next_prune = now + 10.0
        if jti in self._used:
            return False
        self._used[jti] = expires_at
        return True
