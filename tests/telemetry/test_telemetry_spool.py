"""The on-disk spool: order, durability across reopen, prepend, limits, torn writes."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaos.governance.spool import (
    SEGMENT_SUFFIX,
    Item,
    Spool,
    SpoolBusyError,
    decode_item,
    encode_item,
    inspect,
)


def items(start: int, stop: int) -> list[Item]:
    return [(f"id{i:05d}", f"events.tool_call.{i}", b'{"i":%d}' % i) for i in range(start, stop)]


def drain(spool: Spool, batch: int = 7) -> list[Item]:
    out: list[Item] = []
    while spool.pending:
        got = spool.peek(batch)
        if not got:
            break
        out.extend(got)
        spool.commit(len(got))
    return out


def test_round_trip_of_one_line() -> None:
    item = ("abc", "status.agent-1", b'{"a":"b\\tc"}')
    assert decode_item(encode_item(item)) == item
    assert decode_item(b"abc\tstatus\t{") is None  # torn: no newline
    with pytest.raises(ValueError, match="one line"):
        encode_item(("a", "b", b"{\n}"))


def test_fifo_across_segments_and_reopen(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=10**7, segment_bytes=300)
    for start in range(0, 100, 10):
        assert spool.append(items(start, start + 10)) == 10
    assert spool.pending == 100
    assert len(list(tmp_path.glob(f"*{SEGMENT_SUFFIX}"))) > 1
    first = spool.peek(25)
    spool.commit(20)  # five were peeked but not confirmed: they stay
    spool.close()

    again = Spool.open(tmp_path, max_bytes=10**7, segment_bytes=300)
    assert again.pending == 80
    rest = drain(again)
    assert [i[0] for i in first[:20] + rest] == [f"id{i:05d}" for i in range(100)]
    assert again.pending == 0 and again.size_bytes == 0
    assert list(tmp_path.glob(f"*{SEGMENT_SUFFIX}")) == []  # drained segments are deleted
    again.close()


def test_prepend_goes_before_everything(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=10**7)
    spool.append(items(10, 20))
    spool.peek(3)
    spool.commit(3)  # 13..19 left in a partly drained segment
    spool.prepend(items(0, 10))
    assert [i[0] for i in drain(spool, 4)] == [f"id{i:05d}" for i in [*range(10), *range(13, 20)]]
    spool.close()


def test_limit_refuses_what_does_not_fit(tmp_path: Path) -> None:
    line = len(encode_item(items(0, 1)[0]))
    spool = Spool.open(tmp_path, max_bytes=line * 5 + 3)
    assert spool.append(items(0, 8)) == 5
    assert spool.append(items(8, 9)) == 0
    assert spool.pending == 5
    spool.peek(5)
    spool.commit(5)
    assert spool.append(items(9, 10)) == 1  # room again once drained
    spool.close()


def test_torn_write_is_skipped_and_counted(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=10**7)
    spool.append(items(0, 3))
    spool.close()
    segment = next(tmp_path.glob(f"*{SEGMENT_SUFFIX}"))
    with segment.open("ab") as f:
        f.write(b'id99999\tevents.x\t{"half')  # a crash in the middle of a write
    again = Spool.open(tmp_path, max_bytes=10**7)
    assert again.pending == 3
    again.append(items(3, 5))  # a new process never appends after a torn line
    assert [i[0] for i in drain(again)] == [f"id{i:05d}" for i in range(5)]
    assert again.corrupt == 1
    again.close()


def test_one_owner_at_a_time(tmp_path: Path) -> None:
    spool = Spool.open(tmp_path, max_bytes=10**6)
    with pytest.raises(SpoolBusyError, match="in use"):
        Spool.open(tmp_path, max_bytes=10**6)
    spool.close()
    Spool.open(tmp_path, max_bytes=10**6).close()


def test_inspect_without_the_lock(tmp_path: Path) -> None:
    assert inspect(tmp_path / "absent").pending == 0
    spool = Spool.open(tmp_path, max_bytes=10**7)
    spool.append(items(0, 12))
    spool.peek(2)
    spool.commit(2)
    info = inspect(tmp_path)
    assert (info.pending, info.segments) == (10, 1)
    assert info.bytes == spool.size_bytes
    spool.close()
