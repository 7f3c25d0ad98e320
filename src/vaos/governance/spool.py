"""The telemetry spool: an on-disk FIFO of messages the broker has not confirmed yet.

Layout of the directory (mode 0700, default ``$VAOS_HOME/telemetry/spool/``)::

    <n>.spool       segments, drained in ascending ``n``; one message per line:
                    ``<message id> TAB <routing key> TAB <JSON body> LF``
    cursor.json     how far each partly drained segment has been published
    .lock           held (flock) by the one process that owns the spool

Segments are append-only: each batch is one ``write`` followed by ``fdatasync``. A process
never appends to a segment written by an earlier one, so a torn final line left by a crash
stays at the end of its segment, is skipped when read, and is counted in ``corrupt``.
Messages that failed while in flight go back to the head (``prepend``, a new segment with
a lower number) so the order of the queue is kept. A segment is deleted once every line in
it has been published. The cursor is replaced atomically but not fsynced: after a crash a
batch can be published again (at least once, never lost; consumers deduplicate by message
id). ``max_bytes`` bounds the files on disk; what does not fit is refused and the caller
counts it as dropped.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import orjson

logger = logging.getLogger(__name__)

Item = tuple[str, str, bytes]
"""One message: ``(message id, routing key, JSON body)``."""

SEGMENT_SUFFIX = ".spool"
CURSOR_FILE = "cursor.json"
LOCK_FILE = ".lock"
FIRST_SEGMENT = 10**15  # room below for prepended segments
DEFAULT_SEGMENT_BYTES = 8 * 1024 * 1024
_COUNT_CHUNK = 1 << 20


class SpoolError(Exception):
    """The spool cannot be opened or written."""


class SpoolBusyError(SpoolError):
    """Another process owns the spool directory."""


@dataclass(frozen=True)
class SpoolInfo:
    """What is waiting in a spool directory (read without taking the lock)."""

    directory: Path
    pending: int
    bytes: int
    segments: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "directory": str(self.directory),
            "pending": self.pending,
            "bytes": self.bytes,
            "segments": self.segments,
        }


def encode_item(item: Item) -> bytes:
    message_id, routing_key, body = item
    if "\t" in message_id or "\n" in message_id or "\t" in routing_key or "\n" in routing_key:
        raise ValueError("message ids and routing keys cannot hold tabs or newlines")
    if b"\n" in body:
        raise ValueError("a spooled body must be one line of JSON")
    return b"%s\t%s\t%s\n" % (message_id.encode(), routing_key.encode(), body)


def decode_item(line: bytes) -> Item | None:
    """The item of a complete line, or None when the line is torn or not a spool line."""
    if not line.endswith(b"\n"):
        return None
    parts = line[:-1].split(b"\t", 2)
    if len(parts) != 3 or not parts[0] or not parts[2].startswith(b"{"):
        return None
    try:
        return parts[0].decode("ascii"), parts[1].decode("utf-8"), parts[2]
    except UnicodeDecodeError:
        return None


class Spool:
    """A single-owner FIFO of ``Item`` on disk; see the module docstring. Not thread-safe."""

    def __init__(self, directory: Path, lock_fd: int, *, max_bytes: int, segment_bytes: int) -> None:
        self.directory = directory
        self.max_bytes = max_bytes
        self.segment_bytes = segment_bytes
        self.pending = 0
        self.size_bytes = 0
        self.corrupt = 0
        self._lock_fd = lock_fd
        self._segments: list[int] = []
        self._sizes: dict[int, int] = {}
        self._offsets: dict[int, int] = {}
        self._next = FIRST_SEGMENT
        self._tail: int | None = None  # the segment this process appends to
        self._tail_fd = -1
        self._reader: tuple[int, IO[bytes]] | None = None
        self._peeked: list[tuple[int, int]] = []

    # -- opening -------------------------------------------------------------------------

    @classmethod
    def open(cls, directory: Path, *, max_bytes: int, segment_bytes: int = DEFAULT_SEGMENT_BYTES) -> Spool:
        """Lock ``directory`` (created 0700) and load what earlier processes left in it."""
        directory = Path(directory)
        try:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            lock_fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise SpoolError(f"cannot open the telemetry spool {directory}: {exc.strerror}") from None
        try:
            fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(lock_fd)
            raise SpoolBusyError(f"the telemetry spool {directory} is in use by another process") from None
        spool = cls(directory, lock_fd, max_bytes=max_bytes, segment_bytes=segment_bytes)
        try:
            spool._load()
        except BaseException:
            spool.close()
            raise
        return spool

    def _load(self) -> None:
        for stale in self.directory.glob(f".{CURSOR_FILE}.*.tmp"):
            with contextlib.suppress(OSError):
                stale.unlink()
        self._segments = _segment_numbers(self.directory)
        offsets = _read_cursor(self.directory)
        for n in self._segments:
            size = (self.directory / _name(n)).stat().st_size
            self._sizes[n] = size
            offset = min(offsets.get(_name(n), 0), size)
            if offset:
                self._offsets[n] = offset
            self.pending += _count_lines(self.directory / _name(n), offset)
        self.size_bytes = sum(self._sizes.values())
        if self._segments:
            self._next = self._segments[-1] + 1

    def close(self) -> None:
        """Release the files and the lock (idempotent)."""
        self._close_reader()
        if self._tail_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._tail_fd)
        self._tail_fd, self._tail = -1, None
        if self._lock_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._lock_fd)
        self._lock_fd = -1

    @property
    def closed(self) -> bool:
        return self._lock_fd < 0

    # -- writing -------------------------------------------------------------------------

    def append(self, items: Sequence[Item]) -> int:
        """Write ``items`` at the tail, durably; returns how many fitted under ``max_bytes``."""
        blob, count = self._encode_fitting(items)
        if not count:
            return 0
        if self._tail is None or self._sizes[self._tail] >= self.segment_bytes:
            self._open_tail()
        assert self._tail is not None
        if not self._write(self._tail_fd, self._tail, blob):
            self._close_tail()
            return 0
        self.pending += count
        return count

    def prepend(self, items: Sequence[Item]) -> int:
        """Write ``items`` before everything already spooled (messages that failed in flight)."""
        if not self._segments:
            return self.append(items)
        blob, count = self._encode_fitting(items)
        if not count:
            return 0
        n = self._segments[0] - 1
        fd = self._create(n)
        try:
            written = self._write(fd, n, blob)
        finally:
            os.close(fd)
        self._segments.insert(0, n)
        if not written:
            self._delete(n)
            return 0
        self.pending += count
        return count

    def _encode_fitting(self, items: Sequence[Item]) -> tuple[bytes, int]:
        room = self.max_bytes - self.size_bytes
        lines: list[bytes] = []
        used = 0
        for item in items:
            line = encode_item(item)
            if used + len(line) > room:
                break
            lines.append(line)
            used += len(line)
        return b"".join(lines), len(lines)

    def _open_tail(self) -> None:
        self._close_tail()
        n = self._next
        self._next += 1
        self._tail_fd = self._create(n)
        self._tail = n
        self._segments.append(n)

    def _create(self, n: int) -> int:
        try:
            fd = os.open(self.directory / _name(n), os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            _fsync_dir(self.directory)
        except OSError as exc:
            raise SpoolError(f"cannot create a spool segment in {self.directory}: {exc.strerror}") from None
        self._sizes[n] = 0
        return fd

    def _write(self, fd: int, n: int, blob: bytes) -> bool:
        view = memoryview(blob)
        try:
            while view:
                written = os.write(fd, view)
                view = view[written:]
                self._sizes[n] += written
                self.size_bytes += written
            os.fdatasync(fd)
        except OSError as exc:
            logger.error("telemetry spool: cannot write %s: %s", self.directory / _name(n), exc.strerror)
            return False
        return True

    def _close_tail(self) -> None:
        if self._tail_fd >= 0:
            with contextlib.suppress(OSError):
                os.close(self._tail_fd)
        self._tail_fd, self._tail = -1, None

    # -- reading -------------------------------------------------------------------------

    def peek(self, limit: int) -> list[Item]:
        """Up to ``limit`` items from the head, oldest first; ``commit`` consumes them.

        Unreadable lines at the head (a torn write, a foreign line) are skipped, logged and
        counted in ``corrupt``.
        """
        items: list[Item] = []
        marks: list[tuple[int, int]] = []
        for n in list(self._segments):
            if len(items) >= limit:
                break
            offset, size = self._offsets.get(n, 0), self._sizes[n]
            if offset >= size:
                if not items and n != self._tail:
                    self._delete(n)
                continue
            reader = self._open_reader(n)
            reader.seek(offset)
            while len(items) < limit and offset < size:
                line = reader.readline(size - offset)
                if not line:
                    break
                item = decode_item(line)
                if item is None:
                    if items:  # consumed at the next peek, once it is at the head
                        self._peeked = marks
                        return items
                    self._skip_corrupt(n, offset, line)
                    offset += len(line)
                    continue
                offset += len(line)
                items.append(item)
                marks.append((n, offset))
            if not items and offset >= size and n != self._tail:
                self._delete(n)
        self._peeked = marks
        return items

    def commit(self, count: int) -> None:
        """Consume the first ``count`` items of the last ``peek``."""
        if count <= 0:
            return
        if count > len(self._peeked):
            raise ValueError("commit of more items than were peeked")
        last_segment, end = self._peeked[count - 1]
        for n in [n for n in self._segments if n < last_segment]:
            self._delete(n)
        self._offsets[last_segment] = end
        self.pending -= count
        self._peeked = []
        if end >= self._sizes[last_segment]:  # fully published (the tail too: the next append starts anew)
            self._delete(last_segment)
        self._write_cursor()

    def _skip_corrupt(self, n: int, offset: int, line: bytes) -> None:
        self.corrupt += 1
        if line.endswith(b"\n"):
            self.pending -= 1
        logger.warning(
            "telemetry spool: skipped an unreadable line of %d bytes at %s:%d",
            len(line),
            self.directory / _name(n),
            offset,
        )
        self._offsets[n] = offset + len(line)
        self._write_cursor()

    def _open_reader(self, n: int) -> IO[bytes]:
        if self._reader is not None and self._reader[0] == n:
            return self._reader[1]
        self._close_reader()
        reader = (self.directory / _name(n)).open("rb")
        self._reader = (n, reader)
        return reader

    def _close_reader(self) -> None:
        if self._reader is not None:
            self._reader[1].close()
            self._reader = None

    def _delete(self, n: int) -> None:
        if self._reader is not None and self._reader[0] == n:
            self._close_reader()
        if n == self._tail:
            self._close_tail()
        with contextlib.suppress(FileNotFoundError):
            (self.directory / _name(n)).unlink()
        self._segments.remove(n)
        self.size_bytes -= self._sizes.pop(n)
        self._offsets.pop(n, None)

    def _write_cursor(self) -> None:
        document = {"v": 1, "offsets": {_name(n): off for n, off in self._offsets.items() if off}}
        tmp = self.directory / f".{CURSOR_FILE}.{os.getpid()}.tmp"
        try:
            tmp.write_bytes(orjson.dumps(document))
            os.replace(tmp, self.directory / CURSOR_FILE)
        except OSError as exc:  # the worst outcome is a batch published twice
            logger.warning("telemetry spool: cannot save the cursor: %s", exc.strerror)


# -- inspection ----------------------------------------------------------------------------


def inspect(directory: Path) -> SpoolInfo:
    """Count what a spool directory holds, without taking its lock (for ``vaos doctor``)."""
    directory = Path(directory)
    if not directory.is_dir():
        return SpoolInfo(directory, 0, 0, 0)
    segments = _segment_numbers(directory)
    offsets = _read_cursor(directory)
    pending = size = 0
    for n in segments:
        path = directory / _name(n)
        try:
            size += path.stat().st_size
            pending += _count_lines(path, offsets.get(_name(n), 0))
        except OSError:  # drained and deleted meanwhile
            continue
    return SpoolInfo(directory, pending, size, len(segments))


def _name(n: int) -> str:
    return f"{n:020d}{SEGMENT_SUFFIX}"


def _segment_numbers(directory: Path) -> list[int]:
    numbers = []
    for path in directory.glob(f"*{SEGMENT_SUFFIX}"):
        stem = path.name[: -len(SEGMENT_SUFFIX)]
        if stem.isdigit():
            numbers.append(int(stem))
    return sorted(numbers)


def _read_cursor(directory: Path) -> dict[str, int]:
    path = directory / CURSOR_FILE
    try:
        document = orjson.loads(path.read_bytes())
    except FileNotFoundError:
        return {}
    except (OSError, orjson.JSONDecodeError) as exc:
        logger.warning("telemetry spool: unreadable cursor %s (%s); draining from the start", path, exc)
        return {}
    offsets = document.get("offsets") if isinstance(document, dict) else None
    if not isinstance(offsets, dict):
        return {}
    return {str(k): int(v) for k, v in offsets.items() if isinstance(v, int) and v > 0}


def _count_lines(path: Path, offset: int) -> int:
    count = 0
    with path.open("rb") as f:
        f.seek(offset)
        while chunk := f.read(_COUNT_CHUNK):
            count += chunk.count(b"\n")
    return count


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
