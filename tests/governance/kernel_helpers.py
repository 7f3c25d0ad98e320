"""Helpers shared by the governance tests."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from vaos.governance.keys import KeyStore
from vaos.governance.ledger import read_records
from vaos.governance.ledger_verify import CHECKPOINTS_FILE, RECORDS_FILE, Report, verify_ledger

INTENT = "6d8aa9b978c32673fa41ed872aa08b495e5a384c5c6b69d44c012b968d34be7c"  # "Build a REST API"


def verify(home: Path, *, full: bool = False, ledger: Path | None = None) -> Report:
    directory = ledger or home / "ledger"
    keys = KeyStore.open_public(home / "keys")
    return verify_ledger(directory / RECORDS_FILE, directory / CHECKPOINTS_FILE, keys, full=full)


def records(home: Path, kind: str | None = None) -> list[dict[str, Any]]:
    found = read_records(home / "ledger")
    return [r for r in found if kind is None or r["kind"] == kind]


def run_vaos(
    *args: str, env: dict[str, str] | None = None, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """``vaos ARGS`` as a user runs it (a real process; VAOS_HOME from the test's environment)."""
    return subprocess.run(
        [sys.executable, "-c", "from vaos.cli.app import main; main()", *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
    )
