"""Memory tools over the vault (``memory_save``, ``memory_recall``, ``vault_remember``,
``vault_context``) and over past conversations (``session_search``)."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from vaos.tools.base import Safety, Tool, ToolArgs, ToolContext, ToolError, ToolServices
from vaos.tools.vault import Vault, VaultError

Category = Literal[
    "fact", "decision", "lesson", "preference", "commitment", "relationship", "project", "observation"
]


def _vault(ctx: ToolContext) -> Vault:
    if ctx.services.vault is None:
        raise ToolError("the memory vault is not available")
    return ctx.services.vault


class _VaultTool(Tool[Any]):
    def unavailable(self, services: ToolServices) -> str | None:
        return None if services.vault is not None else "the memory vault is not open"

    def resources(self, args: Any, services: ToolServices) -> frozenset[str] | None:
        return frozenset({"vault:write" if self.safety != "read_only" else "vault:read"})


class MemorySaveArgs(ToolArgs):
    content: str = Field(min_length=1, max_length=20_000, description="What to remember, in plain words.")
    category: Category = Field(default="fact", description="Kind of memory.")


class MemorySave(_VaultTool):
    name = "memory_save"
    description = (
        "Save something worth remembering across sessions (a fact, decision, preference, lesson...) "
        "to the long-term memory vault."
    )
    args_model = MemorySaveArgs
    safety: Safety = "write"

    async def run(self, args: MemorySaveArgs, ctx: ToolContext) -> str:
        try:
            entry = _vault(ctx).remember(
                args.content, args.category, source="memory_save", session_id=ctx.session_id
            )
        except VaultError as exc:
            raise ToolError(str(exc)) from None
        return f"Saved to long-term memory under [{entry.category}] ({entry.path})."


class VaultRememberArgs(ToolArgs):
    content: str = Field(min_length=1, max_length=20_000)
    category: Category = "fact"
    title: str | None = Field(default=None, max_length=120, description="Short title; same title updates.")
    confidence: float = Field(default=1.0, ge=0.0, le=1.0)


class VaultRemember(_VaultTool):
    name = "vault_remember"
    description = "Store a titled memory in the vault (a Markdown file); the same title updates it."
    args_model = VaultRememberArgs
    safety: Safety = "write"

    async def run(self, args: VaultRememberArgs, ctx: ToolContext) -> str:
        try:
            entry = _vault(ctx).remember(
                args.content,
                args.category,
                title=args.title,
                confidence=args.confidence,
                source="vault_remember",
                session_id=ctx.session_id,
            )
        except VaultError as exc:
            raise ToolError(str(exc)) from None
        return f"Stored in vault [{entry.category}] at {entry.path}."


class MemoryRecallArgs(ToolArgs):
    query: str = Field(min_length=1, max_length=1000, description="What to look for.")
    category: Category | None = Field(default=None, description="Only this kind of memory.")
    limit: int = Field(default=8, ge=1, le=50)


class MemoryRecall(_VaultTool):
    name = "memory_recall"
    description = "Search long-term memory (full text, recent and confident memories first)."
    args_model = MemoryRecallArgs

    async def run(self, args: MemoryRecallArgs, ctx: ToolContext) -> str:
        hits = _vault(ctx).search(
            args.query, categories=[args.category] if args.category else None, limit=args.limit
        )
        if not hits:
            return f"No relevant memories found for: {args.query}"
        return "\n\n".join(
            f"[{h.entry.category}] {h.entry.title} (updated {h.entry.updated[:10]}, score {h.score:.2f})\n"
            f"{h.entry.content}"
            for h in hits
        )


class VaultContextArgs(ToolArgs):
    query: str = Field(default="", max_length=1000, description="Topic; empty gives the latest memories.")
    max_chars: int = Field(default=3000, ge=200, le=20_000)


class VaultContext(_VaultTool):
    name = "vault_context"
    description = "A compact digest of the vault: memories relevant to a topic, or the latest ones."
    args_model = VaultContextArgs

    async def run(self, args: VaultContextArgs, ctx: ToolContext) -> str:
        vault = _vault(ctx)
        if args.query.strip():
            block = vault.context(args.query, args.max_chars, limit=20)
            return block or f"Nothing in the vault about: {args.query}"
        entries = vault.recent(20)
        if not entries:
            return "The vault is empty."
        lines = [f"- [{e.category}] {e.title}" for e in entries]
        return "## Latest memories\n" + "\n".join(lines)[: args.max_chars]


class SessionSearchArgs(ToolArgs):
    query: str = Field(min_length=1, max_length=500, description="Words that past messages contain.")
    limit: int = Field(default=10, ge=1, le=50)


class SessionSearch(Tool[SessionSearchArgs]):
    name = "session_search"
    description = "Search earlier conversations (other sessions) for messages containing these words."
    args_model = SessionSearchArgs

    def unavailable(self, services: ToolServices) -> str | None:
        return None if services.db is not None else "no session store"

    async def run(self, args: SessionSearchArgs, ctx: ToolContext) -> str:
        if ctx.services.db is None:
            raise ToolError("no session store")
        from vaos.store.message_search import search_messages

        rows = await search_messages(
            ctx.services.db, args.query, limit=args.limit, exclude_session=ctx.session_id
        )
        if not rows:
            return f"No sessions found for: {args.query}"
        out = []
        for m in rows:
            text = " ".join(m.content.split())
            out.append(f"[{m.session_id} {m.created_at:%Y-%m-%d %H:%M} {m.role}] {text[:300]}")
        return "\n".join(out)


TOOLS: tuple[type[Tool[Any]], ...] = (MemorySave, MemoryRecall, VaultRemember, VaultContext, SessionSearch)
