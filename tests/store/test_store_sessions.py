"""Sessions and messages, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC
from typing import Any

import pytest
from sqlalchemy import func, select, text

from vaos.store import Database, SessionNotFoundError, SessionStore, SignalStore
from vaos.store.models import MessageModel


async def test_session_and_messages_round_trip(db: Database) -> None:
    store = SessionStore(db)
    created = await store.create_session(
        channel="http", title="First chat", meta={"user": "ana", "n": [1, 2]}
    )
    assert len(created.id) == 32
    assert int(created.id, 16) >= 0
    assert created.created_at.tzinfo is UTC

    fetched = await store.get_session(created.id)
    assert fetched == created
    assert fetched is not None
    assert fetched.meta == {"user": "ana", "n": [1, 2]}

    first = await store.append_message(created.id, "user", "hello ✓ — ünïcode", tokens_in=3)
    second = await store.append_message(
        created.id, "assistant", "hi " * 10_000, tokens_out=7, meta={"model": "smollm2"}
    )
    assert second.id > first.id

    messages = await store.list_messages(created.id)
    assert messages == [first, second]
    assert messages[0].content == "hello ✓ — ünïcode"
    assert messages[1].content == "hi " * 10_000
    assert (messages[1].tokens_in, messages[1].tokens_out, messages[1].meta) == (0, 7, {"model": "smollm2"})
    assert await store.count_messages(created.id) == 2
    assert await store.list_messages(created.id, after_id=first.id) == [second]
    assert await store.list_messages(created.id, limit=1) == [first]

    touched = await store.get_session(created.id)
    assert touched is not None
    assert touched.updated_at >= second.created_at
    assert touched.to_dict()["metadata"] == {"user": "ana", "n": [1, 2]}


async def test_list_sessions_most_recent_first(db: Database) -> None:
    store = SessionStore(db)
    a = await store.create_session(channel="cli", title="a")
    b = await store.create_session(channel="http", title="b")
    c = await store.create_session(channel="cli", title="c")
    await store.append_message(a.id, "user", "bump a")
    listed = await store.list_sessions()
    assert [s.id for s in listed] == [a.id, c.id, b.id]
    assert [s.id for s in await store.list_sessions(channel="cli")] == [a.id, c.id]
    assert [s.id for s in await store.list_sessions(limit=1, offset=1)] == [c.id]


async def test_caller_chosen_session_id(db: Database) -> None:
    store = SessionStore(db)
    created = await store.create_session(session_id="telegram:42", channel="telegram")
    assert created.id == "telegram:42"
    with pytest.raises(ValueError, match="already exists"):
        await store.create_session(session_id="telegram:42", channel="other")
    kept = await store.get_session("telegram:42")
    assert kept is not None
    assert kept.channel == "telegram"


async def test_cascade_delete_removes_messages_and_detaches_signals(db: Database) -> None:
    store = SessionStore(db)
    signals = SignalStore(db)
    doomed = await store.create_session()
    kept = await store.create_session()
    for i in range(3):
        await store.append_message(doomed.id, "user", f"m{i}")
    await store.append_message(kept.id, "user", "stays")
    signal = await signals.insert(
        {
            "channel": "cli",
            "mode": "assist",
            "genre": "inform",
            "format": "message",
            "weight": 0.2,
            "session_id": doomed.id,
        }
    )

    # The database itself cascades (not the ORM): delete with plain SQL.
    async with db.session() as s:
        await s.execute(text("DELETE FROM sessions WHERE id = :id"), {"id": doomed.id})

    assert await store.get_session(doomed.id) is None
    assert await store.list_messages(doomed.id) == []
    async with db.session() as s:
        orphans = await s.scalar(
            select(func.count()).select_from(MessageModel).where(MessageModel.session_id == doomed.id)
        )
    assert orphans == 0
    assert [m.content for m in await store.list_messages(kept.id)] == ["stays"]
    detached = await signals.get(signal.id)
    assert detached is not None
    assert detached.session_id is None


async def test_delete_session_through_the_store(db: Database) -> None:
    store = SessionStore(db)
    created = await store.create_session()
    await store.append_message(created.id, "user", "x")
    assert await store.delete_session(created.id) is True
    assert await store.delete_session(created.id) is False
    assert await store.count_messages(created.id) == 0


async def test_message_to_unknown_session(db: Database) -> None:
    store = SessionStore(db)
    with pytest.raises(SessionNotFoundError, match="nope"):
        await store.append_message("nope", "user", "hello")
    assert await store.get_session("nope") is None


@pytest.mark.parametrize(
    ("role", "content", "kwargs", "match"),
    [
        ("robot", "x", {}, "role"),
        ("", "x", {}, "role"),
        ("user", None, {}, "content"),
        ("user", b"bytes", {}, "content"),
        ("user", "x", {"tokens_in": -1}, "tokens_in"),
        ("user", "x", {"tokens_out": 1.5}, "tokens_out"),
        ("user", "x", {"tokens_in": True}, "tokens_in"),
        ("user", "x", {"meta": ["not", "a", "dict"]}, "metadata"),
        ("user", "x", {"meta": {1: "int key"}}, "metadata"),
    ],
)
async def test_bad_messages_are_refused_and_nothing_is_lost(
    db: Database, role: Any, content: Any, kwargs: dict[str, Any], match: str
) -> None:
    store = SessionStore(db)
    session = await store.create_session(title="keep me")
    good = await store.append_message(session.id, "user", "original")
    with pytest.raises(ValueError, match=match):
        await store.append_message(session.id, role, content, **kwargs)
    assert await store.list_messages(session.id) == [good]
    assert await store.get_session(session.id) is not None


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"channel": ""}, "channel"),
        ({"channel": "x" * 65}, "channel"),
        ({"title": "t" * 501}, "title"),
        ({"session_id": ""}, "session id"),
        ({"session_id": "has space"}, "session id"),
        ({"session_id": "x" * 65}, "session id"),
        ({"meta": "nope"}, "metadata"),
    ],
)
async def test_bad_sessions_are_refused(db: Database, kwargs: dict[str, Any], match: str) -> None:
    store = SessionStore(db)
    existing = await store.create_session(title="existing")
    with pytest.raises(ValueError, match=match):
        await store.create_session(**kwargs)
    assert await store.list_sessions() == [existing]


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (1001, 0), (10, -1), ("10", 0), (True, 0)])
async def test_bad_paging_is_refused(db: Database, limit: Any, offset: Any) -> None:
    with pytest.raises(ValueError, match=r"limit|offset"):
        await SessionStore(db).list_sessions(limit=limit, offset=offset)


async def test_concurrent_appends_to_one_session(db: Database) -> None:
    store = SessionStore(db)
    session = await store.create_session()
    stored = await asyncio.gather(*(store.append_message(session.id, "user", f"m{i}") for i in range(50)))
    assert len({m.id for m in stored}) == 50
    listed = await store.list_messages(session.id)
    assert sorted(m.content for m in listed) == sorted(f"m{i}" for i in range(50))
    assert [m.id for m in listed] == sorted(m.id for m in stored)


async def test_concurrent_session_creation(db: Database) -> None:
    store = SessionStore(db)
    created = await asyncio.gather(*(store.create_session(title=f"s{i}") for i in range(50)))
    assert len({s.id for s in created}) == 50
    assert len(await store.list_sessions(limit=100)) == 50
