"""Verify a VAOS audit ledger: the format, and a verifier anyone can run.

This module needs only the standard library and ``cryptography`` (``orjson`` is used when
present): ``vaos audit export`` copies it into every bundle as ``verify.py``, so a bundle can
be checked without VAOS. Usage of the copy::

    python verify.py BUNDLE_DIR [--full] [--json]

Format (both files are JSON Lines, one canonical-JSON object per line, never rewritten):

``records.jsonl``
    ``{"record":BODY,"sig":SIG}``. ``BODY`` holds ``v`` (1), ``seq`` (1, 2, 3, ... with no
    gaps), ``id``, ``prev`` (SHA-256 hex of the previous record's whole line without its
    newline; 64 zeros for the first), ``ts`` (UTC), ``kind``, ``kid`` and the content.
    ``SIG`` is base64url Ed25519 over ``RECORD_DOMAIN + BODY`` by key ``kid``.
``checkpoints.jsonl``
    ``{"checkpoint":BODY,"sig":SIG}``, one per durable commit. ``BODY`` holds ``v``, ``n``
    (1, 2, ...), ``count`` (records committed), ``head`` (hash of record ``count``'s line),
    ``offset`` (byte offset just after that line), ``prev`` (hash of the previous checkpoint
    line), ``ts`` and ``kid``; signed over ``CHECKPOINT_DOMAIN + BODY``.

A crash can leave a torn final write. When it is still at the end of a file it is reported
(``torn_tail``) and is not a record. When the kernel restarts it appends a ``ledger_recovered``
record naming the torn bytes (offset, length, SHA-256) and continues the chain from the last
good record; the verifier then accepts exactly those bytes and reports them.

Checks: every line parses; ``seq`` has no gap or reordering; every ``prev`` is the hash of
the line before (so any edit, deletion, insertion or swap breaks the chain); every ``kid`` is a
known key; every checkpoint chains to the one before and matches the record hash and byte
offset at its ``count``; the last checkpoint does not count more records than exist
(truncation). Signatures: the default mode verifies the last checkpoint's signature, the
head record's and those of records after the last checkpoint; because each signed body
contains the previous hash, those signatures authenticate everything before them. ``--full``
verifies every signature as well.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import hashlib
import json
import sys
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

try:  # pragma: no branch - orjson is only faster
    import orjson

    _loads: Callable[[bytes], Any] = orjson.loads
    _JSON_ERRORS: tuple[type[Exception], ...] = (orjson.JSONDecodeError, UnicodeDecodeError)
except ImportError:  # pragma: no cover - exercised by bundles verified without orjson
    _loads = json.loads
    _JSON_ERRORS = (ValueError, UnicodeDecodeError)

FORMAT_VERSION = 1
RECORDS_FILE = "records.jsonl"
CHECKPOINTS_FILE = "checkpoints.jsonl"
KEYS_FILE = "jwks.json"
RECORD_DOMAIN = b"vaos-ledger-record-v1\x00"
CHECKPOINT_DOMAIN = b"vaos-ledger-checkpoint-v1\x00"
GENESIS = "0" * 64
RECORD_PREFIX = b'{"record":'
CHECKPOINT_PREFIX = b'{"checkpoint":'
SIG_MARK = b',"sig":"'
SIG_END = b'"}'
SIGNATURE_CHARS = 86  # base64url of 64 bytes, unpadded

_B64 = frozenset(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_")


def envelope(prefix: bytes, body: bytes, signature: str) -> bytes:
    """One ledger line without its newline (identical to its canonical JSON)."""
    return prefix + body + SIG_MARK + signature.encode("ascii") + SIG_END


def split_envelope(content: bytes, prefix: bytes) -> tuple[bytes, str] | None:
    """``(body, signature)`` of a line, or None when the line is not an envelope."""
    if not content.startswith(prefix) or not content.endswith(SIG_END):
        return None
    mark = content.rfind(SIG_MARK)
    if mark < len(prefix):
        return None
    sig = content[mark + len(SIG_MARK) : -len(SIG_END)]
    if len(sig) != SIGNATURE_CHARS or not _B64.issuperset(sig):
        return None
    return content[len(prefix) : mark], sig.decode("ascii")


def decode_signature(signature: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(signature + "==")
    except (binascii.Error, ValueError):
        return b""


def signature_ok(key: Ed25519PublicKey | None, domain: bytes, body: bytes, signature: str) -> bool:
    if key is None:
        return False
    try:
        key.verify(decode_signature(signature), domain + body)
    except InvalidSignature:
        return False
    return True


def line_hash(content: bytes) -> str:
    return hashlib.sha256(content).hexdigest()


def load_jwks(path: Path) -> dict[str, Ed25519PublicKey]:
    """Ed25519 keys of a JWKS file, by kid."""
    document = json.loads(Path(path).read_text(encoding="utf-8"))
    keys: dict[str, Ed25519PublicKey] = {}
    for entry in document.get("keys", []):
        if entry.get("kty") == "OKP" and entry.get("crv") == "Ed25519":
            raw = base64.urlsafe_b64decode(entry["x"] + "==")
            keys[entry["kid"]] = Ed25519PublicKey.from_public_bytes(raw)
    return keys


@dataclass
class Problem:
    """The first thing found wrong: which file, line, byte offset and record, and why."""

    file: str
    line: int
    offset: int
    seq: int | None
    reason: str

    def __str__(self) -> str:
        where = (
            f"record seq {self.seq} ({self.file} line {self.line})"
            if self.seq
            else f"{self.file} line {self.line}"
        )
        return f"{where}: {self.reason}"


@dataclass
class Report:
    ok: bool
    mode: str
    records: int = 0
    checkpoints: int = 0
    head: str | None = None
    covered: int = 0
    signatures_checked: int = 0
    problem: Problem | None = None
    torn_tail: list[dict[str, Any]] = field(default_factory=list)
    recovered: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    kids: list[str] = field(default_factory=list)
    seconds: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["problem"] = (
            None if self.problem is None else {**asdict(self.problem), "message": str(self.problem)}
        )
        return data


class _TamperedError(Exception):
    def __init__(self, problem: Problem) -> None:
        super().__init__(str(problem))
        self.problem = problem


@dataclass
class _Region:
    """Consecutive bytes that are not valid lines (a torn write, or tampering)."""

    file: str
    line: int
    offset: int
    data: bytearray
    partial: bool = False

    def describe(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "line": self.line,
            "offset": self.offset,
            "length": len(self.data),
            "sha256": hashlib.sha256(self.data).hexdigest(),
            "partial_line": self.partial,
        }

    def named_by(self, torn: Any) -> bool:
        """True when a ``ledger_recovered`` entry names exactly these bytes."""
        if not isinstance(torn, dict) or torn.get("offset") != self.offset:
            return False
        data = bytes(self.data[:-1]) if torn.get("newline_added") else bytes(self.data)
        return torn.get("length") == len(data) and torn.get("sha256") == hashlib.sha256(data).hexdigest()


@dataclass
class _Checkpoint:
    n: int
    count: int
    head: str
    offset: int
    line: int


@dataclass
class _Seen:
    """The last record read, kept to verify its signature when the next one disagrees."""

    seq: int
    line: int
    offset: int
    body: bytes
    sig: str
    kid: str


def verify_ledger(
    records_path: Path,
    checkpoints_path: Path,
    keys: Mapping[str, Ed25519PublicKey],
    *,
    full: bool = False,
) -> Report:
    """Verify the two ledger files against ``keys``; see the module docstring."""
    started = time.perf_counter()
    report = Report(ok=True, mode="full" if full else "chain")
    try:
        checkpoints, bad_checkpoint_regions = _scan_checkpoints(Path(checkpoints_path), keys, full, report)
        _scan_records(Path(records_path), keys, full, checkpoints, bad_checkpoint_regions, report)
    except _TamperedError as exc:
        report.ok = False
        report.problem = exc.problem
    report.seconds = round(time.perf_counter() - started, 6)
    return report


def _lines(path: Path) -> Iterable[bytes]:
    if not path.exists():
        return
    with path.open("rb", buffering=1 << 20) as f:
        yield from f


def _parse(content: bytes, prefix: bytes) -> tuple[bytes, str, dict[str, Any]] | None:
    parts = split_envelope(content, prefix)
    if parts is None:
        return None
    try:
        body = _loads(parts[0])
    except _JSON_ERRORS:
        return None
    if not isinstance(body, dict) or body.get("v") != FORMAT_VERSION:
        return None
    return parts[0], parts[1], body


def _int(body: Mapping[str, Any], name: str) -> int | None:
    value = body.get(name)
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _scan_checkpoints(
    path: Path, keys: Mapping[str, Ed25519PublicKey], full: bool, report: Report
) -> tuple[dict[int, list[_Checkpoint]], list[_Region]]:
    name = CHECKPOINTS_FILE
    by_count: dict[int, list[_Checkpoint]] = {}
    bad_regions: list[_Region] = []
    region: _Region | None = None
    prev, expected_n, offset, line_no, last_count = GENESIS, 1, 0, 0, 0
    last: tuple[bytes, str, str, int, int] | None = None
    for raw in _lines(path):
        line_no += 1
        start, offset = offset, offset + len(raw)
        parsed = _parse(raw[:-1], CHECKPOINT_PREFIX) if raw.endswith(b"\n") else None
        if parsed is None:
            if region is None:
                region = _Region(name, line_no, start, bytearray())
            region.data += raw
            region.partial = not raw.endswith(b"\n")
            continue
        if region is not None:
            bad_regions.append(region)
            region = None
        body_bytes, sig, body = parsed
        n, count, cp_offset = _int(body, "n"), _int(body, "count"), _int(body, "offset")
        head, kid = body.get("head"), body.get("kid")
        if (
            n is None
            or count is None
            or cp_offset is None
            or not isinstance(head, str)
            or not isinstance(kid, str)
        ):
            raise _TamperedError(
                Problem(name, line_no, start, None, "checkpoint lacks n, count, head, offset or kid")
            )
        if n != expected_n:
            raise _TamperedError(
                Problem(
                    name,
                    line_no,
                    start,
                    None,
                    f"expected checkpoint #{expected_n}, found #{n} (deleted or reordered)",
                )
            )
        if body.get("prev") != prev:
            raise _TamperedError(
                Problem(name, line_no, start, None, f"checkpoint #{n}: chain broken (prev does not match)")
            )
        if kid not in keys:
            raise _TamperedError(
                Problem(name, line_no, start, None, f"checkpoint #{n}: signed with unknown key {kid!r}")
            )
        if count < last_count:
            raise _TamperedError(
                Problem(name, line_no, start, None, f"checkpoint #{n}: count goes backwards")
            )
        if full:
            report.signatures_checked += 1
            if not signature_ok(keys[kid], CHECKPOINT_DOMAIN, body_bytes, sig):
                raise _TamperedError(
                    Problem(name, line_no, start, None, f"checkpoint #{n}: signature does not verify")
                )
        by_count.setdefault(count, []).append(_Checkpoint(n, count, head, cp_offset, line_no))
        prev, expected_n, last_count = line_hash(raw[:-1]), n + 1, count
        last = (body_bytes, sig, kid, line_no, start)
    if region is not None:
        report.torn_tail.append(region.describe())
    if last is not None and not full:
        body_bytes, sig, kid, line_no, start = last
        report.signatures_checked += 1
        if not signature_ok(keys.get(kid), CHECKPOINT_DOMAIN, body_bytes, sig):
            raise _TamperedError(
                Problem(
                    name, line_no, start, None, f"checkpoint #{expected_n - 1}: signature does not verify"
                )
            )
    report.checkpoints = expected_n - 1
    report.covered = last_count
    return by_count, bad_regions


def _scan_records(
    path: Path,
    keys: Mapping[str, Ed25519PublicKey],
    full: bool,
    checkpoints: dict[int, list[_Checkpoint]],
    bad_checkpoint_regions: list[_Region],
    report: Report,
) -> None:
    name = RECORDS_FILE
    covered = report.covered
    region: _Region | None = None
    prev, expected, offset, line_no = GENESIS, 1, 0, 0
    seen: _Seen | None = None
    kids: set[str] = set()
    last_ts = ""
    for raw in _lines(path):
        line_no += 1
        start, offset = offset, offset + len(raw)
        content = raw[:-1]
        parsed = _parse(content, RECORD_PREFIX) if raw.endswith(b"\n") else None
        if parsed is None:
            if region is None:
                region = _Region(name, line_no, start, bytearray())
            region.data += raw
            region.partial = not raw.endswith(b"\n")
            continue
        body_bytes, sig, body = parsed
        seq, kid = _int(body, "seq"), body.get("kid")
        data: dict[str, Any] = body["data"] if isinstance(body.get("data"), dict) else {}
        if region is not None:
            if body.get("kind") != "ledger_recovered" or not region.named_by(data.get("torn")):
                raise _TamperedError(
                    Problem(name, region.line, region.offset, None, "not a valid ledger record")
                )
            report.recovered.append({**region.describe(), "recovered_by_seq": seq})
            region = None
        if seq is None or not isinstance(kid, str) or not isinstance(body.get("prev"), str):
            raise _TamperedError(Problem(name, line_no, start, seq, "record lacks seq, prev or kid"))
        if seq != expected:
            reason = (
                f"expected record seq {expected}, found seq {seq} (records deleted, inserted or reordered)"
            )
            raise _TamperedError(Problem(name, line_no, start, seq, reason))
        if kid not in keys:
            raise _TamperedError(Problem(name, line_no, start, seq, f"signed with unknown key {kid!r}"))
        current = _Seen(seq, line_no, start, body_bytes, sig, kid)
        if body["prev"] != prev:
            raise _TamperedError(
                _diagnose(seen, current, keys, "its prev hash does not match the record before it")
            )
        if full or seq > covered:
            report.signatures_checked += 1
            if not signature_ok(keys[kid], RECORD_DOMAIN, body_bytes, sig):
                raise _TamperedError(
                    Problem(name, line_no, start, seq, "signature does not verify (altered or re-signed)")
                )
        digest = line_hash(content)
        for cp in checkpoints.get(seq, ()):
            if cp.head != digest:
                raise _TamperedError(
                    _diagnose(None, current, keys, f"its hash does not match checkpoint #{cp.n}")
                )
            if cp.offset != offset:
                reason = f"checkpoint #{cp.n} ends this record at byte {cp.offset}, the file at {offset}"
                raise _TamperedError(
                    Problem(name, line_no, start, seq, reason + " (bytes inserted or removed)")
                )
        if body.get("kind") == "ledger_recovered":
            for bad in list(bad_checkpoint_regions):
                if bad.named_by(data.get("checkpoints_torn")):
                    bad_checkpoint_regions.remove(bad)
                    report.recovered.append({**bad.describe(), "recovered_by_seq": seq})
        ts = body.get("ts")
        if isinstance(ts, str):
            if ts < last_ts:
                report.warnings.append(f"record seq {seq}: time {ts} is earlier than the record before")
            last_ts = ts
        kids.add(kid)
        prev, expected, seen = digest, seq + 1, current
    count = expected - 1
    report.records, report.head, report.kids = count, (prev if count else None), sorted(kids)
    if region is not None:
        report.torn_tail.insert(0, region.describe())
    if bad_checkpoint_regions:
        bad = bad_checkpoint_regions[0]
        raise _TamperedError(Problem(bad.file, bad.line, bad.offset, None, "not a valid checkpoint"))
    if covered > count:
        reason = f"truncated: the last checkpoint covers {covered} records, the ledger has {count}"
        raise _TamperedError(Problem(name, line_no + 1, offset, count + 1, reason))
    if seen is not None and not full and seen.seq <= covered:
        report.signatures_checked += 1
        if not signature_ok(keys.get(seen.kid), RECORD_DOMAIN, seen.body, seen.sig):
            raise _TamperedError(Problem(name, seen.line, seen.offset, seen.seq, "signature does not verify"))
    if count > covered:
        report.warnings.append(
            f"{count - covered} record(s) after the last checkpoint (a commit in progress or interrupted);"
            " each was verified by its own signature"
        )
    for torn in report.torn_tail:
        report.warnings.append(
            f"torn final write in {torn['file']} at byte {torn['offset']} ({torn['length']} bytes):"
            " never acknowledged, not a record"
        )
    for rec in report.recovered:
        report.warnings.append(
            f"torn write in {rec['file']} at byte {rec['offset']} ({rec['length']} bytes)"
            f" was recovered by record seq {rec['recovered_by_seq']}"
        )


def _diagnose(
    before: _Seen | None, current: _Seen, keys: Mapping[str, Ed25519PublicKey], what: str
) -> Problem:
    """Name the record that was changed when a hash link does not hold."""
    for rec in (before, current):
        if rec is not None and not signature_ok(keys.get(rec.kid), RECORD_DOMAIN, rec.body, rec.sig):
            return Problem(
                RECORDS_FILE,
                rec.line,
                rec.offset,
                rec.seq,
                "signature does not verify (altered or re-signed)",
            )
    return Problem(RECORDS_FILE, current.line, current.offset, current.seq, what)


def verify_directory(directory: Path, *, full: bool = False, keys_file: Path | None = None) -> Report:
    """Verify a bundle or ledger directory holding the two files and a ``jwks.json``."""
    directory = Path(directory)
    keys = load_jwks(keys_file or directory / KEYS_FILE)
    return verify_ledger(directory / RECORDS_FILE, directory / CHECKPOINTS_FILE, keys, full=full)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Verify a VAOS audit ledger bundle.")
    parser.add_argument("directory", nargs="?", default=str(Path(__file__).resolve().parent))
    parser.add_argument("--full", action="store_true", help="verify every signature")
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    args = parser.parse_args(argv)
    report = verify_directory(Path(args.directory), full=args.full)
    if args.json:
        print(json.dumps(report.to_dict(), indent=2))
    else:
        for warning in report.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        if report.ok:
            print(f"intact: {report.records} records, {report.checkpoints} checkpoints, head {report.head}")
        else:
            print(f"TAMPERED: {report.problem}")
    return 0 if report.ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
