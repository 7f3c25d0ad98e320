"""The built-in tools, one module per family; ``builtin_tools()`` lists them all."""

from __future__ import annotations

from typing import Any

from vaos.tools.base import Tool


def builtin_tools() -> list[Tool[Any]]:
    from vaos.tools.builtin import code, files, git, interaction, memory, shell, skills, tasks, web

    families = (files, code, shell, git, web, memory, tasks, skills, interaction)
    return [cls() for family in families for cls in family.TOOLS]
