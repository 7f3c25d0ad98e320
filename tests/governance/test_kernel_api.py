"""The public surface of ``vaos.governance``: pinned names, lazy imports."""

from __future__ import annotations

import subprocess
import sys

import vaos.governance as governance

PUBLIC = [
    "ActionRefused",
    "AuditReceipt",
    "Authorization",
    "Governance",
    "GovernanceError",
    "JWSError",
    "KernelClient",
    "KernelRefused",
    "KernelServer",
    "KernelUnavailable",
    "KeyStore",
    "Ledger",
    "LedgerError",
    "LedgerWriter",
    "Policy",
    "Token",
    "open_governance",
    "read_records",
    "verify_home",
    "verify_jws",
    "verify_ledger",
]


def test_exported_names_are_pinned() -> None:
    assert governance.__all__ == PUBLIC
    for name in PUBLIC:
        assert getattr(governance, name) is not None


def test_importing_the_package_loads_nothing_heavy() -> None:
    code = (
        "import sys, vaos.governance; "
        "print(sorted(m for m in ('grpc', 'aiohttp', 'cryptography') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
