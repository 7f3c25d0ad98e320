"""Request and response models of the ``/api/v1`` routes (the OpenAPI document is built from
them). Response models allow extra fields where the shape comes from another layer (the
agent result, the models document), so that layer may add fields without breaking clients.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from vaos.tiers import Tier

SESSION_ID_PATTERN = r"^[A-Za-z0-9_.:-]{1,64}$"
SessionId = str
SWARM_PATTERNS = ("parallel", "pipeline", "debate", "review", "pact")


class _Strict(BaseModel):
    """Requests: unknown fields refused, no type coercion (``0`` is not ``false``)."""

    model_config = ConfigDict(extra="forbid", strict=True, allow_inf_nan=False)


class _Open(BaseModel):
    model_config = ConfigDict(extra="allow")


# -- signal and routing -------------------------------------------------------------------


class NoiseOut(BaseModel):
    verdict: Literal["pass", "filtered", "clarify"]
    reply: str | None


class SignalOut(BaseModel):
    """The signal object (INTERFACES.md section 4)."""

    mode: Literal["execute", "build", "analyze", "maintain", "assist"]
    genre: Literal["direct", "inform", "commit", "decide", "express"]
    type: Literal["question", "request", "issue", "scheduling", "summary", "report", "general"]
    format: Literal["command", "message", "notification", "document"]
    weight: float = Field(ge=0, le=1)
    confidence: Literal["high", "medium", "low"]
    tier: Tier
    noise: NoiseOut
    intent_hash: str = Field(pattern=r"^[0-9a-f]{64}$")
    classifier: Literal["deterministic", "llm"]


class RouteOut(BaseModel):
    provider: str
    model: str


class SkippedOut(BaseModel):
    provider: str
    reason: str


class DecisionOut(_Open):
    """Where a message goes: tier, the chain of provider/model, and why."""

    tier: Tier
    provider: str
    model: str
    chain: list[RouteOut]
    weight: float
    complexity: int
    max_tokens: int
    temperature: float
    why: list[str]
    skipped: list[SkippedOut]
    unavailable: list[str]
    refused: str | None


class ClassifyRequest(_Strict):
    message: str = Field(min_length=1, description="The message to classify.")
    llm: bool = Field(default=False, description="Ask the LLM classifier (falls back when unavailable).")
    session_id: SessionId | None = Field(
        default=None, pattern=SESSION_ID_PATTERN, description="Emit a `signal_classified` event there."
    )


class RouteRequest(_Strict):
    message: str = Field(min_length=1)
    tier: Tier | None = None
    provider: str | None = Field(default=None, min_length=1, max_length=64)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    session_id: SessionId | None = Field(default=None, pattern=SESSION_ID_PATTERN)


class RouteResponse(BaseModel):
    signal: SignalOut
    decision: DecisionOut


# -- agent --------------------------------------------------------------------------------


class OrchestrateRequest(_Strict):
    input: str = Field(min_length=1, description="The message for the agent.")
    session_id: SessionId | None = Field(
        default=None, pattern=SESSION_ID_PATTERN, description="Continue this session (made if new)."
    )
    tier: Tier | None = None
    provider: str | None = Field(default=None, min_length=1, max_length=64)
    model: str | None = Field(default=None, min_length=1, max_length=200)
    channel: str = Field(default="http", pattern=r"^[a-z][a-z0-9_-]{0,31}$", description="Who is asking.")


class UsageOut(_Open):
    prompt_tokens: int = 0
    completion_tokens: int = 0
    total_tokens: int = 0


class OrchestrateResponse(_Open):
    """The agent's answer (``AgentResult.to_dict()``)."""

    session_id: str
    output: str
    signal: SignalOut | None = None
    tier: str | None = None
    provider: str | None = None
    model: str | None = None
    usage: UsageOut = Field(default_factory=UsageOut)
    cost_usd: float | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    iterations: int | None = None


# -- sessions -----------------------------------------------------------------------------


class SessionOut(BaseModel):
    id: str
    title: str | None
    channel: str
    created_at: str
    updated_at: str
    metadata: dict[str, Any]


class MessageOut(BaseModel):
    id: int
    session_id: str
    role: Literal["system", "user", "assistant", "tool"]
    content: str
    created_at: str
    tokens_in: int
    tokens_out: int
    metadata: dict[str, Any]


class SessionList(BaseModel):
    sessions: list[SessionOut]
    count: int
    limit: int
    offset: int


class SessionDetail(SessionOut):
    messages: list[MessageOut]
    message_count: int


class SessionCreate(_Strict):
    session_id: SessionId | None = Field(default=None, pattern=SESSION_ID_PATTERN)
    title: str | None = Field(default=None, max_length=500)


# -- tools and models ---------------------------------------------------------------------


class ToolOut(_Open):
    name: str
    description: str = ""
    parameters: dict[str, Any] = Field(default_factory=dict, description="JSON schema of the arguments.")


class ToolsDocument(_Open):
    """As ``vaos tools --json``."""

    tools: list[ToolOut]
    mcp_servers: list[dict[str, Any]]


class CircuitOut(_Open):
    state: Literal["closed", "half_open", "open"]


class ProviderOut(_Open):
    name: str
    protocol: str
    configured: bool
    missing: str | None
    models: dict[str, str]
    in_chain: bool
    circuit: CircuitOut


class ModelsDocument(_Open):
    """As ``vaos models --json``."""

    default_provider: str | None
    chain: list[str]
    skipped: list[SkippedOut]
    providers: list[ProviderOut]


# -- swarm --------------------------------------------------------------------------------


class SwarmLaunchRequest(_Strict):
    task: str = Field(min_length=1, max_length=100_000)
    pattern: str = Field(
        default="parallel",
        pattern=r"^[a-z][a-z0-9_-]{0,63}$",
        description="parallel, pipeline, debate, review, pact, or a named configuration of the roster.",
    )
    max_agents: int | None = Field(default=None, ge=1, le=1000)
    rounds: int | None = Field(default=None, ge=1, le=1000)
    timeout: float | None = Field(default=None, gt=0, le=7 * 86_400, description="The swarm's time limit, s.")
    budget_usd: float | None = Field(default=None, ge=0, le=1e9)


class SwarmLaunched(BaseModel):
    swarm_id: str


class SwarmStatus(_Open):
    swarm_id: str
    status: str


class SwarmList(BaseModel):
    swarms: list[dict[str, Any]]
    count: int


# -- audit --------------------------------------------------------------------------------


class AuditRecords(BaseModel):
    records: list[dict[str, Any]] = Field(description="Ledger records, oldest first, each with its `sig`.")
    count: int


class AuditProblem(_Open):
    file: str
    line: int
    offset: int
    seq: int | None
    reason: str
    message: str


class AuditVerification(_Open):
    """``vaos audit verify --json``: ``ok`` false names the first bad record in ``problem``."""

    ok: bool
    mode: str
    records: int
    checkpoints: int
    head: str | None
    signatures_checked: int
    problem: AuditProblem | None
    warnings: list[str]


# -- health -------------------------------------------------------------------------------


class ProviderHealth(BaseModel):
    configured: bool
    in_chain: bool
    circuit: Literal["closed", "half_open", "open"]


class Health(BaseModel):
    status: Literal["ok"]
    version: str
    kernel: Literal["up", "down", "disabled"]
    providers: dict[str, ProviderHealth]
    uptime_s: float


# -- auth ---------------------------------------------------------------------------------


class LoginRequest(_Strict):
    """Either ``username`` and ``password``, or ``api_key``."""

    username: str | None = Field(default=None, min_length=1, max_length=64)
    password: str | None = Field(default=None, min_length=1, max_length=1024)
    api_key: str | None = Field(default=None, min_length=1, max_length=200)


class RefreshRequest(_Strict):
    refresh_token: str = Field(min_length=1, max_length=200)


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    expires_in: int = Field(description="Seconds the access token lives.")
    refresh_expires_in: int
    token_type: Literal["bearer"] = "bearer"


class LogoutResult(BaseModel):
    revoked: bool


class WhoAmI(BaseModel):
    subject: str
    name: str
    kind: Literal["user", "key", "anonymous"]
    auth_required: bool
