"""Markdown with a front matter block: ``---`` / ``key: value`` lines / ``---`` / body.

Reads the YAML subset people write by hand in SKILL.md and vault files (scalars, quoted
strings, ``[a, b]`` and ``- item`` lists) without a YAML dependency; writes values as JSON,
which every YAML parser reads back unchanged.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

_KEY = re.compile(r"^([A-Za-z_][A-Za-z0-9_.-]*)\s*:\s*(.*)$")


def split(text: str) -> tuple[dict[str, Any], str]:
    """``(front matter, body)``; no front matter gives ``({}, text)``."""
    if not text.startswith("---"):
        return {}, text
    lines = text.splitlines()
    if not lines or lines[0].strip() != "---":
        return {}, text
    for end in range(1, len(lines)):
        if lines[end].strip() == "---":
            meta = parse(lines[1:end])
            body = "\n".join(lines[end + 1 :])
            return meta, body.lstrip("\n")
    return {}, text


def parse(lines: list[str]) -> dict[str, Any]:
    meta: dict[str, Any] = {}
    key: str | None = None
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        stripped = line.strip()
        if stripped.startswith("- ") and key is not None and line[:1] in (" ", "\t", "-"):
            current = meta.get(key)
            if not isinstance(current, list):
                current = []
                meta[key] = current
            current.append(_scalar(stripped[2:].strip()))
            continue
        match = _KEY.match(line)
        if match is None:
            continue
        key, raw = match.group(1), match.group(2).strip()
        meta[key] = _scalar(raw) if raw else ""
    return meta


def _scalar(raw: str) -> Any:
    if not raw:
        return ""
    if raw[0] in '"[{' or raw in ("true", "false", "null") or _NUMBER.match(raw):
        try:
            return json.loads(raw)
        except ValueError:
            pass
    if raw[0] == "[" and raw[-1] == "]":
        return [_scalar(part.strip()) for part in raw[1:-1].split(",") if part.strip()]
    if len(raw) >= 2 and raw[0] == raw[-1] == "'":
        return raw[1:-1].replace("''", "'")
    return raw


_NUMBER = re.compile(r"^-?\d+(\.\d+)?([eE][-+]?\d+)?$")


def render(meta: Mapping[str, Any], body: str) -> str:
    lines = ["---"]
    for key, value in meta.items():
        if value is None:
            continue
        lines.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    lines.append("---")
    return "\n".join(lines) + "\n\n" + body.rstrip("\n") + "\n"
