"""The audit ledger: append-only, hash-chained, signed records with signed checkpoints.

Files in ``$VAOS_HOME/ledger/`` (format in ``ledger_verify``)::

    records.jsonl       one signed record per line; each holds the hash of the line before
    checkpoints.jsonl   one signed (count, chain head, byte offset) per durable commit
    LOCK                held (flock) by the one process that writes

Appends go through a group commit: whatever arrived while the previous commit was on disk is
encoded, signed and chained in one batch, written with one ``write`` per file and made
durable with ``fdatasync`` (records first, then the checkpoint that covers them). An append
is acknowledged only after both are on disk, so every acknowledged record is covered by a
signed checkpoint and a later truncation is detected. A crash (even ``kill -9``) can leave
only a torn, unacknowledged final write; on the next open it is named in a
``ledger_recovered`` record (offset, length, SHA-256) and the chain continues from the last
good record. Nothing is ever rewritten.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import hashlib
import os
import uuid
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from vaos._canonical_json import canonical_json
from vaos.events import utc_timestamp
from vaos.governance.errors import LedgerError, LedgerLocked
from vaos.governance.keys import KeyStore, b64url
from vaos.governance.ledger_verify import (
    CHECKPOINT_DOMAIN,
    CHECKPOINT_PREFIX,
    CHECKPOINTS_FILE,
    FORMAT_VERSION,
    GENESIS,
    RECORD_DOMAIN,
    RECORD_PREFIX,
    RECORDS_FILE,
    Report,
    envelope,
    line_hash,
    signature_ok,
    split_envelope,
    verify_ledger,
)

LOCK_FILE = "LOCK"
RESERVED = frozenset({"v", "seq", "id", "prev", "ts", "kind", "kid"})
_MAX_TORN_BYTES = 64 * 1024 * 1024
_CHUNK = 1 << 16
_INT_MIN, _INT_MAX = -(2**63), 2**64 - 1
# Under concurrent load a commit waits up to this long for as many appends as the last one had.
COMMIT_WINDOW = 0.005


def encode(value: Mapping[str, Any]) -> bytes:
    """Canonical JSON of a record body.

    The byte form is ``vaos._canonical_json.canonical_json``'s. For values where orjson with
    sorted keys provably gives the same bytes (no floats, 64-bit integers, keys inside the
    Basic Multilingual Plane, so UTF-8 and UTF-16 key orders agree) orjson does the work;
    ``tests/governance/test_ledger_encoding.py`` checks the equivalence.
    """
    if _plain(value):
        return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)
    return canonical_json(value)


def _plain(value: Any) -> bool:
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return True
    if kind is int:
        return bool(_INT_MIN <= value <= _INT_MAX)
    if kind is dict:
        return all(
            type(k) is str and (k.isascii() or max(k) < "\U00010000") and _plain(v) for k, v in value.items()
        )
    if kind is list:
        return all(_plain(v) for v in value)
    return False


@dataclass(frozen=True)
class AppendedRecord:
    """A record as written: where it sits in the chain and what signs it."""

    seq: int
    id: str
    ts: str
    kind: str
    kid: str
    signature: str
    hash: str
    body: bytes

    def record(self) -> dict[str, Any]:
        parsed: dict[str, Any] = orjson.loads(self.body)
        return parsed


@dataclass
class _Prepared:
    lines: bytes
    checkpoint: bytes
    results: list[AppendedRecord | Exception]
    seq: int
    head: str
    size: int
    cp_n: int
    cp_prev: str


@dataclass
class _Tail:
    """The last good line of a file and whatever torn bytes follow it."""

    body: dict[str, Any] | None
    hash: str
    end: int
    torn: bytes


class LedgerWriter:
    """The single writer of one ledger directory (synchronous; ``Ledger`` wraps it)."""

    def __init__(self, directory: Path, keystore: KeyStore, lock_fd: int) -> None:
        self.directory = directory
        self.keystore = keystore
        self._lock_fd = lock_fd
        self._records_fd = -1
        self._checkpoints_fd = -1
        self.seq = 0
        self.head = GENESIS
        self.size = 0
        self.cp_n = 0
        self.cp_prev = GENESIS
        self.cp_count = 0
        self.recovered: dict[str, Any] | None = None

    @classmethod
    def open(cls, directory: Path, keystore: KeyStore) -> LedgerWriter:
        """Lock the directory, read the chain head, and recover a torn final write."""
        directory = Path(directory)
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        lock_fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(lock_fd, 32, 0).decode("ascii", "replace").strip() or "another process"
            os.close(lock_fd)
            raise LedgerLocked(f"the ledger in {directory} is in use by pid {holder}") from None
        os.ftruncate(lock_fd, 0)
        os.pwrite(lock_fd, f"{os.getpid()}\n".encode(), 0)
        writer = cls(directory, keystore, lock_fd)
        try:
            writer._open_files()
        except BaseException:
            writer.close()
            raise
        return writer

    def _open_files(self) -> None:
        records, checkpoints = self.directory / RECORDS_FILE, self.directory / CHECKPOINTS_FILE
        created = not records.exists() or not checkpoints.exists()
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT
        self._records_fd = os.open(records, flags, 0o600)
        self._checkpoints_fd = os.open(checkpoints, flags, 0o600)
        if created:
            _fsync_dir(self.directory)
        keys = self.keystore.public_keys()
        rec = _read_tail(records, RECORD_PREFIX, RECORD_DOMAIN, keys)
        cp = _read_tail(checkpoints, CHECKPOINT_PREFIX, CHECKPOINT_DOMAIN, keys)
        if rec.body is not None:
            self.seq, self.head = int(rec.body["seq"]), rec.hash
        if cp.body is not None:
            self.cp_n, self.cp_prev, self.cp_count = int(cp.body["n"]), cp.hash, int(cp.body["count"])
            if self.cp_count > self.seq:
                raise LedgerError(
                    f"ledger in {self.directory} is truncated: checkpoint #{self.cp_n} covers "
                    f"{self.cp_count} records, only {self.seq} remain; run `vaos audit verify`"
                )
            if self.cp_count == self.seq and cp.body["head"] != self.head:
                raise LedgerError(
                    f"ledger in {self.directory}: the last record does not match its checkpoint"
                )
        torn: dict[str, Any] = {}
        if rec.torn:
            torn["torn"] = self._seal_torn(self._records_fd, rec, RECORDS_FILE)
        if cp.torn:
            torn["checkpoints_torn"] = self._seal_torn(self._checkpoints_fd, cp, CHECKPOINTS_FILE)
        self.size = os.fstat(self._records_fd).st_size
        if torn:
            self.recovered = torn
            results = self.append_many([{"kind": "ledger_recovered", "outcome": "recorded", "data": torn}])
            if isinstance(results[0], Exception):
                raise results[0]
        elif self.cp_count < self.seq:  # records made durable just before a crash: cover them now
            self.commit(self.prepare([]))

    def _seal_torn(self, fd: int, tail: _Tail, name: str) -> dict[str, Any]:
        newline = not tail.torn.endswith(b"\n")
        if newline:
            _write_all(fd, b"\n")
            os.fdatasync(fd)
        return {
            "file": name,
            "offset": tail.end,
            "length": len(tail.torn),
            "sha256": hashlib.sha256(tail.torn).hexdigest(),
            "newline_added": newline,
        }

    # -- appending -----------------------------------------------------------------------

    def prepare(self, entries: list[Mapping[str, Any]]) -> _Prepared:
        """Encode, chain and sign ``entries`` after the committed head (no I/O)."""
        seq, head, size = self.seq, self.head, self.size
        chunks: list[bytes] = []
        results: list[AppendedRecord | Exception] = []
        for entry in entries:
            try:
                kind = entry["kind"]
                if not isinstance(kind, str) or not kind:
                    raise LedgerError("a ledger entry needs a kind")
                ts = utc_timestamp()
                body: dict[str, Any] = {k: v for k, v in entry.items() if v is not None and k not in RESERVED}
                kid = self.keystore.active.kid
                body.update(
                    v=FORMAT_VERSION,
                    seq=seq + 1,
                    id=str(entry.get("id") or uuid.uuid4().hex),
                    prev=head,
                    ts=ts,
                    kind=kind,
                    kid=kid,
                )
                body_bytes = encode(body)
                signed_kid, raw_sig = self.keystore.sign(RECORD_DOMAIN + body_bytes)
                assert signed_kid == kid
                sig = b64url(raw_sig)
                content = envelope(RECORD_PREFIX, body_bytes, sig)
            except Exception as exc:  # one bad entry fails alone
                results.append(
                    exc if isinstance(exc, LedgerError) else LedgerError(f"cannot encode entry: {exc}")
                )
                continue
            seq += 1
            head = line_hash(content)
            size += len(content) + 1
            chunks.append(content)
            chunks.append(b"\n")
            results.append(AppendedRecord(seq, body["id"], ts, kind, kid, sig, head, body_bytes))
        cp_n, cp_prev, checkpoint = self.cp_n, self.cp_prev, b""
        if seq != self.seq or self.cp_count != seq:
            cp_body = encode(
                {
                    "v": FORMAT_VERSION,
                    "n": cp_n + 1,
                    "count": seq,
                    "head": head,
                    "offset": size,
                    "prev": cp_prev,
                    "ts": utc_timestamp(),
                    "kid": self.keystore.active.kid,
                }
            )
            _, raw = self.keystore.sign(CHECKPOINT_DOMAIN + cp_body)
            cp_line = envelope(CHECKPOINT_PREFIX, cp_body, b64url(raw))
            checkpoint = cp_line + b"\n"
            cp_n, cp_prev = cp_n + 1, line_hash(cp_line)
        return _Prepared(b"".join(chunks), checkpoint, results, seq, head, size, cp_n, cp_prev)

    def commit(self, batch: _Prepared) -> None:
        """Write and fsync the records, then their checkpoint; then advance the head."""
        if batch.lines:
            _write_all(self._records_fd, batch.lines)
            os.fdatasync(self._records_fd)
        if batch.checkpoint:
            _write_all(self._checkpoints_fd, batch.checkpoint)
            os.fdatasync(self._checkpoints_fd)
        self.seq, self.head, self.size = batch.seq, batch.head, batch.size
        self.cp_n, self.cp_prev, self.cp_count = batch.cp_n, batch.cp_prev, batch.seq

    def append_many(self, entries: list[Mapping[str, Any]]) -> list[AppendedRecord | Exception]:
        """Prepare and commit in one go (for tools and tests; the kernel uses ``Ledger``)."""
        batch = self.prepare(entries)
        self.commit(batch)
        return batch.results

    def close(self) -> None:
        for fd in (self._records_fd, self._checkpoints_fd, self._lock_fd):
            if fd >= 0:
                with contextlib.suppress(OSError):
                    os.close(fd)
        self._records_fd = self._checkpoints_fd = self._lock_fd = -1


class _Pending:
    """One queued record: a plain entry, or a group whose items become one record."""

    __slots__ = ("entry", "futures", "group", "items")

    def __init__(
        self, entry: Mapping[str, Any], future: asyncio.Future[AppendedRecord] | None = None
    ) -> None:
        self.entry = entry
        self.futures: list[asyncio.Future[AppendedRecord]] = [future] if future is not None else []
        self.group: str | None = None
        self.items: list[Any] = []

    def resolved_entry(self) -> Mapping[str, Any]:
        if self.group is None:
            return self.entry
        entry = dict(self.entry)
        entry["data"] = {**dict(entry.get("data") or {}), self.group: self.items}
        return entry


class Ledger:
    """The kernel's asynchronous ledger: ``await append(...)`` returns once durable.

    ``append_grouped`` adds an item to a group record: items of one group that arrive while a
    commit is on disk go into a single record of the next commit (one signature for many
    token grants under load, one record per grant when idle).
    """

    def __init__(
        self,
        writer: LedgerWriter,
        *,
        max_batch: int = 4096,
        max_group: int = 1024,
        commit_window: float = COMMIT_WINDOW,
    ) -> None:
        self.writer = writer
        self.max_batch = max_batch
        self.max_group = max_group
        self.commit_window = commit_window
        self._last_batch = 0
        self._queued = 0
        self._target = 0
        self._enough = asyncio.Event()
        self._queue: list[_Pending] = []
        self._open_groups: dict[str, _Pending] = {}
        self._wake = asyncio.Event()
        self._closing = False
        self._failed: LedgerError | None = None
        self._io = ThreadPoolExecutor(max_workers=1, thread_name_prefix="vaos-ledger")
        self._task = asyncio.get_running_loop().create_task(self._run(), name="vaos-ledger-writer")
        self.commits = 0

    @classmethod
    def open(cls, directory: Path, keystore: KeyStore, *, max_batch: int = 4096) -> Ledger:
        """Open (and recover) the ledger; call from a running event loop."""
        return cls(LedgerWriter.open(directory, keystore), max_batch=max_batch)

    @property
    def directory(self) -> Path:
        return self.writer.directory

    @property
    def count(self) -> int:
        return self.writer.seq

    @property
    def head(self) -> str:
        return self.writer.head

    def _refused(self) -> LedgerError | None:
        if self._failed is not None:
            return self._failed
        if self._closing:
            return LedgerError("the ledger is closed")
        return None

    def submit(self, entry: Mapping[str, Any]) -> asyncio.Future[AppendedRecord]:
        """Queue ``entry``; the future resolves when it is durable (or fails)."""
        future: asyncio.Future[AppendedRecord] = asyncio.get_running_loop().create_future()
        error = self._refused()
        if error is not None:
            future.set_exception(error)
            return future
        self._queue.append(_Pending(entry, future))
        self._arrived()
        return future

    def _arrived(self) -> None:
        self._queued += 1
        self._wake.set()
        if self._target and self._queued >= self._target:
            self._enough.set()

    async def append(self, entry: Mapping[str, Any]) -> AppendedRecord:
        return await self.submit(entry)

    def submit_grouped(
        self, entry: Mapping[str, Any], group: str, item: Any
    ) -> asyncio.Future[AppendedRecord]:
        """Queue ``item`` into the open record ``entry`` (keyed by its kind), under
        ``data[group]``; resolves with that record once durable."""
        future: asyncio.Future[AppendedRecord] = asyncio.get_running_loop().create_future()
        error = self._refused()
        if error is not None:
            future.set_exception(error)
            return future
        key = f"{entry['kind']}/{group}"
        pending = self._open_groups.get(key)
        if pending is None or len(pending.items) >= self.max_group:
            pending = _Pending(entry)
            pending.group = group
            self._open_groups[key] = pending
            self._queue.append(pending)
        pending.items.append(item)
        pending.futures.append(future)
        self._arrived()
        return future

    async def append_grouped(self, entry: Mapping[str, Any], group: str, item: Any) -> AppendedRecord:
        return await self.submit_grouped(entry, group, item)

    async def close(self) -> None:
        """Commit what is queued, then release the files and the lock."""
        self._closing = True
        self._wake.set()
        with contextlib.suppress(Exception):
            await self._task
        self._io.shutdown(wait=True)
        self.writer.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wake.clear()
                await self._wake.wait()
                continue
            if self._last_batch > 1 and self.commit_window > 0 and not self._closing:
                # Appends are arriving concurrently: wait (briefly) until as many are queued as
                # the last commit had, so that one fsync and one checkpoint serve them all.
                self._target = min(self._last_batch, self.max_batch)
                if self._queued < self._target:
                    self._enough.clear()
                    with contextlib.suppress(TimeoutError):
                        await asyncio.wait_for(self._enough.wait(), self.commit_window)
                self._target = 0
            batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
            self._last_batch = sum(max(1, len(p.futures)) for p in batch)
            self._queued -= self._last_batch
            for pending in batch:  # a group leaves its open state once it is in a batch
                if pending.group is not None:
                    key = f"{pending.entry['kind']}/{pending.group}"
                    if self._open_groups.get(key) is pending:
                        del self._open_groups[key]
            try:
                prepared = self.writer.prepare([pending.resolved_entry() for pending in batch])
                await loop.run_in_executor(self._io, self.writer.commit, prepared)
            except Exception as exc:
                self._failed = LedgerError(f"ledger write failed ({exc}); restart the kernel to recover")
                for pending in batch + self._queue:
                    for future in pending.futures:
                        if not future.done():
                            future.set_exception(self._failed)
                self._queue, self._open_groups = [], {}
                return
            self.commits += 1
            for pending, result in zip(batch, prepared.results, strict=True):
                for future in pending.futures:
                    if future.done():
                        continue
                    if isinstance(result, Exception):
                        future.set_exception(result)
                    else:
                        future.set_result(result)


# -- reading -------------------------------------------------------------------------------


def reverse_lines(path: Path) -> Iterator[tuple[int, bytes]]:
    """``(offset, line)`` from the last line to the first; a final line may lack its newline."""
    with Path(path).open("rb") as f:
        size = f.seek(0, os.SEEK_END)
        buf, buf_start, end = b"", size, size
        while end > 0:
            search_to = end - 1  # the byte at end-1 may be this line's own newline
            while True:
                idx = buf.rfind(b"\n", 0, search_to - buf_start) if search_to > buf_start else -1
                if idx >= 0:
                    start = buf_start + idx + 1
                    break
                if buf_start == 0:
                    start = 0
                    break
                step = min(_CHUNK, buf_start)
                buf_start -= step
                f.seek(buf_start)
                buf = f.read(step) + buf
            yield start, buf[start - buf_start : end - buf_start]
            end = start
            if len(buf) > 8 * _CHUNK:
                buf = buf[: end - buf_start]


def _read_tail(path: Path, prefix: bytes, domain: bytes, keys: Mapping[str, Any]) -> _Tail:
    """The last valid line (its signature checked) and the torn bytes after it."""
    size = path.stat().st_size if path.exists() else 0
    if size == 0:
        return _Tail(None, GENESIS, 0, b"")
    for offset, raw in reverse_lines(path):
        if size - offset > _MAX_TORN_BYTES:
            break
        if not raw.endswith(b"\n"):
            continue
        content = raw[:-1]
        parts = split_envelope(content, prefix)
        if parts is None:
            continue
        try:
            body = orjson.loads(parts[0])
        except orjson.JSONDecodeError:
            continue
        if not isinstance(body, dict) or body.get("v") != FORMAT_VERSION:
            continue
        if not signature_ok(keys.get(body.get("kid", "")), domain, parts[0], parts[1]):
            raise LedgerError(
                f"{path}: the last entry at byte {offset} fails its signature; run `vaos audit verify`"
            )
        end = offset + len(raw)
        with path.open("rb") as f:
            f.seek(end)
            torn = f.read()
        return _Tail(body, line_hash(content), end, torn)
    if size <= _MAX_TORN_BYTES:  # not one complete entry: the very first write was torn
        return _Tail(None, GENESIS, 0, path.read_bytes())
    raise LedgerError(f"{path}: no valid entry near the end of the file; run `vaos audit verify`")


def verify_home(home: Path, *, full: bool = False) -> Report:
    """Verify ``home/ledger`` with the public keys of ``home/keys`` (``vaos audit verify``;
    for ``GET /api/v1/audit/verify`` use ``report.to_dict()``)."""
    directory = Path(home) / "ledger"
    keys = KeyStore.open_public(Path(home) / "keys")
    return verify_ledger(directory / RECORDS_FILE, directory / CHECKPOINTS_FILE, keys, full=full)


def read_records(directory: Path, limit: int | None = None) -> list[dict[str, Any]]:
    """The last ``limit`` records (all when None), oldest first; torn lines are skipped."""
    path = Path(directory) / RECORDS_FILE
    if not path.exists() or (limit is not None and limit <= 0):
        return []
    found: list[dict[str, Any]] = []
    for _, raw in reverse_lines(path):
        parts = split_envelope(raw.rstrip(b"\n"), RECORD_PREFIX)
        if parts is None:
            continue
        try:
            body = orjson.loads(parts[0])
        except orjson.JSONDecodeError:
            continue
        if isinstance(body, dict):
            found.append({**body, "sig": parts[1]})
            if limit is not None and len(found) >= limit:
                break
    found.reverse()
    return found


def recent_records(directory: Path, since_ts: str) -> Iterator[dict[str, Any]]:
    """Records with ``ts >= since_ts``, newest first (the kernel rebuilds its used-jti set)."""
    path = Path(directory) / RECORDS_FILE
    if not path.exists():
        return
    for _, raw in reverse_lines(path):
        parts = split_envelope(raw.rstrip(b"\n"), RECORD_PREFIX)
        if parts is None:
            continue
        try:
            body = orjson.loads(parts[0])
        except orjson.JSONDecodeError:
            continue
        if not isinstance(body, dict):
            continue
        if str(body.get("ts", "")) < since_ts:
            return
        yield body


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
