"""The mailbox: how the agents of one swarm message each other.

Every finished agent's output is posted from its member name (by the store, in the same
transaction as the result, so a redelivered task posts once); patterns and callers post
more, broadcast or to one member. What an agent is shown is bounded: the newest messages
that fit ``mailbox_chars``, each cut to a share of it — never the whole history.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vaos.store.swarms import SwarmStore

MIN_MESSAGE_CHARS = 200


class Mailbox:
    def __init__(self, store: SwarmStore, swarm_id: str, *, max_chars: int = 6000) -> None:
        self.store = store
        self.swarm_id = swarm_id
        self.max_chars = max_chars

    async def post(self, sender: str, message: str, *, to: str | None = None) -> int:
        """Post ``message`` from ``sender`` to everyone, or only to member ``to``."""
        return await self.store.post_message(self.swarm_id, sender, message, recipient=to)

    async def read(self, reader: str | None = None, *, after: int = 0) -> list[dict[str, Any]]:
        """Messages oldest first: all of them, or those ``reader`` may see (not its own)."""
        return await self.store.messages(self.swarm_id, reader=reader, after=after)

    async def context(self, reader: str, *, senders: set[str] | None = None) -> str | None:
        """The peer messages for ``reader``'s prompt, or None when there are none."""
        messages = await self.read(reader)
        if senders is not None:
            messages = [m for m in messages if m["from"] in senders]
        return format_context(messages, self.max_chars)


def format_context(messages: list[dict[str, Any]], max_chars: int) -> str | None:
    if not messages or max_chars <= 0:
        return None
    per_message = max(MIN_MESSAGE_CHARS, max_chars // max(1, len(messages)))
    lines: list[str] = []
    used = 0
    for message in reversed(messages):  # newest first, until the budget is spent
        body = " ".join(str(message["message"]).split())
        if len(body) > per_message:
            body = body[: per_message - 1] + "…"
        to = f" → {message['to']}" if message.get("to") else ""
        line = f"[{message['from']}{to}]: {body}"
        if used + len(line) > max_chars and lines:
            break
        lines.append(line)
        used += len(line)
    lines.reverse()
    skipped = len(messages) - len(lines)
    header = "## Messages from your team (mailbox)"
    if skipped:
        header += f" — {skipped} older message(s) not shown"
    return header + "\n" + "\n".join(lines)
