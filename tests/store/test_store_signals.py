"""Signals: validation, insert, list, filters, stats and the database's own CHECKs."""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.exc import IntegrityError

from vaos.store import Database, SessionStore, SignalRecord, SignalStore, StoredSignal, tier_for_weight
from vaos.store.models import SignalModel

MakeSignal = Callable[..., dict[str, Any]]


async def _all_rows(db: Database) -> list[StoredSignal]:
    async with db.session() as s:
        rows = await s.scalars(select(SignalModel).order_by(SignalModel.id))
        return [StoredSignal.from_model(row) for row in rows]


# --- SignalRecord -------------------------------------------------------------------------


def test_record_from_the_interface_signal_object() -> None:
    """INTERFACES.md section 4, as the classifier produces it."""
    record = SignalRecord.from_dict(
        {
            "mode": "analyze",
            "genre": "inform",
            "type": "question",
            "format": "message",
            "weight": 0.42,
            "confidence": "medium",
            "tier": "specialist",
            "noise": {"verdict": "pass", "reply": None},
            "intent_hash": "ab" * 32,
            "classifier": "llm",
            "channel": "http",
            "input": "why " * 100,
            "metadata": {"source": "api"},
        }
    )
    assert record.noise_verdict == "pass"
    assert record.classifier == "llm"
    assert record.input_preview == ("why " * 100)[:200]
    assert record.meta == {"source": "api"}
    assert record.tier == "specialist"


def test_record_defaults_and_derived_tier(make_signal: MakeSignal) -> None:
    minimal = {"channel": "cli", "mode": "build", "genre": "direct", "format": "command", "weight": 0.9}
    record = SignalRecord.from_dict(minimal)
    assert (record.type, record.confidence, record.classifier, record.noise_verdict) == (
        "general",
        "high",
        "deterministic",
        "pass",
    )
    assert record.tier == "elite"
    assert record.meta == {}
    assert record.column_values()["tier"] == "elite"
    assert SignalRecord.from_dict(make_signal(weight=1)).weight == 1.0


@pytest.mark.parametrize(
    ("weight", "tier"),
    [
        (0.0, "utility"),
        (0.3499, "utility"),
        (0.35, "specialist"),
        (0.6499, "specialist"),
        (0.65, "elite"),
        (1.0, "elite"),
    ],
)
def test_tier_for_weight(weight: float, tier: str) -> None:
    assert tier_for_weight(weight) == tier


def test_enum_members_are_stored_as_their_values(make_signal: MakeSignal) -> None:
    class Mode(enum.StrEnum):
        MAINTAIN = "maintain"

    record = SignalRecord.from_dict(make_signal(mode=Mode.MAINTAIN))
    assert record.mode == "maintain"
    assert type(record.column_values()["mode"]) is str


BAD_SIGNALS: list[tuple[dict[str, Any], str]] = [
    ({"weight": 1.5}, "weight"),
    ({"weight": -0.01}, "weight"),
    ({"weight": float("nan")}, "weight"),
    ({"weight": float("inf")}, "weight"),
    ({"weight": "0.5"}, "weight"),
    ({"weight": True}, "weight"),
    ({"weight": None}, "weight"),
    ({"mode": "destroy"}, "mode"),
    ({"mode": "BUILD"}, "mode"),
    ({"genre": "shout"}, "genre"),
    ({"type": "gossip"}, "type"),
    ({"format": "text"}, "format"),
    ({"tier": "opus"}, "tier"),
    ({"confidence": "certain"}, "confidence"),
    ({"classifier": "oracle"}, "classifier"),
    ({"noise_verdict": "maybe"}, "noise_verdict"),
    ({"noise": {"verdict": "maybe"}}, "noise_verdict"),
    ({"noise": "pass"}, "noise"),
    ({"noise": {"verdict": "filtered"}, "noise_verdict": "pass"}, "disagree"),
    ({"intent_hash": "xyz"}, "intent_hash"),
    ({"intent_hash": "A" * 64}, "intent_hash"),
    ({"intent_hash": "0" * 63}, "intent_hash"),
    ({"channel": ""}, "channel"),
    ({"channel": None}, "channel"),
    ({"session_id": "bad id!"}, "session"),
    ({"input": 42}, "input"),
    ({"metadata": "nope"}, "metadata"),
    ({"wieght": 0.5}, "wieght"),
]


@pytest.mark.parametrize(("overrides", "match"), BAD_SIGNALS)
def test_bad_records_raise_value_error(
    make_signal: MakeSignal, overrides: dict[str, Any], match: str
) -> None:
    with pytest.raises(ValueError, match=match):
        SignalRecord.from_dict(make_signal(**overrides))


@pytest.mark.parametrize("missing", ["channel", "mode", "genre", "format", "weight"])
def test_required_fields(make_signal: MakeSignal, missing: str) -> None:
    data = make_signal()
    del data[missing]
    with pytest.raises(ValueError, match=missing):
        SignalRecord.from_dict(data)


def test_a_non_mapping_is_refused() -> None:
    with pytest.raises(ValueError, match="mapping"):
        SignalRecord.from_dict(["mode", "build"])  # type: ignore[arg-type]


# --- SignalStore --------------------------------------------------------------------------


async def test_insert_and_read_back(db: Database, make_signal: MakeSignal) -> None:
    store = SignalStore(db)
    session = await SessionStore(db).create_session()
    stored = await store.insert(
        make_signal(session_id=session.id, weight=0.77, input_preview="é" * 300, metadata={"source": "cli"})
    )
    assert stored.id > 0
    assert stored.tier == "elite"
    assert stored.session_id == session.id
    assert stored.input_preview == "é" * 200
    assert stored.intent_hash == "0" * 64
    assert stored.created_at.utcoffset() is not None
    assert await store.get(stored.id) == stored
    assert await store.get(stored.id + 1000) is None
    assert stored.to_dict()["metadata"] == {"source": "cli"}

    record = SignalRecord.from_dict(make_signal(mode="maintain"))
    assert (await store.insert(record)).mode == "maintain"


async def test_list_newest_first_with_filters_and_paging(db: Database, make_signal: MakeSignal) -> None:
    store = SignalStore(db)
    session = await SessionStore(db).create_session()
    specs = [
        ("build", 0.9, None),
        ("assist", 0.1, session.id),
        ("build", 0.5, session.id),
        ("analyze", 0.66, None),
        ("build", 0.2, None),
    ]
    inserted = [
        await store.insert(make_signal(mode=mode, weight=weight, session_id=sid))
        for mode, weight, sid in specs
    ]
    ids = [s.id for s in inserted]

    assert [s.id for s in await store.list_signals()] == ids[::-1]
    assert [s.id for s in await store.list_signals(mode="build")] == [ids[4], ids[2], ids[0]]
    assert [s.id for s in await store.list_signals(tier="elite")] == [ids[3], ids[0]]
    assert [s.id for s in await store.list_signals(tier="utility")] == [ids[4], ids[1]]
    assert [s.id for s in await store.list_signals(session_id=session.id)] == [ids[2], ids[1]]
    assert [s.id for s in await store.list_signals(mode="build", tier="specialist")] == [ids[2]]
    assert [s.id for s in await store.list_signals(limit=2)] == [ids[4], ids[3]]
    assert [s.id for s in await store.list_signals(limit=2, offset=2)] == [ids[2], ids[1]]
    assert await store.list_signals(offset=10) == []
    assert await store.list_signals(mode="maintain") == []

    assert await store.count() == 5
    assert await store.count(mode="build") == 3
    assert await store.count(tier="elite", mode="build") == 1
    assert await store.count(session_id=session.id) == 2


async def test_stats(db: Database, make_signal: MakeSignal) -> None:
    store = SignalStore(db)
    empty = await store.stats()
    assert empty["total"] == 0
    assert empty["avg_weight"] == 0.0
    assert set(empty["by_mode"].values()) == {0}
    assert empty["by_tier"] == {"utility": 0, "specialist": 0, "elite": 0}

    session = await SessionStore(db).create_session()
    for mode, weight in [("build", 0.9), ("build", 0.1), ("assist", 0.5), ("analyze", 0.2)]:
        await store.insert(
            make_signal(mode=mode, weight=weight, session_id=session.id if mode == "build" else None)
        )
    stats = await store.stats()
    assert stats == {
        "total": 4,
        "avg_weight": 0.425,
        "by_mode": {"execute": 0, "build": 2, "analyze": 1, "maintain": 0, "assist": 1},
        "by_tier": {"utility": 2, "specialist": 1, "elite": 1},
    }
    in_session = await store.stats(session_id=session.id)
    assert (in_session["total"], in_session["avg_weight"]) == (2, 0.5)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"mode": "destroy"},
        {"tier": "opus"},
        {"session_id": "bad id"},
        {"limit": 0},
        {"limit": 5000},
        {"offset": -1},
    ],
)
async def test_bad_filters_are_refused(db: Database, kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError, match=r"mode|tier|session|limit|offset"):
        await SignalStore(db).list_signals(**kwargs)


@pytest.mark.parametrize(("overrides", "match"), BAD_SIGNALS)
async def test_bad_input_raises_and_keeps_existing_rows(
    db: Database, make_signal: MakeSignal, overrides: dict[str, Any], match: str
) -> None:
    store = SignalStore(db)
    good = await store.insert(make_signal())
    with pytest.raises(ValueError, match=match):
        await store.insert(make_signal(**overrides))
    assert await _all_rows(db) == [good]


async def test_unknown_session_is_a_value_error(db: Database, make_signal: MakeSignal) -> None:
    store = SignalStore(db)
    good = await store.insert(make_signal())
    with pytest.raises(ValueError, match="unknown session"):
        await store.insert(make_signal(session_id="does-not-exist"))
    assert await _all_rows(db) == [good]


async def test_concurrent_inserts_are_all_stored(db: Database, make_signal: MakeSignal) -> None:
    store = SignalStore(db)
    weights = [i / 49 for i in range(50)]
    stored = await asyncio.gather(
        *(store.insert(make_signal(weight=w, input_preview=f"n{i}")) for i, w in enumerate(weights))
    )
    assert len({s.id for s in stored}) == 50
    assert await store.count() == 50
    rows = await _all_rows(db)
    assert sorted(r.input_preview or "" for r in rows) == sorted(f"n{i}" for i in range(50))
    assert sorted(r.weight for r in rows) == pytest.approx(sorted(weights))


# --- the database's own constraints -------------------------------------------------------

_INSERT = text(
    "INSERT INTO signals"
    " (channel, mode, genre, type, format, weight, tier, confidence, classifier, noise_verdict) VALUES"
    " (:channel, :mode, :genre, :type, :format, :weight, :tier, :confidence, :classifier, :noise_verdict)"
)
_VALID_ROW: dict[str, Any] = {
    "channel": "cli",
    "mode": "build",
    "genre": "direct",
    "type": "request",
    "format": "command",
    "weight": 0.5,
    "tier": "specialist",
    "confidence": "high",
    "classifier": "deterministic",
    "noise_verdict": "pass",
}


async def test_raw_valid_row_uses_server_defaults(db: Database) -> None:
    async with db.session() as s:
        await s.execute(_INSERT, _VALID_ROW)
    (row,) = await _all_rows(db)
    assert row.meta == {}
    assert row.created_at.utcoffset() is not None


@pytest.mark.parametrize(
    ("column", "value"),
    [
        ("mode", "destroy"),
        ("genre", "shout"),
        ("type", "gossip"),
        ("format", "text"),
        ("tier", "opus"),
        ("confidence", "certain"),
        ("classifier", "oracle"),
        ("noise_verdict", "maybe"),
        ("weight", 1.5),
        ("weight", -0.1),
        ("channel", None),
        ("mode", None),
    ],
)
async def test_check_constraints_reject_bad_rows(db: Database, column: str, value: Any) -> None:
    async with db.session() as s:
        await s.execute(_INSERT, _VALID_ROW)
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            await s.execute(_INSERT, {**_VALID_ROW, column: value})
    async with db.session() as s:
        assert await s.scalar(select(func.count()).select_from(SignalModel)) == 1


async def test_message_role_and_tokens_checked_by_the_database(db: Database) -> None:
    session = await SessionStore(db).create_session()
    insert = text(
        "INSERT INTO messages (session_id, role, content, tokens_in) VALUES (:sid, :role, 'x', :tokens)"
    )
    for role, tokens in [("robot", 0), ("user", -1)]:
        with pytest.raises(IntegrityError):
            async with db.session() as s:
                await s.execute(insert, {"sid": session.id, "role": role, "tokens": tokens})
    with pytest.raises(IntegrityError):
        async with db.session() as s:
            await s.execute(insert, {"sid": "missing", "role": "user", "tokens": 0})
    assert await SessionStore(db).count_messages(session.id) == 0
