"""Credentials of the HTTP API: local users, API keys and refresh tokens, all hashed.

Nothing secret is stored in clear. Passwords are hashed with scrypt (salted, memory-hard);
API keys and refresh tokens are 256-bit random secrets, so a SHA-256 of them is enough and
lets a request be checked in microseconds. The clear value of a key or refresh token is
returned once, when it is made, and never again.

Formats (the prefix says what a string is, the id finds its row, the rest is the secret)::

    API key        vaos_<12 hex id>_<43 base64url chars>
    refresh token  vrt_<32 hex id>_<43 base64url chars>

The tables are created by migration ``0003``; importing this module registers them on
``vaos.store.models.Base.metadata``.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final, Literal

from sqlalchemy import CHAR, ForeignKey, Index, String, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, mapped_column

from vaos.store.database import Database
from vaos.store.models import Base, UTCDateTime, utcnow

API_KEY_PREFIX: Final = "vaos_"
REFRESH_PREFIX: Final = "vrt_"
_API_KEY = re.compile(r"^vaos_([0-9a-f]{12})_([A-Za-z0-9_-]{43})$")
_REFRESH = re.compile(r"^vrt_([0-9a-f]{32})_([A-Za-z0-9_-]{43})$")
_USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
MIN_PASSWORD_CHARS: Final = 8
MAX_PASSWORD_BYTES: Final = 1024
MAX_NAME_CHARS: Final = 100

# scrypt parameters: n=2^14, r=8 -> 16 MiB and about 40 ms per hash on one core.
_SCRYPT_N: Final = 2**14
_SCRYPT_R: Final = 8
_SCRYPT_P: Final = 1
_SCRYPT_LEN: Final = 32

Subject = str
"""Who a credential speaks for: ``user:<id>`` or ``key:<id>``."""


class CredentialError(ValueError):
    """Bad input to the credential store (an invalid name, a weak password, a duplicate)."""


# -- hashing -----------------------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def hash_password(password: str) -> str:
    """``scrypt$n$r$p$salt$hash`` (base64url) of ``password``."""
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(
        password.encode(), salt=salt, n=_SCRYPT_N, r=_SCRYPT_R, p=_SCRYPT_P, dklen=_SCRYPT_LEN
    )
    return f"scrypt${_SCRYPT_N}${_SCRYPT_R}${_SCRYPT_P}${_b64(salt)}${_b64(digest)}"


def check_password(password: str, stored: str) -> bool:
    """Whether ``password`` matches a ``hash_password`` string (constant time)."""
    try:
        scheme, n, r, p, salt, digest = stored.split("$")
        if scheme != "scrypt":
            return False
        expected = _unb64(digest)
        actual = hashlib.scrypt(
            password.encode(),
            salt=_unb64(salt),
            n=int(n),
            r=int(r),
            p=int(p),
            dklen=len(expected),
            maxmem=64 * 1024 * 1024,
        )
    except (ValueError, TypeError):
        return False
    return hmac.compare_digest(actual, expected)


# Spent on unknown usernames so that a login takes as long whether the user exists or not.
_DUMMY_HASH: Final = "scrypt$16384$8$1$AAAAAAAAAAAAAAAAAAAAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA"


def hash_secret(secret: str) -> str:
    """SHA-256 (hex) of a random secret (API keys, refresh tokens)."""
    return hashlib.sha256(secret.encode()).hexdigest()


def looks_like_api_key(value: str) -> bool:
    return value.startswith(API_KEY_PREFIX)


def looks_like_refresh_token(value: str) -> bool:
    return value.startswith(REFRESH_PREFIX)


# -- tables ------------------------------------------------------------------------------


def _new_hex(n: int = 16) -> str:
    return secrets.token_hex(n)


class UserModel(Base):
    __tablename__ = "users"

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    disabled_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class ApiKeyModel(Base):
    __tablename__ = "api_keys"
    __table_args__ = (Index("ix_api_keys_user_id", "user_id"),)

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    user_id: Mapped[str | None] = mapped_column(
        String(32), ForeignKey("users.id", ondelete="CASCADE"), nullable=True
    )
    name: Mapped[str] = mapped_column(String(MAX_NAME_CHARS), nullable=False)
    key_hash: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    last_used_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


class RefreshTokenModel(Base):
    __tablename__ = "refresh_tokens"
    __table_args__ = (
        Index("ix_refresh_tokens_family", "family"),
        Index("ix_refresh_tokens_expires_at", "expires_at"),
    )

    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    family: Mapped[str] = mapped_column(String(32), nullable=False)
    subject: Mapped[str] = mapped_column(String(80), nullable=False)
    token_hash: Mapped[str] = mapped_column(CHAR(64), nullable=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime(), nullable=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), nullable=True)


# -- records -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StoredUser:
    id: str
    username: str
    created_at: datetime
    disabled: bool

    @property
    def subject(self) -> Subject:
        return f"user:{self.id}"

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "username": self.username,
            "created_at": self.created_at.isoformat(),
            "disabled": self.disabled,
        }


@dataclass(frozen=True, slots=True)
class StoredApiKey:
    id: str
    name: str
    user_id: str | None
    created_at: datetime
    last_used_at: datetime | None
    revoked: bool

    @property
    def subject(self) -> Subject:
        return f"key:{self.id}"

    @classmethod
    def from_model(cls, row: ApiKeyModel) -> StoredApiKey:
        return cls(
            row.id, row.name, row.user_id, row.created_at, row.last_used_at, row.revoked_at is not None
        )

    def to_dict(self) -> dict[str, object]:
        return {
            "id": self.id,
            "name": self.name,
            "user_id": self.user_id,
            "created_at": self.created_at.isoformat(),
            "last_used_at": self.last_used_at.isoformat() if self.last_used_at else None,
            "revoked": self.revoked,
        }


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: a user, an API key (on its own or a user's), or nobody in particular."""

    subject: Subject
    name: str
    kind: Literal["user", "key", "anonymous"]

    @classmethod
    def anonymous(cls) -> Principal:
        return cls("anonymous", "anonymous", "anonymous")


RefreshOutcome = Literal["ok", "unknown", "expired", "revoked", "reused"]


# -- the store ---------------------------------------------------------------------------


class CredentialStore:
    """Users, API keys and refresh tokens in the VAOS database (migration ``0003``)."""

    def __init__(self, db: Database) -> None:
        self.db = db

    # users

    async def create_user(self, username: str, password: str) -> StoredUser:
        if not isinstance(username, str) or not _USERNAME.match(username):
            raise CredentialError("username must be 1-64 characters of letters, digits and _ . @ -")
        _check_password(password)
        hashed = await asyncio.to_thread(hash_password, password)
        row = UserModel(id=_new_hex(), username=username, password_hash=hashed, created_at=utcnow())
        try:
            async with self.db.session() as s:
                s.add(row)
        except IntegrityError:
            raise CredentialError(f"user {username!r} already exists") from None
        return StoredUser(row.id, row.username, row.created_at, False)

    async def set_password(self, username: str, password: str) -> bool:
        _check_password(password)
        hashed = await asyncio.to_thread(hash_password, password)
        async with self.db.session() as s:
            result = await s.execute(
                update(UserModel)
                .where(UserModel.username == username)
                .values(password_hash=hashed)
                .returning(UserModel.id)
            )
            return result.first() is not None

    async def disable_user(self, username: str) -> bool:
        """Disable a user: its logins, refresh tokens and keys stop working."""
        async with self.db.session() as s:
            result = await s.execute(
                update(UserModel)
                .where(UserModel.username == username, UserModel.disabled_at.is_(None))
                .values(disabled_at=utcnow())
                .returning(UserModel.id)
            )
            return result.first() is not None

    async def list_users(self) -> list[StoredUser]:
        async with self.db.session() as s:
            rows = await s.scalars(select(UserModel).order_by(UserModel.created_at, UserModel.id))
            return [StoredUser(r.id, r.username, r.created_at, r.disabled_at is not None) for r in rows]

    async def authenticate_password(self, username: str, password: str) -> StoredUser | None:
        """The user when ``password`` is right and the user active; None otherwise (same time)."""
        row = None
        if isinstance(username, str) and _USERNAME.match(username):
            async with self.db.session() as s:
                row = await s.scalar(select(UserModel).where(UserModel.username == username))
        stored = row.password_hash if row is not None else _DUMMY_HASH
        ok = await asyncio.to_thread(check_password, password[:MAX_PASSWORD_BYTES], stored)
        if row is None or not ok or row.disabled_at is not None:
            return None
        return StoredUser(row.id, row.username, row.created_at, False)

    # API keys

    async def create_api_key(
        self, name: str = "", *, username: str | None = None
    ) -> tuple[StoredApiKey, str]:
        """A new key (for ``username`` if given); returns the record and the clear key, once."""
        if not isinstance(name, str) or len(name) > MAX_NAME_CHARS:
            raise CredentialError(f"key name must be at most {MAX_NAME_CHARS} characters")
        user_id = None
        async with self.db.session() as s:
            if username is not None:
                user_id = await s.scalar(select(UserModel.id).where(UserModel.username == username))
                if user_id is None:
                    raise CredentialError(f"unknown user {username!r}")
            key_id = secrets.token_hex(6)
            secret = secrets.token_urlsafe(32)
            row = ApiKeyModel(
                id=key_id,
                user_id=user_id,
                name=name,
                key_hash=hash_secret(secret),
                created_at=utcnow(),
            )
            s.add(row)
        return StoredApiKey.from_model(row), f"{API_KEY_PREFIX}{key_id}_{secret}"

    async def list_api_keys(self) -> list[StoredApiKey]:
        async with self.db.session() as s:
            rows = await s.scalars(select(ApiKeyModel).order_by(ApiKeyModel.created_at, ApiKeyModel.id))
            return [StoredApiKey.from_model(r) for r in rows]

    async def revoke_api_key(self, key_id: str) -> bool:
        async with self.db.session() as s:
            result = await s.execute(
                update(ApiKeyModel)
                .where(ApiKeyModel.id == key_id, ApiKeyModel.revoked_at.is_(None))
                .values(revoked_at=utcnow())
                .returning(ApiKeyModel.id)
            )
            return result.first() is not None

    async def authenticate_api_key(self, presented: str) -> Principal | None:
        """The principal of a valid, unrevoked key (of an active user, if it has one)."""
        match = _API_KEY.match(presented) if isinstance(presented, str) else None
        if match is None:
            return None
        key_id, secret = match.groups()
        async with self.db.session() as s:
            row = await s.get(ApiKeyModel, key_id)
            if row is None or row.revoked_at is not None:
                return None
            if not hmac.compare_digest(row.key_hash, hash_secret(secret)):
                return None
            name = row.name or key_id
            if row.user_id is not None:
                user = await s.get(UserModel, row.user_id)
                if user is None or user.disabled_at is not None:
                    return None
                name = user.username
            row.last_used_at = utcnow()
        return Principal(f"key:{key_id}", name, "key")

    async def principal(self, subject: Subject) -> Principal | None:
        """The principal of ``subject`` if it is still allowed in (user active, key unrevoked)."""
        kind, _, ident = subject.partition(":")
        async with self.db.session() as s:
            if kind == "user":
                user = await s.get(UserModel, ident)
                if user is None or user.disabled_at is not None:
                    return None
                return Principal(subject, user.username, "user")
            if kind == "key":
                key = await s.get(ApiKeyModel, ident)
                if key is None or key.revoked_at is not None:
                    return None
                name = key.name or key.id
                if key.user_id is not None:
                    owner = await s.get(UserModel, key.user_id)
                    if owner is None or owner.disabled_at is not None:
                        return None
                    name = owner.username
                return Principal(subject, name, "key")
        return None

    async def has_credentials(self) -> bool:
        """Whether any active user or unrevoked key exists (someone could log in)."""
        async with self.db.session() as s:
            user = await s.scalar(select(UserModel.id).where(UserModel.disabled_at.is_(None)).limit(1))
            if user is not None:
                return True
            key = await s.scalar(select(ApiKeyModel.id).where(ApiKeyModel.revoked_at.is_(None)).limit(1))
            return key is not None

    # refresh tokens

    async def issue_refresh_token(self, subject: Subject, ttl_s: int, *, family: str | None = None) -> str:
        token_id = _new_hex()
        secret = secrets.token_urlsafe(32)
        now = utcnow()
        row = RefreshTokenModel(
            id=token_id,
            family=family or token_id,
            subject=subject,
            token_hash=hash_secret(secret),
            created_at=now,
            expires_at=now + timedelta(seconds=ttl_s),
        )
        async with self.db.session() as s:
            s.add(row)
        return f"{REFRESH_PREFIX}{token_id}_{secret}"

    async def rotate_refresh_token(
        self, presented: str, ttl_s: int
    ) -> tuple[RefreshOutcome, Subject | None, str | None]:
        """Use a refresh token: revoke it and issue its successor in the same family.

        A token used twice means it was copied: the whole family is revoked (``reused``).
        """
        match = _REFRESH.match(presented) if isinstance(presented, str) else None
        if match is None:
            return "unknown", None, None
        token_id, secret = match.groups()
        now = utcnow()
        async with self.db.session() as s:
            row = await s.get(RefreshTokenModel, token_id)
            if row is None or not hmac.compare_digest(row.token_hash, hash_secret(secret)):
                return "unknown", None, None
            if row.revoked_at is not None:
                await s.execute(
                    update(RefreshTokenModel)
                    .where(RefreshTokenModel.family == row.family, RefreshTokenModel.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
                return "reused", None, None
            if row.expires_at <= now:
                return "expired", None, None
            row.revoked_at = now
            subject, family = row.subject, row.family
        return "ok", subject, await self.issue_refresh_token(subject, ttl_s, family=family)

    async def revoke_refresh_token(self, presented: str) -> bool:
        """Revoke the family of a refresh token (logout)."""
        match = _REFRESH.match(presented) if isinstance(presented, str) else None
        if match is None:
            return False
        token_id, secret = match.groups()
        async with self.db.session() as s:
            row = await s.get(RefreshTokenModel, token_id)
            if row is None or not hmac.compare_digest(row.token_hash, hash_secret(secret)):
                return False
            await s.execute(
                update(RefreshTokenModel)
                .where(RefreshTokenModel.family == row.family, RefreshTokenModel.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
        return True


def _check_password(password: str) -> None:
    if not isinstance(password, str) or len(password) < MIN_PASSWORD_CHARS:
        raise CredentialError(f"password must have at least {MIN_PASSWORD_CHARS} characters")
    if len(password.encode()) > MAX_PASSWORD_BYTES:
        raise CredentialError(f"password must be at most {MAX_PASSWORD_BYTES} bytes")
