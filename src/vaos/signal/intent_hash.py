"""Intent hashes.

``intent_hash`` is the original's fingerprint, byte for byte: SHA-256 over the raw UTF-8
text, lowercase hex, with no normalisation, salt or metadata. It identifies an intent; it
proves nothing. ``envelope_hash`` is the integrity form: a versioned, domain-separated
SHA-256 over the canonical JSON of an envelope that binds agent, session, action, the
NFC-normalised text, a nonce and the time.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import unicodedata
from datetime import UTC, datetime
from typing import Any

from vaos._canonical_json import canonical_json

ENVELOPE_VERSION = 1
ENVELOPE_DOMAIN = b"vaos-intent-v1\x00"


def intent_hash(text: str) -> str:
    """SHA-256 of the exact UTF-8 bytes of ``text``, as 64 lowercase hex digits."""
    if not isinstance(text, str):
        raise TypeError(f"intent must be a str, not {type(text).__name__}")
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()


def verify_intent_hash(digest: str, text: str) -> bool:
    """True when ``digest`` is the intent hash of ``text`` (constant-time comparison)."""
    return hmac.compare_digest(digest.encode("ascii", "replace"), intent_hash(text).encode("ascii"))


def correlation_id(agent_id: str, digest: str, at: datetime) -> str:
    """``"<agent>:<hash>:<unix microseconds>"``, as the original built it."""
    micros = int(at.astimezone(UTC).timestamp()) * 1_000_000 + at.microsecond
    return f"{agent_id}:{digest}:{micros}"


def intent_envelope(
    text: str,
    *,
    agent_id: str,
    action_type: str,
    session_id: str | None = None,
    resource: str | None = None,
    args: Any = None,
    nonce: str | None = None,
    issued_at: datetime | None = None,
) -> dict[str, Any]:
    """The envelope that ``envelope_hash`` covers; store it beside the hash."""
    when = (issued_at or datetime.now(UTC)).astimezone(UTC)
    return {
        "v": ENVELOPE_VERSION,
        "agent_id": agent_id,
        "session_id": session_id,
        "action_type": action_type,
        "resource": resource,
        "args": args,
        "intent_text": unicodedata.normalize("NFC", text),
        "nonce": nonce or secrets.token_hex(16),
        "issued_at": when.isoformat(timespec="microseconds").replace("+00:00", "Z"),
    }


def envelope_hash(envelope: dict[str, Any]) -> str:
    """SHA-256 over the domain prefix and the canonical JSON of ``envelope``."""
    if envelope.get("v") != ENVELOPE_VERSION:
        raise ValueError(f"unsupported intent envelope version {envelope.get('v')!r}")
    return hashlib.sha256(ENVELOPE_DOMAIN + canonical_json(envelope)).hexdigest()
