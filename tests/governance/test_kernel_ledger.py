"""The audit ledger: every kind of tampering on a 10,000-record ledger is detected and the
first bad record is named; torn writes are reported and recovered, never accepted."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path

import orjson
import pytest
from hypothesis import given
from hypothesis import strategies as st
from kernel_helpers import INTENT, run_vaos, verify

from vaos._canonical_json import canonical_json
from vaos.governance.errors import LedgerError, LedgerLocked
from vaos.governance.keys import KeyStore, b64url
from vaos.governance.ledger import Ledger, LedgerWriter, encode, read_records
from vaos.governance.ledger_verify import (
    CHECKPOINTS_FILE,
    RECORD_DOMAIN,
    RECORD_PREFIX,
    RECORDS_FILE,
    envelope,
    split_envelope,
)

SIZE = 10_000
BATCH = 100


def _entry(i: int) -> dict[str, object]:
    kinds = ("audit_confirmed", "routing_log", "tokens_issued", "token_refused")
    return {
        "kind": kinds[i % 4],
        "outcome": "recorded",
        "agent_id": "vaos" if i % 3 else "coder",
        "action_type": "file_read",
        "intent_hash": INTENT,
        "data": {"i": i, "context": {"path": f"/tmp/file-{i}", "note": "héllo ✓"}},
    }


@pytest.fixture(scope="module")
def big_ledger(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A home with keys and a ledger of 10,000 records in 100 commits (built once)."""
    home = tmp_path_factory.mktemp("big-ledger")
    writer = LedgerWriter.open(home / "ledger", KeyStore.open(home / "keys"))
    for start in range(0, SIZE, BATCH):
        writer.append_many([_entry(i) for i in range(start, start + BATCH)])
    writer.close()
    return home


@pytest.fixture
def home(big_ledger: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "home"
    shutil.copytree(big_ledger, copy)
    return copy


def lines(home: Path, name: str = RECORDS_FILE) -> list[bytes]:
    return (home / "ledger" / name).read_bytes().splitlines(keepends=True)


def write_lines(home: Path, content: list[bytes], name: str = RECORDS_FILE) -> None:
    (home / "ledger" / name).write_bytes(b"".join(content))


def test_intact_ledger_verifies_in_both_modes(home: Path) -> None:
    for full in (False, True):
        report = verify(home, full=full)
        assert report.ok, report.problem
        assert (report.records, report.checkpoints, report.covered) == (SIZE, SIZE // BATCH, SIZE)
        assert report.warnings == [] and report.torn_tail == []
    assert verify(home).signatures_checked == 2  # chain mode: last checkpoint + head
    assert verify(home, full=True).signatures_checked == SIZE + SIZE // BATCH


def _edit_byte(target: int, find: bytes, replace: bytes) -> Callable[[list[bytes]], None]:
    def edit(content: list[bytes]) -> None:
        line = content[target - 1]
        at = line.index(find)
        assert len(find) == len(replace) == 1 or find != replace
        content[target - 1] = line[:at] + replace + line[at + len(find) :]

    return edit


# (edit of records.jsonl, the seq or line named, words in the reason)
BYTE_EDITS = {
    "a value in a middle record": (_edit_byte(5000, b"vaos", b"vaoz"), 5000, "signature does not verify"),
    "a value in the first record": (_edit_byte(1, b"file-0", b"file-1"), 1, "signature does not verify"),
    "a value in the last record": (_edit_byte(SIZE, b"file-", b"fileX"), SIZE, "signature does not verify"),
    "a digit of seq": (_edit_byte(7777, b'"seq":7777', b'"seq":7776'), 7777, "expected record seq 7777"),
    "a byte of the signature": (_edit_byte(3333, b'"sig":"', b'"sig":"'[:-1] + b'"'), 3333, ""),
    "a quote (breaks the JSON)": (_edit_byte(42, b'"kind"', b"'kind\""), 42, "not a valid ledger record"),
    "a byte of the prev hash": (_edit_byte(9000, b'"prev":"', b'"prev":"'), 9000, ""),
}


def _flip_signature_char(content: list[bytes]) -> None:
    line = content[3332]
    at = line.index(b'"sig":"') + len(b'"sig":"') + 40
    content[3332] = line[:at] + (b"A" if line[at : at + 1] != b"A" else b"B") + line[at + 1 :]


def _flip_prev_char(content: list[bytes]) -> None:
    line = content[8999]
    at = line.index(b'"prev":"') + len(b'"prev":"') + 10
    content[8999] = line[:at] + (b"0" if line[at : at + 1] != b"0" else b"1") + line[at + 1 :]


BYTE_EDITS["a byte of the signature"] = (_flip_signature_char, 3333, "signature does not verify")
BYTE_EDITS["a byte of the prev hash"] = (_flip_prev_char, 9000, "signature does not verify")


@pytest.mark.parametrize("case", sorted(BYTE_EDITS))
def test_one_byte_edited_is_detected(home: Path, case: str) -> None:
    edit, named, reason = BYTE_EDITS[case]
    content = lines(home)
    before = sum(map(len, content))
    edit(content)
    assert sum(map(len, content)) == before  # one byte changed, nothing added or removed
    write_lines(home, content)
    report = verify(home)
    assert not report.ok
    assert report.problem is not None
    assert named in (report.problem.seq, report.problem.line), report.problem
    assert reason in report.problem.reason


def test_deleted_record_is_detected(home: Path) -> None:
    content = lines(home)
    del content[4320]  # seq 4321
    write_lines(home, content)
    problem = verify(home).problem
    assert problem is not None and problem.seq == 4322 and problem.line == 4321
    assert "expected record seq 4321, found seq 4322" in problem.reason


def test_deleted_first_record_is_detected(home: Path) -> None:
    write_lines(home, lines(home)[1:])
    problem = verify(home).problem
    assert problem is not None and "expected record seq 1, found seq 2" in problem.reason


def test_swapped_records_are_detected(home: Path) -> None:
    content = lines(home)
    content[5999], content[6000] = content[6000], content[5999]
    write_lines(home, content)
    problem = verify(home).problem
    assert problem is not None and problem.line == 6000 and problem.seq == 6001
    assert "expected record seq 6000, found seq 6001" in problem.reason


@pytest.mark.parametrize("cut", ["whole records", "mid-line"])
def test_truncated_tail_is_detected(home: Path, cut: str) -> None:
    content = lines(home)[: SIZE - 7]
    if cut == "mid-line":
        content.append(lines(home)[SIZE - 7][:50])
    write_lines(home, content)
    report = verify(home)
    assert not report.ok and report.problem is not None
    assert "truncated: the last checkpoint covers 10000 records, the ledger has 9993" in report.problem.reason
    with pytest.raises(LedgerError, match="truncated"):
        LedgerWriter.open(home / "ledger", KeyStore.open(home / "keys"))


@pytest.mark.parametrize("keep_kid", [True, False], ids=["same kid", "own kid"])
def test_record_resigned_with_another_key_is_detected(home: Path, keep_kid: bool) -> None:
    other = KeyStore.open(home / "other-keys")
    content = lines(home)
    body, _ = split_envelope(content[2999].rstrip(b"\n"), RECORD_PREFIX)  # type: ignore[misc]
    record = orjson.loads(body)
    if not keep_kid:
        record["kid"] = other.active.kid
    body = encode(record)
    _, signature = other.sign(RECORD_DOMAIN + body)
    content[2999] = envelope(RECORD_PREFIX, body, b64url(signature)) + b"\n"
    write_lines(home, content)
    for full in (False, True):
        problem = verify(home, full=full).problem
        assert problem is not None and problem.seq == 3000
        assert ("signature does not verify" if keep_kid else "signed with unknown key") in problem.reason


def test_forged_record_inserted_is_detected(home: Path) -> None:
    content = lines(home)
    content.insert(500, content[499])  # a duplicate, perfectly signed
    write_lines(home, content)
    problem = verify(home).problem
    assert problem is not None and problem.line == 501 and "found seq 500" in problem.reason


def test_checkpoint_tampering_is_detected(home: Path) -> None:
    original = lines(home, CHECKPOINTS_FILE)
    deleted = original[:40] + original[41:]
    write_lines(home, deleted, CHECKPOINTS_FILE)
    problem = verify(home).problem
    assert (
        problem is not None
        and problem.file == CHECKPOINTS_FILE
        and "expected checkpoint #41" in problem.reason
    )

    edited = list(original)
    edited[10] = edited[10].replace(b'"count":1100', b'"count":1101')
    write_lines(home, edited, CHECKPOINTS_FILE)
    assert not verify(home).ok

    write_lines(home, original[:-1], CHECKPOINTS_FILE)  # the last checkpoint removed: still consistent
    report = verify(home)
    assert report.ok and report.covered == SIZE - BATCH
    assert "100 record(s) after the last checkpoint" in report.warnings[0]


def test_cli_names_the_first_bad_record(home: Path) -> None:
    content = lines(home)
    content[1233] = content[1233].replace(b"/tmp/file-1233", b"/tmp/file-9999")
    write_lines(home, content)
    keys = home / "jwks.json"
    keys.write_bytes(orjson.dumps({"keys": [k.jwk() for k in KeyStore.open(home / "keys").keys.values()]}))
    args = ["audit", "verify", "--ledger", str(home / "ledger"), "--keys", str(keys)]
    result = run_vaos(*args)
    assert result.returncode == 1
    assert "TAMPERED: record seq 1234 (records.jsonl line 1234): signature does not verify" in result.stdout
    result = run_vaos(*args, "--json")
    assert result.returncode == 1 and orjson.loads(result.stdout)["problem"]["seq"] == 1234
    # The same ledger with the home's own keys (no --keys): the default key source.
    env = {"VAOS_HOME": str(home)}
    assert run_vaos("audit", "verify", env=env).returncode == 1
    (home / "ledger" / RECORDS_FILE).write_bytes(b"".join(lines(home)[:1233]))
    assert "truncated" in run_vaos("audit", "verify", env=env).stdout


# -- torn writes and recovery ----------------------------------------------------------------


def small_ledger(home: Path, n: int = 5) -> KeyStore:
    keystore = KeyStore.open(home / "keys")
    writer = LedgerWriter.open(home / "ledger", keystore)
    for i in range(n):
        writer.append_many([_entry(i)])
    writer.close()
    return keystore


def test_torn_final_write_is_reported_then_recovered(vaos_home: Path) -> None:
    keystore = small_ledger(vaos_home)
    torn = envelope(RECORD_PREFIX, encode({"v": 1, "seq": 6}), "x" * 86)[:37]
    with (vaos_home / "ledger" / RECORDS_FILE).open("ab") as f:
        f.write(torn)

    report = verify(vaos_home)
    assert report.ok and report.records == 5
    assert report.torn_tail[0]["length"] == len(torn) and report.torn_tail[0]["partial_line"]
    assert "torn final write" in report.warnings[0]

    writer = LedgerWriter.open(vaos_home / "ledger", keystore)
    assert writer.recovered is not None and writer.recovered["torn"]["length"] == len(torn)
    writer.append_many([_entry(99)])
    writer.close()
    report = verify(vaos_home, full=True)
    assert report.ok and report.records == 7 and report.torn_tail == []
    assert report.recovered[0]["recovered_by_seq"] == 6
    kinds = [r["kind"] for r in read_records(vaos_home / "ledger")]
    assert kinds[-2:] == ["ledger_recovered", "token_refused"]


def test_torn_checkpoint_is_reported_then_recovered(vaos_home: Path) -> None:
    keystore = small_ledger(vaos_home)
    with (vaos_home / "ledger" / CHECKPOINTS_FILE).open("ab") as f:
        f.write(b'{"checkpoint":{"v":1,"n":6,"cou')
    report = verify(vaos_home)
    assert report.ok and report.torn_tail[0]["file"] == CHECKPOINTS_FILE
    LedgerWriter.open(vaos_home / "ledger", keystore).close()
    report = verify(vaos_home, full=True)
    assert report.ok and report.recovered[0]["file"] == CHECKPOINTS_FILE and report.torn_tail == []


def test_crash_between_records_and_checkpoint(vaos_home: Path) -> None:
    keystore = small_ledger(vaos_home)
    writer = LedgerWriter.open(vaos_home / "ledger", keystore)
    batch = writer.prepare([_entry(7), _entry(8)])
    with (vaos_home / "ledger" / RECORDS_FILE).open("ab") as f:
        f.write(batch.lines)  # records on disk, the checkpoint never written, nothing acknowledged
    writer.close()
    report = verify(vaos_home)
    assert report.ok and (report.records, report.covered) == (7, 5)
    assert "2 record(s) after the last checkpoint" in report.warnings[0]
    LedgerWriter.open(vaos_home / "ledger", keystore).close()  # the restart covers them
    report = verify(vaos_home)
    assert report.ok and (report.records, report.covered) == (7, 7) and report.warnings == []


def test_first_write_torn_is_recovered(vaos_home: Path) -> None:
    keystore = KeyStore.open(vaos_home / "keys")
    (vaos_home / "ledger").mkdir()
    (vaos_home / "ledger" / RECORDS_FILE).write_bytes(b'{"record":{"v":1,"se')
    writer = LedgerWriter.open(vaos_home / "ledger", keystore)
    assert writer.seq == 1
    writer.close()
    report = verify(vaos_home)
    assert report.ok and report.records == 1 and report.recovered[0]["offset"] == 0


def test_garbage_in_the_middle_is_tampering_not_a_torn_write(vaos_home: Path) -> None:
    small_ledger(vaos_home)
    content = lines(vaos_home)
    content.insert(2, b"garbage\n")
    write_lines(vaos_home, content)
    problem = verify(vaos_home).problem
    assert problem is not None and problem.line == 3 and "not a valid ledger record" in problem.reason


def test_recovery_record_cannot_bless_other_bytes(vaos_home: Path) -> None:
    keystore = small_ledger(vaos_home)
    with (vaos_home / "ledger" / RECORDS_FILE).open("ab") as f:
        f.write(b"torn")
    LedgerWriter.open(vaos_home / "ledger", keystore).close()
    content = lines(vaos_home)
    content[5] = b"tore\n"  # the torn line, changed after the recovery named it
    write_lines(vaos_home, content)
    assert not verify(vaos_home).ok


def test_one_writer_at_a_time(vaos_home: Path) -> None:
    keystore = KeyStore.open(vaos_home / "keys")
    writer = LedgerWriter.open(vaos_home / "ledger", keystore)
    try:
        with pytest.raises(LedgerLocked, match=f"in use by pid {os.getpid()}"):
            LedgerWriter.open(vaos_home / "ledger", keystore)
    finally:
        writer.close()
    LedgerWriter.open(vaos_home / "ledger", keystore).close()


def test_files_are_private(vaos_home: Path) -> None:
    small_ledger(vaos_home)
    for path in [vaos_home / "ledger", vaos_home / "keys"]:
        assert path.stat().st_mode & 0o777 == 0o700
    for path in [*(vaos_home / "ledger").iterdir(), *(vaos_home / "keys").iterdir()]:
        assert path.stat().st_mode & 0o777 == 0o600, path


# -- the asynchronous ledger -----------------------------------------------------------------


async def test_concurrent_appends_share_commits_and_chain(vaos_home: Path) -> None:
    import asyncio

    ledger = Ledger.open(vaos_home / "ledger", KeyStore.open(vaos_home / "keys"))
    results = await asyncio.gather(*(ledger.append(_entry(i)) for i in range(500)))
    assert sorted(r.seq for r in results) == list(range(1, 501))
    grouped = await asyncio.gather(
        *(
            ledger.append_grouped({"kind": "tokens_issued", "outcome": "granted"}, "grants", {"n": i})
            for i in range(50)
        )
    )
    assert len({r.id for r in grouped}) < 50  # grants share records
    assert ledger.commits < 500 + 50
    await ledger.close()
    report = verify(vaos_home, full=True)
    assert report.ok and report.records == ledger.count
    grants = [g["n"] for r in read_records(vaos_home / "ledger") for g in r["data"].get("grants", [])]
    assert sorted(grants) == list(range(50))


async def test_a_failed_write_stops_the_ledger(vaos_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ledger = Ledger.open(vaos_home / "ledger", KeyStore.open(vaos_home / "keys"))
    await ledger.append(_entry(0))

    def disk_full(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fdatasync", disk_full)
    with pytest.raises(LedgerError, match="No space left"):
        await ledger.append(_entry(1))
    with pytest.raises(LedgerError, match="restart the kernel"):
        await ledger.append(_entry(2))
    monkeypatch.undo()
    await ledger.close()


# -- canonical encoding ----------------------------------------------------------------------

_keys = st.text(max_size=8)
_scalars = (
    st.none() | st.booleans() | st.integers(min_value=-(2**63), max_value=2**64 - 1) | st.text(max_size=20)
)
_values = st.recursive(
    _scalars | st.floats(allow_nan=False, allow_infinity=False),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(_keys, children, max_size=4),
    max_leaves=20,
)


@given(st.dictionaries(_keys, _values, max_size=6))
def test_record_encoding_is_the_canonical_json(value: dict[str, object]) -> None:
    assert encode(value) == canonical_json(value)


def test_encoding_falls_back_where_orjson_differs() -> None:
    tricky = {"\U0001f600": 1, "\ue000": 2, "big": 2**70, "f": 1e21}
    assert encode(tricky) == canonical_json(tricky)
