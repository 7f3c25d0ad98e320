from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from vaos._canonical_json import canonical_json
from vaos.signal.intent_hash import (
    correlation_id,
    envelope_hash,
    intent_envelope,
    intent_hash,
    verify_intent_hash,
)

VECTORS = [
    ("Build a REST API", "6d8aa9b978c32673fa41ed872aa08b495e5a384c5c6b69d44c012b968d34be7c"),
    ("Build a REST API ", "a7fca99b4fe5ef89b5d33f534c9bdeaca25771ae11b2918d5af41d88e5ef3ce1"),
    ("build a rest api", "7960926389799c5680210dec1f99ce462194f5de8f9a848132d9721b12cf381f"),
    ("", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"),
    ("Execute database migration", "7f2e8f55a19fac84cd0a62cfbaa713b091c3927c48b9fd7805582c82fbbaa649"),
]


@pytest.mark.parametrize(("text", "digest"), VECTORS)
def test_original_vectors(text: str, digest: str) -> None:
    assert intent_hash(text) == digest
    assert verify_intent_hash(digest, text)


def test_no_unicode_normalisation() -> None:
    nfc, nfd = intent_hash("café"), intent_hash("cafe\u0301")
    assert nfc.startswith("850f7dc4") and nfc.endswith("a9bf4e")
    assert nfd.startswith("81ef060b") and nfd.endswith("04b015a")


def test_uppercase_digest_does_not_verify() -> None:
    assert not verify_intent_hash(VECTORS[0][1].upper(), VECTORS[0][0])


def test_rejects_non_text() -> None:
    with pytest.raises(TypeError):
        intent_hash(b"bytes")  # type: ignore[arg-type]


def test_correlation_id_matches_original_example() -> None:
    at = datetime(2026, 3, 25, 12, 0, tzinfo=UTC)
    assert correlation_id("agent-123", "H", at) == "agent-123:H:1774440000000000"


@given(st.text())
def test_hash_is_64_lowercase_hex_and_deterministic(text: str) -> None:
    digest = intent_hash(text)
    assert len(digest) == 64
    assert digest == digest.lower()
    int(digest, 16)
    assert intent_hash(text) == digest


@given(st.text(min_size=1), st.text(min_size=1))
def test_distinct_texts_distinct_hashes(a: str, b: str) -> None:
    if a != b:
        assert intent_hash(a) != intent_hash(b)


def _envelope(**changes: object) -> dict[str, object]:
    base = intent_envelope(
        "deploy the api",
        agent_id="vaos",
        action_type="shell_execute",
        session_id="s1",
        nonce="00" * 16,
        issued_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    base.update(changes)
    return base


def test_envelope_hash_binds_every_field() -> None:
    reference = envelope_hash(_envelope())
    for field, value in [
        ("agent_id", "other"),
        ("session_id", "s2"),
        ("action_type", "file_write"),
        ("intent_text", "deploy the API"),
        ("nonce", "11" * 16),
        ("issued_at", "2026-01-01T00:00:01.000000Z"),
        ("args", {"x": 1}),
    ]:
        assert envelope_hash(_envelope(**{field: value})) != reference, field


def test_envelope_normalises_text_to_nfc() -> None:
    a = intent_envelope("café", agent_id="a", action_type="x", nonce="n", issued_at=datetime(2026, 1, 1))
    b = intent_envelope(
        "cafe\u0301", agent_id="a", action_type="x", nonce="n", issued_at=datetime(2026, 1, 1)
    )
    assert envelope_hash(a) == envelope_hash(b)


def test_envelope_version_is_checked() -> None:
    with pytest.raises(ValueError, match="version"):
        envelope_hash(_envelope(v=2))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: st.lists(children) | st.dictionaries(st.text(), children),
    max_leaves=20,
)


def _same(a: object, b: object) -> bool:
    """Equal as JSON values: numbers compare as IEEE doubles, as JCS defines them."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)) and not isinstance(a, bool):
        return float(a) == float(b)
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return a == b


@given(JSON)
def test_canonical_json_round_trips_and_is_key_order_independent(value: object) -> None:
    encoded = canonical_json(value)
    assert _same(json.loads(encoded), value)
    if isinstance(value, dict):
        reordered = dict(reversed(list(value.items())))
        assert canonical_json(reordered) == encoded


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ({"b": 1, "a": [True, None, "x"]}, b'{"a":[true,null,"x"],"b":1}'),
        (1.0, b"1"),
        (1e-7, b"1e-7"),
        (1e21, b"1e+21"),
        (123456789012345680000.0, b"123456789012345680000"),
        (0.000001, b"0.000001"),
        ("é\n", '"é\\n"'.encode()),
        ({"\u20ac": 1, "\r": 2}, '{"\\r":2,"\u20ac":1}'.encode()),
    ],
)
def test_canonical_json_known_forms(value: object, expected: bytes) -> None:
    assert canonical_json(value) == expected


def test_canonical_json_refuses_nan() -> None:
    with pytest.raises(ValueError, match="NaN"):
        canonical_json(float("nan"))
