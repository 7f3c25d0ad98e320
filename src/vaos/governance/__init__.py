"""Governance: the kernel (tokens, policy, audit ledger) and the client the rest of VAOS uses.

Public names are imported lazily, so ``import vaos.governance`` costs nothing until one is
used:

- ``Governance``, ``Authorization``, ``open_governance`` (``gate``): authorise an action,
  confirm its audit, log routing decisions; the governance modes.
- ``KernelClient``, ``Token``, ``AuditReceipt`` (``client``): the four RPCs.
- ``KernelServer`` (``server``): the kernel itself (gRPC + JWKS).
- ``KeyStore`` (``keys``): kernel keys, JWKS, ``sign_jws`` / ``verify_jws``.
- ``Policy`` (``policy``), ``Ledger`` / ``LedgerWriter`` / ``read_records`` / ``verify_home``
  (``ledger``), ``verify_ledger`` (``ledger_verify``).
- the errors (``errors``).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS = {
    "Governance": "gate",
    "Authorization": "gate",
    "open_governance": "gate",
    "KernelClient": "client",
    "Token": "client",
    "AuditReceipt": "client",
    "KernelServer": "server",
    "KeyStore": "keys",
    "verify_jws": "keys",
    "Policy": "policy",
    "Ledger": "ledger",
    "LedgerWriter": "ledger",
    "read_records": "ledger",
    "verify_home": "ledger",
    "verify_ledger": "ledger_verify",
    "GovernanceError": "errors",
    "ActionRefused": "errors",
    "KernelRefused": "errors",
    "KernelUnavailable": "errors",
    "LedgerError": "errors",
    "JWSError": "errors",
}

__all__ = [
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

if TYPE_CHECKING:
    from vaos.governance.client import AuditReceipt, KernelClient, Token
    from vaos.governance.errors import (
        ActionRefused,
        GovernanceError,
        JWSError,
        KernelRefused,
        KernelUnavailable,
        LedgerError,
    )
    from vaos.governance.gate import Authorization, Governance, open_governance
    from vaos.governance.keys import KeyStore, verify_jws
    from vaos.governance.ledger import Ledger, LedgerWriter, read_records, verify_home
    from vaos.governance.ledger_verify import verify_ledger
    from vaos.governance.policy import Policy
    from vaos.governance.server import KernelServer


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'vaos.governance' has no attribute {name!r}")
    return getattr(import_module(f"vaos.governance.{module}"), name)
