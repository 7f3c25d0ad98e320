"""What a message must be before it is classified."""

from __future__ import annotations

DEFAULT_MAX_BYTES = 1_000_000


class InvalidMessageError(ValueError):
    """A message that cannot be classified; the text says why."""


def validate_message(text: str, max_bytes: int = DEFAULT_MAX_BYTES) -> str:
    """Return ``text`` when it is a non-blank, valid UTF-8 string within ``max_bytes``."""
    if not isinstance(text, str):
        raise InvalidMessageError(f"message must be text, not {type(text).__name__}")
    if not text.strip():
        raise InvalidMessageError("message is empty or whitespace only")
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidMessageError("message is not valid UTF-8 text") from None
    if size > max_bytes:
        raise InvalidMessageError(f"message is {size} bytes, over the limit of {max_bytes} bytes")
    return text
