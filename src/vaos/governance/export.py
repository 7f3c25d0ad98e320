"""``vaos audit export``: a self-contained bundle anyone can verify without VAOS.

A ``.tar.gz`` with one directory holding::

    records.jsonl, checkpoints.jsonl   the ledger, byte for byte
    jwks.json                          every public key that signed it
    verify.py                          the verifier (stdlib + ``cryptography``)
    manifest.json                      counts, chain head, SHA-256 of each file
    README.txt                         how to verify

The checkpoints are copied before the records, so a kernel appending meanwhile can only add
records after the last checkpoint (reported as such by the verifier, never as tampering).
"""

from __future__ import annotations

import hashlib
import shutil
import tarfile
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from vaos import __version__
from vaos.governance import ledger_verify
from vaos.governance.ledger_verify import CHECKPOINTS_FILE, KEYS_FILE, RECORDS_FILE

README = """VAOS audit ledger bundle
========================

Verify it (Python 3.11+ and the `cryptography` package; nothing else):

    python verify.py .            # chain, checkpoints, head and checkpoint signatures
    python verify.py . --full     # every signature as well
    python verify.py . --json     # the report as JSON

Exit status 0 means intact, 1 means tampered (the first bad record and why are printed).
The format is described at the top of verify.py. Compare the keys in jwks.json with the
kernel keys you trust (kid = RFC 7638 thumbprint) before trusting the result.
"""


def export_bundle(ledger_dir: Path, jwks: dict[str, Any], out: Path) -> dict[str, Any]:
    """Write the bundle to ``out`` (a .tar.gz); returns its manifest."""
    ledger_dir, out = Path(ledger_dir), Path(out)
    name = out.name.removesuffix(".gz").removesuffix(".tgz").removesuffix(".tar") or "vaos-audit"
    with tempfile.TemporaryDirectory() as tmp:
        stage = Path(tmp) / name
        stage.mkdir()
        for filename in (CHECKPOINTS_FILE, RECORDS_FILE):  # checkpoints first: see the docstring
            source = ledger_dir / filename
            if source.exists():
                shutil.copyfile(source, stage / filename)
            else:
                (stage / filename).write_bytes(b"")
        (stage / KEYS_FILE).write_bytes(orjson.dumps(jwks, option=orjson.OPT_INDENT_2) + b"\n")
        (stage / "verify.py").write_text(
            Path(ledger_verify.__file__).read_text(encoding="utf-8"), encoding="utf-8"
        )
        (stage / "README.txt").write_text(README, encoding="utf-8")
        report = ledger_verify.verify_directory(stage)
        manifest = {
            "format": "vaos-audit-bundle",
            "version": 1,
            "created_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "vaos_version": __version__,
            "records": report.records,
            "checkpoints": report.checkpoints,
            "head": report.head,
            "intact_at_export": report.ok,
            "files": {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(stage.iterdir())},
        }
        (stage / "manifest.json").write_bytes(orjson.dumps(manifest, option=orjson.OPT_INDENT_2) + b"\n")
        out.parent.mkdir(parents=True, exist_ok=True)
        partial = out.with_name(out.name + ".partial")
        with tarfile.open(partial, "w:gz") as tar:
            for path in sorted(stage.iterdir()):
                info = tar.gettarinfo(str(path), arcname=f"{name}/{path.name}")
                info.uid = info.gid = 0
                info.uname = info.gname = ""
                info.mode = 0o755 if path.name == "verify.py" else 0o644
                with path.open("rb") as f:
                    tar.addfile(info, f)
        partial.replace(out)
    return manifest
