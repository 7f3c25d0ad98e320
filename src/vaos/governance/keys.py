"""Kernel signing keys: Ed25519 in ``$VAOS_HOME/keys/``, rotation, JWKS and compact JWS.

Layout of the key directory (mode 0700)::

    keyring.json          every key ever used: kid, public key, created/retired times (0600)
    ed25519-<kid>.pem     one PKCS#8 private key per kid (0600, refused when more open)
    .lock                 serialises rotation between processes

Exactly one key is active (``retired_at`` null); it signs tokens, ledger records, checkpoints
and commands. ``rotate()`` adds a new active key and retires the old one: tokens it signed
stay valid until they expire (the JWKS keeps it for one token lifetime), and ledger records
it signed stay verifiable for ever (the keyring keeps every public key). ``kid`` is the
RFC 7638 JWK thumbprint of the public key.

``sign_jws`` / ``verify_jws`` make and check compact JWS with ``alg`` pinned to EdDSA: the
kernel's tokens and the signed commands of the telemetry channel both use them.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import os
import stat
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from vaos.governance.errors import JWSError, KeyStoreError

KEYRING_FILE = "keyring.json"
LOCK_FILE = ".lock"
JWS_ALG = "EdDSA"
# Retired keys stay in the JWKS this long beyond the token lifetime (clock skew of verifiers).
JWKS_GRACE_SECONDS = 5

_B64_ALPHABET = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def b64url(data: bytes) -> str:
    """Base64url without padding (RFC 7515)."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Strict inverse of ``b64url``: no padding, no other alphabet; ``ValueError`` otherwise."""
    raw = text.encode("ascii", "strict") if text.isascii() else b"\xff"
    if not _B64_ALPHABET.issuperset(raw) or len(raw) % 4 == 1:
        raise ValueError("not base64url")
    try:
        return base64.urlsafe_b64decode(raw + b"=" * (-len(raw) % 4))
    except binascii.Error as exc:
        raise ValueError("not base64url") from exc


def raw_public_key(key: Ed25519PublicKey) -> bytes:
    return key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def jwk_thumbprint(key: Ed25519PublicKey) -> str:
    """RFC 7638 thumbprint: SHA-256 of the required members in lexicographic order."""
    members = f'{{"crv":"Ed25519","kty":"OKP","x":"{b64url(raw_public_key(key))}"}}'
    return b64url(hashlib.sha256(members.encode("ascii")).digest())


def public_jwk(key: Ed25519PublicKey, kid: str) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(raw_public_key(key)),
        "kid": kid,
        "alg": JWS_ALG,
        "use": "sig",
    }


def keys_from_jwks(jwks: Mapping[str, Any]) -> dict[str, Ed25519PublicKey]:
    """The Ed25519 keys of a JWKS document, by kid; other key types are skipped."""
    keys: dict[str, Ed25519PublicKey] = {}
    entries = jwks.get("keys")
    if not isinstance(entries, list):
        raise ValueError("a JWKS needs a 'keys' list")
    for entry in entries:
        if not isinstance(entry, dict) or entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
            continue
        kid, x = entry.get("kid"), entry.get("x")
        if not isinstance(kid, str) or not isinstance(x, str):
            raise ValueError("an Ed25519 JWK needs string 'kid' and 'x'")
        raw = b64url_decode(x)
        if len(raw) != 32:
            raise ValueError(f"JWK {kid!r}: an Ed25519 public key is 32 bytes")
        keys[kid] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


def verify_jws(
    token: str,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    typ: str | None = None,
    now: float | None = None,
) -> dict[str, Any]:
    """Verify a compact JWS signed with EdDSA by one of ``keys``; returns its payload.

    ``alg`` is pinned: ``none``, HS256 and every other algorithm are refused before any key
    is used. ``exp`` and ``nbf`` are enforced when present. Raises ``JWSError`` with the
    reason.
    """
    header, payload, signing_input, signature = _split_jws(token)
    alg = header.get("alg")
    if alg != JWS_ALG:
        raise JWSError(f"algorithm {alg!r} is not allowed (only {JWS_ALG})")
    if typ is not None and header.get("typ") != typ:
        raise JWSError(f"wrong type {header.get('typ')!r} (expected {typ!r})")
    kid = header.get("kid")
    if not isinstance(kid, str) or not kid:
        raise JWSError("no key id (kid) in the header")
    key = keys.get(kid)
    if key is None:
        raise JWSError(f"unknown signing key {kid!r}")
    try:
        key.verify(signature, signing_input)
    except InvalidSignature:
        raise JWSError("bad signature") from None
    check_time_claims(payload, time.time() if now is None else now)
    return payload


def check_time_claims(payload: Mapping[str, Any], now: float, leeway: float = 0.0) -> None:
    """Enforce ``exp`` and ``nbf`` (and refuse an ``iat`` in the future) when present."""
    for claim in ("exp", "nbf", "iat"):
        value = payload.get(claim)
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise JWSError(f"claim {claim!r} is not a number")
    exp, nbf, iat = payload.get("exp"), payload.get("nbf"), payload.get("iat")
    if exp is not None and now >= exp + leeway:
        raise JWSError("token expired")
    if nbf is not None and now < nbf - leeway:
        raise JWSError("token not yet valid (nbf)")
    if iat is not None and now < iat - leeway:
        raise JWSError("token issued in the future (iat)")


def jws_header(token: str) -> dict[str, Any]:
    """The decoded (unverified) header of a compact JWS; ``JWSError`` when malformed."""
    return _split_jws(token)[0]


def _split_jws(token: str) -> tuple[dict[str, Any], dict[str, Any], bytes, bytes]:
    if not isinstance(token, str) or not token:
        raise JWSError("no token")
    parts = token.split(".")
    if len(parts) != 3:
        raise JWSError("malformed token (expected three dot-separated parts)")
    try:
        header = orjson.loads(b64url_decode(parts[0]))
        payload = orjson.loads(b64url_decode(parts[1]))
        signature = b64url_decode(parts[2])
    except (ValueError, orjson.JSONDecodeError):
        raise JWSError("malformed token (bad base64url or JSON)") from None
    if not isinstance(header, dict) or not isinstance(payload, dict):
        raise JWSError("malformed token (header and payload must be JSON objects)")
    return header, payload, f"{parts[0]}.{parts[1]}".encode("ascii"), signature


@dataclass(frozen=True)
class KernelKey:
    """One signing key. ``private_key`` is loaded only for the active key."""

    kid: str
    public_key: Ed25519PublicKey
    created_at: int
    retired_at: int | None
    file: str
    private_key: Ed25519PrivateKey | None = None

    @property
    def active(self) -> bool:
        return self.retired_at is None

    def jwk(self) -> dict[str, str]:
        return public_jwk(self.public_key, self.kid)


class KeyStore:
    """The kernel's keys in one directory; see the module docstring for the layout."""

    def __init__(self, directory: Path, keys: dict[str, KernelKey], stamp: tuple[int, int, int]) -> None:
        self.directory = directory
        self._keys = keys
        self._stamp = stamp
        self._active = _the_active(keys, directory)
        self._headers: dict[tuple[str, str], str] = {}

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path, *, create: bool = True) -> KeyStore:
        """Load the keys; with ``create`` make the directory and a first key when absent."""
        directory = Path(directory)
        if not (directory / KEYRING_FILE).exists():
            if not create:
                raise KeyStoreError(f"no kernel keys in {directory}")
            _make_private_dir(directory)
            with _locked(directory):
                if not (directory / KEYRING_FILE).exists():
                    _write_keyring(directory, [_new_key_entry(directory)])
        keys, stamp = _load(directory)
        return cls(directory, keys, stamp)

    @classmethod
    def open_public(cls, directory: Path) -> dict[str, Ed25519PublicKey]:
        """Every public key of the keyring, without touching private keys (for verifiers)."""
        keyring = Path(directory) / KEYRING_FILE
        if not keyring.exists():
            return {}
        return {entry["kid"]: entry["public_key"] for entry in _read_keyring(keyring)}

    # -- reading -------------------------------------------------------------------------

    @property
    def active(self) -> KernelKey:
        return self._active

    @property
    def keys(self) -> Mapping[str, KernelKey]:
        return self._keys

    def public_keys(self) -> dict[str, Ed25519PublicKey]:
        return {kid: key.public_key for kid, key in self._keys.items()}

    def token_keys(self, token_ttl: float, now: float | None = None) -> dict[str, Ed25519PublicKey]:
        """Keys that may have signed a token still valid now: active and recently retired."""
        now = time.time() if now is None else now
        return {
            kid: key.public_key
            for kid, key in self._keys.items()
            if key.retired_at is None or key.retired_at + token_ttl + JWKS_GRACE_SECONDS > now
        }

    def jwks(self, token_ttl: float, now: float | None = None) -> dict[str, Any]:
        """The JWKS served at ``/.well-known/jwks.json``: keys whose tokens can still be valid."""
        usable = self.token_keys(token_ttl, now)
        return {"keys": [key.jwk() for kid, key in self._keys.items() if kid in usable]}

    def jwks_all(self) -> dict[str, Any]:
        """Every public key ever used, oldest first (what a ledger verifier needs)."""
        return {"keys": [key.jwk() for key in self._keys.values()]}

    # -- signing -------------------------------------------------------------------------

    def sign(self, data: bytes) -> tuple[str, bytes]:
        """Sign ``data`` with the active key; returns ``(kid, signature)``."""
        key = self._active
        assert key.private_key is not None
        return key.kid, key.private_key.sign(data)

    def sign_jws(self, payload: Mapping[str, Any], *, typ: str = "JWT") -> str:
        """A compact JWS (``alg`` EdDSA, ``kid``, ``typ``) of ``payload`` with the active key."""
        key = self._active
        assert key.private_key is not None
        header = self._headers.get((key.kid, typ))
        if header is None:
            header = b64url(orjson.dumps({"alg": JWS_ALG, "kid": key.kid, "typ": typ}))
            self._headers[(key.kid, typ)] = header
        signing_input = f"{header}.{b64url(orjson.dumps(dict(payload)))}"
        return f"{signing_input}.{b64url(key.private_key.sign(signing_input.encode('ascii')))}"

    def verify_jws(
        self,
        token: str,
        *,
        typ: str | None = None,
        max_age_after_retirement: float = 0.0,
        now: float | None = None,
    ) -> dict[str, Any]:
        """Verify a JWS made by ``sign_jws``: active key, or a key retired less than
        ``max_age_after_retirement`` seconds ago. Raises ``JWSError``."""
        return verify_jws(token, self.token_keys(max_age_after_retirement, now), typ=typ, now=now)

    # -- changing ------------------------------------------------------------------------

    def rotate(self) -> KernelKey:
        """Add a new active key and retire the current one (across processes, under a lock)."""
        with _locked(self.directory):
            entries = _read_keyring(self.directory / KEYRING_FILE)
            now = int(time.time())
            for entry in entries:
                if entry["retired_at"] is None:
                    entry["retired_at"] = now
            entries.append(_new_key_entry(self.directory))
            _write_keyring(self.directory, entries)
        self._keys, self._stamp = _load(self.directory)
        self._active = _the_active(self._keys, self.directory)
        return self._active

    def reload_if_changed(self) -> bool:
        """Re-read the keyring when another process changed it; True when it did."""
        try:
            stamp = _stamp(self.directory / KEYRING_FILE)
        except OSError:
            return False
        if stamp == self._stamp:
            return False
        self._keys, self._stamp = _load(self.directory)
        self._active = _the_active(self._keys, self.directory)
        return True


# -- files ---------------------------------------------------------------------------------


def _make_private_dir(directory: Path) -> None:
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    mode = stat.S_IMODE(directory.stat().st_mode)
    if mode & 0o077:
        os.chmod(directory, 0o700)


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # closing releases the lock


def _new_key_entry(directory: Path) -> dict[str, Any]:
    private = Ed25519PrivateKey.generate()
    public = private.public_key()
    kid = jwk_thumbprint(public)
    name = f"ed25519-{kid}.pem"
    pem = private.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _write_private_file(directory / name, pem)
    return {
        "kid": kid,
        "x": b64url(raw_public_key(public)),
        "created_at": int(time.time()),
        "retired_at": None,
        "file": name,
        "public_key": public,
    }


def _write_private_file(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_keyring(directory: Path, entries: list[dict[str, Any]]) -> None:
    document = {
        "v": 1,
        "keys": [
            {k: entry[k] for k in ("kid", "x", "created_at", "retired_at", "file")} for entry in entries
        ],
    }
    tmp = directory / f".{KEYRING_FILE}.{os.getpid()}.tmp"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        os.write(fd, orjson.dumps(document, option=orjson.OPT_INDENT_2) + b"\n")
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, directory / KEYRING_FILE)
    dir_fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _stamp(path: Path) -> tuple[int, int, int]:
    st = path.stat()
    return (st.st_ino, st.st_mtime_ns, st.st_size)


def _read_keyring(path: Path) -> list[dict[str, Any]]:
    try:
        document = orjson.loads(path.read_bytes())
    except (OSError, orjson.JSONDecodeError) as exc:
        raise KeyStoreError(f"cannot read {path}: {exc}") from None
    if not isinstance(document, dict) or not isinstance(document.get("keys"), list):
        raise KeyStoreError(f"{path} is not a VAOS keyring")
    entries: list[dict[str, Any]] = []
    for raw in document["keys"]:
        try:
            public = Ed25519PublicKey.from_public_bytes(b64url_decode(raw["x"]))
            entry = {
                "kid": str(raw["kid"]),
                "x": str(raw["x"]),
                "created_at": int(raw["created_at"]),
                "retired_at": None if raw.get("retired_at") is None else int(raw["retired_at"]),
                "file": str(raw["file"]),
                "public_key": public,
            }
        except (KeyError, TypeError, ValueError) as exc:
            raise KeyStoreError(f"{path}: invalid key entry ({exc})") from None
        if jwk_thumbprint(public) != entry["kid"]:
            raise KeyStoreError(f"{path}: kid {entry['kid']!r} is not the thumbprint of its key")
        entries.append(entry)
    return entries


def _load(directory: Path) -> tuple[dict[str, KernelKey], tuple[int, int, int]]:
    keyring = directory / KEYRING_FILE
    with _locked(directory):
        stamp = _stamp(keyring)
        _check_mode(keyring, 0o022, "writable by group or others")
        entries = _read_keyring(keyring)
        keys: dict[str, KernelKey] = {}
        for entry in entries:
            private = None
            if entry["retired_at"] is None:
                private = _load_private(directory / entry["file"], entry["public_key"])
            keys[entry["kid"]] = KernelKey(
                kid=entry["kid"],
                public_key=entry["public_key"],
                created_at=entry["created_at"],
                retired_at=entry["retired_at"],
                file=entry["file"],
                private_key=private,
            )
    return keys, stamp


def _load_private(path: Path, public: Ed25519PublicKey) -> Ed25519PrivateKey:
    _check_mode(path, 0o077, "readable by group or others; run: chmod 600")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError) as exc:
        raise KeyStoreError(f"cannot load the private key {path}: {exc}") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise KeyStoreError(f"{path} is not an Ed25519 private key")
    if raw_public_key(key.public_key()) != raw_public_key(public):
        raise KeyStoreError(f"{path} does not match its public key in the keyring")
    return key


def _check_mode(path: Path, forbidden: int, what: str) -> None:
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError as exc:
        raise KeyStoreError(f"cannot read {path}: {exc.strerror}") from None
    if mode & forbidden:
        raise KeyStoreError(f"{path} has mode {mode:04o}: {what}")


def _the_active(keys: Mapping[str, KernelKey], directory: Path) -> KernelKey:
    active = [key for key in keys.values() if key.active]
    if len(active) != 1:
        raise KeyStoreError(f"{directory / KEYRING_FILE}: expected one active key, found {len(active)}")
    return active[0]
