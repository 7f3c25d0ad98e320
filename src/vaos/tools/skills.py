"""Skills: ``$VAOS_HOME/skills/<name>/SKILL.md`` — instructions the agent can load.

Front matter ``name`` (default: the directory), ``description``, ``triggers`` (words or
phrases; a message containing one gets the skill's instructions in its context) and
``tools``; the body is the instructions. A ``.disabled`` file in the directory turns a skill
off (it is then neither listed to the model nor triggered). Skills are created, enabled,
disabled and deleted only by name (``^[a-z][a-z0-9_-]{0,63}$``), so no path reaches the disk.
"""

from __future__ import annotations

import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaos.tools import front_matter

SKILL_FILE = "SKILL.md"
DISABLED_FILE = ".disabled"
NAME = re.compile(r"^[a-z][a-z0-9_-]{0,63}$")
MAX_SKILL_BYTES = 200_000


class SkillError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Skill:
    name: str
    description: str
    instructions: str
    triggers: tuple[str, ...] = ()
    tools: tuple[str, ...] = ()
    enabled: bool = True
    path: str = ""

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "description": self.description,
            "triggers": list(self.triggers),
            "tools": list(self.tools),
            "enabled": self.enabled,
            "path": self.path,
        }

    def triggered_by(self, text: str) -> bool:
        lowered = text.lower()
        for trigger in self.triggers:
            word = trigger.strip().lower()
            if len(word) < 3 or word in ("*", "always", "auto"):
                continue  # the original's wildcard triggers fired on every message
            if re.search(rf"(?<!\w){re.escape(word)}(?!\w)", lowered):
                return True
        return False


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME.match(name):
        raise SkillError(f"invalid skill name {name!r}: lowercase letters, digits, '-' and '_' (1-64)")
    return name


def _as_tuple(value: Any) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(str(v).strip() for v in value if str(v).strip())
    if isinstance(value, str) and value.strip():
        return tuple(part.strip() for part in re.split(r"[|,]", value) if part.strip())
    return ()


class SkillLibrary:
    def __init__(self, root: Path) -> None:
        self.root = Path(root)
        self._skills: dict[str, Skill] = {}
        self.errors: dict[str, str] = {}
        self.reload()

    def reload(self) -> None:
        skills: dict[str, Skill] = {}
        errors: dict[str, str] = {}
        if self.root.is_dir():
            for folder in sorted(self.root.iterdir()):
                file = folder / SKILL_FILE
                if not folder.is_dir() or not file.is_file():
                    continue
                try:
                    skill = self._load(folder, file)
                except (OSError, UnicodeDecodeError, SkillError) as exc:
                    errors[folder.name] = str(exc)
                    continue
                skills[skill.name] = skill
        self._skills, self.errors = skills, errors

    def _load(self, folder: Path, file: Path) -> Skill:
        if file.stat().st_size > MAX_SKILL_BYTES:
            raise SkillError(f"{file} is larger than {MAX_SKILL_BYTES} bytes")
        meta, body = front_matter.split(file.read_text(encoding="utf-8"))
        name = str(meta.get("name") or folder.name).strip()
        description = str(meta.get("description") or "").strip() or " ".join(body.split())[:100]
        triggers = _as_tuple(meta.get("triggers") or meta.get("trigger_keywords") or meta.get("trigger"))
        return Skill(
            name=name,
            description=description,
            instructions=body.strip(),
            triggers=triggers,
            tools=_as_tuple(meta.get("tools")),
            enabled=not (folder / DISABLED_FILE).exists(),
            path=str(file),
        )

    def all(self) -> list[Skill]:
        return list(self._skills.values())

    def enabled(self) -> list[Skill]:
        return [s for s in self._skills.values() if s.enabled]

    def get(self, name: str) -> Skill | None:
        return self._skills.get(name)

    def triggered(self, text: str) -> list[Skill]:
        return [s for s in self.enabled() if s.triggered_by(text)]

    def search(self, query: str, limit: int = 10) -> list[Skill]:
        words = [w for w in re.findall(r"[a-z0-9]+", query.lower()) if len(w) > 2]
        if not words:
            return []
        scored: list[tuple[float, Skill]] = []
        for skill in self._skills.values():
            hay = f"{skill.name} {skill.description} {' '.join(skill.triggers)}".lower()
            score = sum(1.0 for w in words if w in hay) / len(words)
            if score > 0:
                scored.append((score, skill))
        scored.sort(key=lambda item: (-item[0], item[1].name))
        return [s for _, s in scored[:limit]]

    def create(
        self,
        name: str,
        description: str,
        instructions: str,
        *,
        triggers: list[str] | None = None,
        tools: list[str] | None = None,
        overwrite: bool = False,
    ) -> Skill:
        check_name(name)
        folder = self.root / name
        file = folder / SKILL_FILE
        if file.exists() and not overwrite:
            raise SkillError(f"skill {name!r} already exists")
        meta: dict[str, Any] = {"name": name, "description": description.strip()}
        if triggers:
            meta["triggers"] = [t.strip() for t in triggers if t.strip()]
        if tools:
            meta["tools"] = list(tools)
        folder.mkdir(parents=True, exist_ok=True)
        file.write_text(front_matter.render(meta, instructions.strip()), encoding="utf-8")
        self.reload()
        skill = self._skills.get(name)
        assert skill is not None
        return skill

    def set_enabled(self, name: str, enabled: bool) -> Skill:
        check_name(name)
        if name not in self._skills:
            raise SkillError(f"unknown skill {name!r}")
        marker = self.root / name / DISABLED_FILE
        if enabled:
            marker.unlink(missing_ok=True)
        else:
            marker.touch()
        self.reload()
        return self._skills[name]

    def delete(self, name: str) -> None:
        check_name(name)
        folder = self.root / name
        if not (folder / SKILL_FILE).is_file():
            raise SkillError(f"unknown skill {name!r}")
        shutil.rmtree(folder)
        self.reload()

    def context(self, text: str, max_chars: int = 4000) -> str:
        """The skills block of the system prompt: the list, plus instructions of triggered ones."""
        enabled = self.enabled()
        if not enabled:
            return ""
        lines = ["## Skills", "Load one with use_skill when it fits the task:"]
        lines += [f"- {s.name}: {s.description}" for s in enabled]
        for skill in self.triggered(text):
            lines += ["", f"### Active skill: {skill.name}", skill.instructions]
        block = "\n".join(lines)
        return block if len(block) <= max_chars else block[: max_chars - 20] + "\n[skills truncated]"
