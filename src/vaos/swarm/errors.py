"""What the swarm layer raises. Front ends map them: bad input to exit 2 / HTTP 4xx."""

from __future__ import annotations


class SwarmError(Exception):
    """Base of the swarm errors."""


class SwarmInputError(SwarmError, ValueError):
    """A task, pattern, agent list or limit the swarm cannot accept (exit 2, HTTP 400/422)."""


class SwarmNotFoundError(SwarmError, LookupError):
    """No swarm has that id (HTTP 404)."""


class SwarmStateError(SwarmError):
    """The swarm is not in a state that allows the operation, e.g. cancelling a finished one."""


class SwarmBusyError(SwarmError):
    """Too many swarms are running in this process (``VAOS_SWARM__MAX_ACTIVE``)."""


class SwarmRefusedError(SwarmError):
    """Governance refused the ``swarm_launch`` action (the reason is in the message)."""


class SwarmUnavailableError(SwarmError):
    """Something the swarm needs is missing: the agent runtime, the broker for ``queue``."""
