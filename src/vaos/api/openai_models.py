"""The OpenAI Chat Completions wire format, as far as VAOS speaks it (pydantic models).

Requests are lenient where OpenAI clients differ (unknown fields are ignored, as OpenAI-
compatible servers usually do) and strict where a mistake would change the answer: roles,
tool definitions, tool-call arguments, ``n`` (only 1), non-text content (refused).
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vaos.api.schemas import SESSION_ID_PATTERN, SignalOut


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore", strict=True, allow_inf_nan=False)


class FunctionDefinition(_Lenient):
    name: str = Field(pattern=r"^[A-Za-z0-9_.:-]{1,64}$")
    description: str | None = Field(default=None, max_length=100_000)
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class ToolDefinition(_Lenient):
    type: Literal["function"]
    function: FunctionDefinition


class FunctionCall(_Lenient):
    name: str = Field(min_length=1, max_length=64)
    arguments: str = Field(max_length=1_000_000, description="JSON object, as a string.")


class ToolCall(_Lenient):
    id: str = Field(min_length=1, max_length=200)
    type: Literal["function"] = "function"
    function: FunctionCall


class ContentPart(BaseModel):
    model_config = ConfigDict(extra="allow", strict=True, allow_inf_nan=False)

    type: str = Field(min_length=1, max_length=64)
    text: str | None = None


class ChatMessage(_Lenient):
    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[ContentPart] | None = None
    name: str | None = Field(default=None, max_length=64)
    tool_calls: list[ToolCall] | None = Field(default=None, max_length=128)
    tool_call_id: str | None = Field(default=None, max_length=200)


class NamedFunction(_Lenient):
    name: str = Field(min_length=1, max_length=64)


class NamedToolChoice(_Lenient):
    type: Literal["function"]
    function: NamedFunction


class StreamOptions(_Lenient):
    include_usage: bool = False


class JsonSchemaFormat(_Lenient):
    name: str = Field(default="response", max_length=64)
    schema_: dict[str, Any] | None = Field(default=None, alias="schema")
    strict: bool | None = None


class ResponseFormat(_Lenient):
    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None


class ChatCompletionRequest(_Lenient):
    """``POST /v1/chat/completions``. ``model``: a model id, a tier (``utility``,
    ``specialist``, ``elite``) or ``auto`` (classify the last user message and route)."""

    model: str = Field(min_length=1, max_length=200)
    messages: list[ChatMessage] = Field(min_length=1, max_length=10_000)
    stream: bool = False
    stream_options: StreamOptions | None = None
    tools: list[ToolDefinition] | None = Field(default=None, max_length=512)
    tool_choice: Literal["none", "auto", "required"] | NamedToolChoice | None = None
    temperature: float | None = Field(default=None, ge=0, le=2)
    top_p: float | None = Field(default=None, ge=0, le=1)
    max_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    max_completion_tokens: int | None = Field(default=None, ge=1, le=1_000_000)
    stop: str | list[str] | None = None
    n: int | None = Field(default=None, ge=1, le=128)
    response_format: ResponseFormat | None = None
    user: str | None = Field(default=None, max_length=256)
    session_id: str | None = Field(
        default=None,
        pattern=SESSION_ID_PATTERN,
        description="VAOS extension: the session for budgets, events (SSE) and audit records.",
    )


# -- responses (for the OpenAPI document; the routes write these shapes with orjson) -----


class FunctionCallOut(BaseModel):
    name: str
    arguments: str


class ToolCallOut(BaseModel):
    id: str
    type: Literal["function"]
    function: FunctionCallOut


class AssistantMessage(BaseModel):
    role: Literal["assistant"]
    content: str | None
    refusal: None = None
    tool_calls: list[ToolCallOut] | None = None


class Choice(BaseModel):
    index: int
    message: AssistantMessage
    finish_reason: Literal["stop", "length", "tool_calls", "content_filter"]
    logprobs: None = None


class CompletionUsage(BaseModel):
    prompt_tokens: int
    completion_tokens: int
    total_tokens: int


class VaosInfo(BaseModel):
    """What VAOS decided for this completion (an extension field)."""

    model_config = ConfigDict(extra="allow")

    tier: str
    provider: str
    model: str
    cost_usd: float | None
    session_id: str | None
    signal: SignalOut


class ChatCompletion(BaseModel):
    id: str
    object: Literal["chat.completion"]
    created: int
    model: str
    choices: list[Choice]
    usage: CompletionUsage
    system_fingerprint: str | None = None
    vaos: VaosInfo | None = None


class ModelCard(BaseModel):
    id: str
    object: Literal["model"]
    created: int
    owned_by: str


class ModelList(BaseModel):
    object: Literal["list"]
    data: list[ModelCard]
