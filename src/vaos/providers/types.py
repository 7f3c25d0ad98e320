"""The shapes every provider speaks: messages in, text deltas, tool calls and usage out.

Plain frozen dataclasses (no validation on the hot path); the edges validate with pydantic.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "user", "assistant", "tool"]
ToolChoice = Literal["auto", "required", "none"]
FinishReason = Literal["stop", "length", "tool_calls", "content_filter", "error", "unknown"]


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A call the model asks for: ``arguments`` is already decoded JSON."""

    id: str
    name: str
    arguments: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "name": self.name, "arguments": self.arguments}


@dataclass(frozen=True, slots=True)
class ToolSpec:
    """A tool offered to the model: ``parameters`` is a JSON schema of an object."""

    name: str
    description: str = ""
    parameters: Mapping[str, Any] = field(default_factory=lambda: {"type": "object", "properties": {}})


@dataclass(frozen=True, slots=True)
class Message:
    """One chat message. ``tool`` messages answer ``tool_call_id`` (and name the tool)."""

    role: Role
    content: str = ""
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    name: str | None = None

    @classmethod
    def system(cls, content: str) -> Message:
        return cls("system", content)

    @classmethod
    def user(cls, content: str) -> Message:
        return cls("user", content)

    @classmethod
    def assistant(cls, content: str = "", tool_calls: Sequence[ToolCall] = ()) -> Message:
        return cls("assistant", content, tuple(tool_calls))

    @classmethod
    def tool_result(cls, call: ToolCall, content: str) -> Message:
        return cls("tool", content, tool_call_id=call.id, name=call.name)


@dataclass(frozen=True, slots=True)
class Usage:
    """Tokens of one call (or a sum of calls)."""

    input_tokens: int = 0
    output_tokens: int = 0
    cache_read_tokens: int = 0
    cache_write_tokens: int = 0

    def __add__(self, other: Usage) -> Usage:
        return Usage(
            self.input_tokens + other.input_tokens,
            self.output_tokens + other.output_tokens,
            self.cache_read_tokens + other.cache_read_tokens,
            self.cache_write_tokens + other.cache_write_tokens,
        )

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def to_dict(self) -> dict[str, int]:
        return dataclasses.asdict(self)


@dataclass(frozen=True, slots=True)
class Request:
    """What to ask a model. ``model`` None means the provider's default.

    ``json_schema`` asks for a JSON object matching the schema (structured output);
    ``timeout`` bounds the whole call in seconds (None: the provider's default).
    """

    messages: tuple[Message, ...]
    model: str | None = None
    tools: tuple[ToolSpec, ...] = ()
    tool_choice: ToolChoice = "auto"
    temperature: float | None = None
    max_tokens: int | None = None
    json_schema: Mapping[str, Any] | None = None
    stop: tuple[str, ...] = ()
    timeout: float | None = None

    @classmethod
    def of(cls, prompt: str, *, system: str | None = None, **kwargs: Any) -> Request:
        """A request with one user message (and an optional system message)."""
        messages = (Message.system(system),) if system else ()
        return cls((*messages, Message.user(prompt)), **kwargs)

    def with_model(self, model: str | None) -> Request:
        return dataclasses.replace(self, model=model)

    def replace(self, **changes: Any) -> Request:
        return dataclasses.replace(self, **changes)


@dataclass(frozen=True, slots=True)
class Completion:
    """A finished answer: text, tool calls, usage and why it stopped."""

    text: str
    provider: str
    model: str
    tool_calls: tuple[ToolCall, ...] = ()
    usage: Usage = Usage()
    finish_reason: FinishReason = "stop"

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "provider": self.provider,
            "model": self.model,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
            "usage": self.usage.to_dict(),
            "finish_reason": self.finish_reason,
        }


# -- stream events ----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TextDelta:
    """A piece of the answer's text."""

    text: str


@dataclass(frozen=True, slots=True)
class ToolCallEvent:
    """A complete tool call (arguments are assembled before it is emitted)."""

    call: ToolCall


@dataclass(frozen=True, slots=True)
class Done:
    """The last event of a successful stream: the whole completion."""

    completion: Completion


StreamEvent = TextDelta | ToolCallEvent | Done
