"""Skill tools: ``use_skill`` (load instructions), ``create_skill``, ``skill_manager``."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from vaos.tools.base import Safety, Tool, ToolArgs, ToolContext, ToolError, ToolServices
from vaos.tools.skills import SkillError, SkillLibrary


def _library(ctx: ToolContext) -> SkillLibrary:
    if ctx.services.skills is None:
        raise ToolError("skills are not available")
    return ctx.services.skills


class _SkillTool(Tool[Any]):
    def unavailable(self, services: ToolServices) -> str | None:
        return None if services.skills is not None else "no skills directory"

    def resources(self, args: Any, services: ToolServices) -> frozenset[str] | None:
        return frozenset({"skills:write" if self.safety != "read_only" else "skills:read"})


class UseSkillArgs(ToolArgs):
    skill_name: str = Field(description="Name of the skill.")
    task: str = Field(default="", max_length=5000, description="The task to apply it to.")


class UseSkill(_SkillTool):
    name = "use_skill"
    description = "Load a skill's instructions (from $VAOS_HOME/skills) to follow for the current task."
    args_model = UseSkillArgs

    async def run(self, args: UseSkillArgs, ctx: ToolContext) -> str:
        skill = _library(ctx).get(args.skill_name)
        if skill is None or not skill.enabled:
            names = ", ".join(s.name for s in _library(ctx).enabled()) or "(none)"
            raise ToolError(f"no enabled skill named {args.skill_name!r}; skills: {names}")
        task = f"\n\n## Current task\n{args.task}" if args.task else ""
        return f"# Skill: {skill.name}\n\n{skill.instructions}{task}\n\nFollow these instructions now."


class CreateSkillArgs(ToolArgs):
    name: str = Field(description="Lowercase name: letters, digits, '-' and '_'.")
    description: str = Field(min_length=1, max_length=500)
    instructions: str = Field(min_length=1, max_length=50_000)
    triggers: list[str] | None = Field(default=None, max_length=20, description="Words that activate it.")
    tools: list[str] | None = None
    force: bool = Field(default=False, description="Create even if similar skills exist; overwrite.")


class CreateSkill(_SkillTool):
    name = "create_skill"
    description = "Save a reusable skill (instructions for a kind of task) to $VAOS_HOME/skills."
    args_model = CreateSkillArgs
    safety: Safety = "write"

    async def run(self, args: CreateSkillArgs, ctx: ToolContext) -> str:
        library = _library(ctx)
        if not args.force:
            similar = [s for s in library.search(args.description, limit=5) if s.name != args.name]
            if similar or library.get(args.name) is not None:
                names = ", ".join(s.name for s in similar) or args.name
                return f"Similar skills exist: {names}. Use one of them, or call again with force=true."
        try:
            skill = library.create(
                args.name,
                args.description,
                args.instructions,
                triggers=args.triggers,
                tools=args.tools,
                overwrite=args.force,
            )
        except SkillError as exc:
            raise ToolError(str(exc)) from None
        return f"Created skill {skill.name} at {skill.path}."


class SkillManagerArgs(ToolArgs):
    action: Literal["list", "search", "enable", "disable", "delete", "reload"]
    name: str | None = None
    query: str | None = None


class SkillManager(_SkillTool):
    name = "skill_manager"
    description = "Manage skills: list, search, enable, disable, delete, reload."
    args_model = SkillManagerArgs
    safety: Safety = "write"

    async def run(self, args: SkillManagerArgs, ctx: ToolContext) -> str:
        library = _library(ctx)
        try:
            if args.action == "list":
                skills = library.all()
                if not skills:
                    return f"No skills in {library.root}."
                return "\n".join(
                    f"- {s.name} [{'active' if s.enabled else 'disabled'}]: {s.description}" for s in skills
                )
            if args.action == "search":
                found = library.search(args.query or "")
                return "\n".join(f"- {s.name}: {s.description}" for s in found) or "No matching skills."
            if args.action == "reload":
                library.reload()
                return f"Reloaded {len(library.all())} skills."
            if not args.name:
                raise ToolError(f"{args.action} needs name")
            if args.action == "delete":
                library.delete(args.name)
                return f"Deleted skill {args.name}."
            skill = library.set_enabled(args.name, args.action == "enable")
            return f"Skill {skill.name} {'enabled' if skill.enabled else 'disabled'}."
        except SkillError as exc:
            raise ToolError(str(exc)) from None


TOOLS: tuple[type[Tool[Any]], ...] = (UseSkill, CreateSkill, SkillManager)
