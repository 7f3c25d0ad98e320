"""The exceptions of the governance layer, one base class for callers that want them all."""

from __future__ import annotations


class GovernanceError(Exception):
    """Base class of every governance error."""


class KeyStoreError(GovernanceError):
    """The kernel keys cannot be read, created or used (missing, unreadable, too open)."""


class JWSError(GovernanceError):
    """A compact JWS (token or signed command) failed verification; ``str()`` says why."""


class PolicyError(GovernanceError):
    """The kernel policy file is invalid."""


class LedgerError(GovernanceError):
    """The audit ledger cannot be opened or appended to."""


class LedgerLocked(LedgerError):  # noqa: N818 - reads as what happened
    """Another kernel process holds the ledger."""


class KernelUnavailable(GovernanceError):  # noqa: N818 - reads as what happened
    """The kernel could not be reached (transport error, deadline, open circuit)."""


class KernelRefused(GovernanceError):  # noqa: N818 - reads as what happened
    """The kernel answered and refused; ``reason`` is its reason, ``refusal_id`` its ledger record."""

    def __init__(self, reason: str, refusal_id: str = "") -> None:
        super().__init__(reason)
        self.reason = reason
        self.refusal_id = refusal_id


class ActionRefused(GovernanceError):  # noqa: N818 - reads as what happened
    """In ``enforce`` mode: no token, so the action was not performed."""

    def __init__(self, action_type: str, reason: str, refusal_id: str = "") -> None:
        super().__init__(f"action {action_type!r} refused: {reason}")
        self.action_type = action_type
        self.reason = reason
        self.refusal_id = refusal_id
