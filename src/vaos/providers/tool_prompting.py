"""Tool calls for models without a native tool API (the embedded model, Replicate).

The tools are described in a system message and the model answers with one JSON object:
``{"tool": NAME, "arguments": {...}}`` to call a tool or ``{"answer": TEXT}`` to answer.
``answer_schema`` is that contract as a JSON schema, which the embedded model enforces with a
grammar; for other models ``parse_reply`` finds the object in free text.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Sequence
from typing import Any

from vaos.providers.types import Message, ToolCall, ToolChoice, ToolSpec


def tools_system_prompt(tools: Sequence[ToolSpec], choice: ToolChoice) -> str:
    lines = ["You can call these tools:"]
    for tool in tools:
        params = json.dumps(dict(tool.parameters).get("properties", {}), separators=(",", ":"))
        lines.append(f"- {tool.name}: {tool.description or 'no description'} Arguments: {params}")
    lines.append(
        'Reply with exactly one JSON object: {"tool": "<tool name>", "arguments": {...}} to call a tool'
        + ("." if choice == "required" else ', or {"answer": "<your answer>"} to answer directly.')
    )
    return "\n".join(lines)


def answer_schema(tools: Sequence[ToolSpec], choice: ToolChoice) -> dict[str, Any]:
    options: list[dict[str, Any]] = []
    if choice != "required":
        options.append(
            {
                "type": "object",
                "properties": {"answer": {"type": "string"}},
                "required": ["answer"],
                "additionalProperties": False,
            }
        )
    for tool in tools:
        params = dict(tool.parameters) or {"type": "object"}
        options.append(
            {
                "type": "object",
                "properties": {"tool": {"const": tool.name}, "arguments": params},
                "required": ["tool", "arguments"],
                "additionalProperties": False,
            }
        )
    return options[0] if len(options) == 1 else {"anyOf": options}


def render_messages(messages: Sequence[Message], system_extra: str | None) -> list[dict[str, str]]:
    """Plain role/content messages: tool calls and results written out as text."""
    out: list[dict[str, str]] = []
    system = [m.content for m in messages if m.role == "system"]
    if system_extra:
        system.append(system_extra)
    if system:
        out.append({"role": "system", "content": "\n\n".join(system)})
    for m in messages:
        if m.role == "system":
            continue
        if m.role == "tool":
            out.append({"role": "user", "content": f"Result of tool {m.name or ''}: {m.content}"})
        elif m.role == "assistant" and m.tool_calls:
            call = m.tool_calls[0]
            out.append(
                {"role": "assistant", "content": json.dumps({"tool": call.name, "arguments": call.arguments})}
            )
        else:
            out.append({"role": m.role, "content": m.content})
    return out


def parse_reply(text: str, tools: Sequence[ToolSpec]) -> tuple[str, tuple[ToolCall, ...]]:
    """``(answer text, tool calls)`` from a reply that should hold the JSON contract."""
    names = {t.name for t in tools}
    value = _first_object(text)
    if isinstance(value, dict):
        name = value.get("tool")
        if isinstance(name, str) and name in names:
            args = value.get("arguments")
            call = ToolCall(f"call_{uuid.uuid4().hex[:24]}", name, args if isinstance(args, dict) else {})
            return "", (call,)
        answer = value.get("answer")
        if isinstance(answer, str):
            return answer, ()
    return text.strip(), ()


def _first_object(text: str) -> Any:
    decoder = json.JSONDecoder()
    start = text.find("{")
    while start != -1:
        try:
            value, _ = decoder.raw_decode(text, start)
            return value
        except ValueError:
            start = text.find("{", start + 1)
    return None
