"""How commands report failure: one line on stderr and the contract's exit code."""

from __future__ import annotations

import sys
from typing import NoReturn

EXIT_FAILED = 1
EXIT_BAD_INPUT = 2


class BadInputError(Exception):
    """Input the command cannot accept; reported with exit code 2."""


def fail(message: str, code: int = EXIT_FAILED) -> NoReturn:
    """Print ``vaos: <message>`` on stderr and exit with ``code``."""
    print(f"vaos: {message}", file=sys.stderr)
    raise SystemExit(code)


def bad_input(message: str) -> NoReturn:
    fail(message, EXIT_BAD_INPUT)
