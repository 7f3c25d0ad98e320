"""Who is calling: bearer access tokens and API keys, and when they are required.

- **Access tokens**: JWT (HS256) with ``iss``/``aud`` ``vaos-api``, ``sub`` (``user:<id>`` or
  ``key:<id>``), ``typ`` ``access``, ``iat``/``nbf``/``exp`` (15 minutes by default) and a
  ``jti``; the key is ``VAOS_API__TOKEN_SECRET`` or a random one kept in
  ``$VAOS_HOME/api/token_secret`` (0600). Only ``HS256`` is accepted.
- **Refresh tokens** are opaque (``vrt_…``), stored hashed, single use and rotated; a reused
  one revokes its whole family. Presented as a bearer token they are refused.
- **API keys** (``vaos_…``) are accepted as bearer tokens everywhere and can be exchanged for
  tokens at ``/api/v1/auth/login``.

Auth is required when ``VAOS_API__REQUIRE_AUTH=true``, or when it is unset and the server
binds a non-loopback address. When it is not required, a request without credentials (or
with credentials that do not check out, as OpenAI SDKs send a placeholder key) is served as
``anonymous``.
"""

from __future__ import annotations

import os
import secrets
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

import jwt
from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from vaos.api.errors import ApiError
from vaos.store.credentials import (
    CredentialStore,
    Principal,
    looks_like_api_key,
    looks_like_refresh_token,
)

if TYPE_CHECKING:
    from vaos.config import Settings

ISSUER = "vaos-api"
AUDIENCE = "vaos-api"
ALGORITHM = "HS256"
CACHE_SECONDS = 5.0
MIN_SECRET_BYTES = 32
_CACHE_MAX = 10_000

bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="bearer",
    description="An access token from `/api/v1/auth/login`, or an API key (`vaos_…`).",
)


def token_secret(settings: Settings) -> bytes:
    """The HS256 key: from the settings, else ``$VAOS_HOME/api/token_secret`` (made once, 0600)."""
    configured = settings.api.token_secret
    if configured is not None and configured.get_secret_value():
        value = configured.get_secret_value().encode()
        if len(value) < MIN_SECRET_BYTES:
            raise ValueError(f"VAOS_API__TOKEN_SECRET must have at least {MIN_SECRET_BYTES} bytes")
        return value
    path = settings.path("api", "token_secret")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return _read_secret(path)
    with os.fdopen(fd, "w") as f:
        f.write(secrets.token_urlsafe(48))
        f.flush()
        os.fsync(f.fileno())
    return _read_secret(path)


def _read_secret(path: Path) -> bytes:
    for _ in range(50):  # another process may be writing it right now
        data = path.read_bytes().strip()
        if data:
            return data
        time.sleep(0.01)
    raise RuntimeError(f"{path} is empty: delete it to make a new token secret")


class InvalidTokenError(Exception):
    pass


class TokenIssuer:
    def __init__(self, secret: bytes, *, ttl: int = 900) -> None:
        self._secret = secret
        self.ttl = ttl

    def issue(self, principal: Principal) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": principal.subject,
            "name": principal.name,
            "kind": principal.kind,
            "typ": "access",
            "iat": now,
            "nbf": now,
            "exp": now + self.ttl,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm=ALGORITHM)

    def verify(self, token: str) -> dict[str, Any]:
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._secret,
                algorithms=[ALGORITHM],
                audience=AUDIENCE,
                issuer=ISSUER,
                options={"require": ["exp", "iat", "nbf", "sub", "typ", "jti"]},
                leeway=5,
            )
        except jwt.ExpiredSignatureError:
            raise InvalidTokenError("the access token has expired; refresh it") from None
        except jwt.PyJWTError as exc:
            raise InvalidTokenError(f"invalid access token: {exc}") from None
        if claims.get("typ") != "access":
            raise InvalidTokenError("not an access token")
        return claims


class Authenticator:
    """Checks bearer credentials; caches good answers for a few seconds (revocation takes
    effect within ``CACHE_SECONDS``)."""

    def __init__(self, store: CredentialStore, issuer: TokenIssuer, *, required: bool) -> None:
        self.store = store
        self.issuer = issuer
        self.required = required
        self._cache: dict[str, tuple[float, Principal]] = {}

    async def principal(self, credential: str) -> Principal:
        """The principal behind ``credential``, or ``ApiError`` 401."""
        if looks_like_refresh_token(credential):
            raise _unauthorized("a refresh token is not an access token: exchange it at /api/v1/auth/refresh")
        now = time.monotonic()
        cached = self._cache.get(credential)
        if cached is not None and cached[0] > now:
            return cached[1]
        if looks_like_api_key(credential):
            found = await self.store.authenticate_api_key(credential)
            if found is None:
                raise _unauthorized("invalid or revoked API key")
        else:
            try:
                claims = self.issuer.verify(credential)
            except InvalidTokenError as exc:
                raise _unauthorized(str(exc)) from None
            found = await self.store.principal(str(claims["sub"]))
            if found is None:
                raise _unauthorized("the account behind this token is disabled or gone")
        if len(self._cache) >= _CACHE_MAX:
            self._cache.clear()
        self._cache[credential] = (now + CACHE_SECONDS, found)
        return found

    def forget(self) -> None:
        self._cache.clear()


def _unauthorized(message: str, code: str = "invalid_token") -> ApiError:
    return ApiError(401, code, message, headers={"WWW-Authenticate": 'Bearer realm="vaos"'})


async def authenticate(
    request: Request,
    credentials: HTTPAuthorizationCredentials | None = Depends(bearer_scheme),  # noqa: B008
) -> Principal:
    """FastAPI dependency: the caller, or 401 when auth is required and missing/invalid."""
    from vaos.api.context import context_of

    auth = context_of(request).auth
    if credentials is None or not credentials.credentials:
        if auth.required:
            raise _unauthorized(
                "missing bearer token (Authorization: Bearer <token or API key>)", "missing_token"
            )
        principal = Principal.anonymous()
    elif auth.required:
        principal = await auth.principal(credentials.credentials)
    else:
        try:
            principal = await auth.principal(credentials.credentials)
        except ApiError:
            principal = Principal.anonymous()
    request.state.principal = principal
    return principal
