"""Settings: one place for every knob.

Sources, strongest first: keyword arguments, ``VAOS_*`` environment variables (nested with
``__``, e.g. ``VAOS_ROUTING__DEFAULT_PROVIDER=local``), then ``$VAOS_HOME/config.toml``,
then the defaults below, which work with nothing configured.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, Field, SecretStr, field_validator
from pydantic_settings import (
    BaseSettings,
    NoDecode,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)

from vaos.paths import config_file, default_home

GovernanceMode = Literal["enforce", "audit", "off"]

_LOOPBACK_HOSTS = frozenset({"127.0.0.1", "localhost", "::1"})


def _split_commas(value: Any) -> Any:
    if isinstance(value, str):
        return [item.strip() for item in value.split(",") if item.strip()]
    return value


class DatabaseSettings(BaseModel):
    url: str | None = Field(
        default=None, description="SQLAlchemy URL; unset means SQLite at $VAOS_HOME/vaos.db."
    )
    echo: bool = False


class SignalSettings(BaseModel):
    max_message_bytes: int = Field(default=1_000_000, gt=0)
    likely_noise: float = Field(default=0.20, ge=0.0, le=1.0)
    uncertain: float = Field(default=0.60, ge=0.0, le=1.0)
    llm_enabled: bool = True
    llm_below_confidence: Literal["low", "medium", "high"] = "low"


class ProviderSettings(BaseModel):
    api_key: SecretStr | None = None
    base_url: str | None = None
    models: dict[str, str] = Field(default_factory=dict, description="Per-tier model overrides.")


class RoutingSettings(BaseModel):
    default_provider: str | None = None
    chain: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # issue 4: reliability and budgets of model calls
    local_fallback: bool = Field(default=True, description="End every chain with the embedded model.")
    max_attempts: int = Field(default=3, ge=1, le=10, description="Calls per provider for retryable errors.")
    backoff_base: float = Field(default=0.5, gt=0, description="First retry wait in seconds (doubles).")
    backoff_max: float = Field(default=8.0, gt=0)
    first_token_timeout: float = Field(default=60.0, gt=0)
    idle_timeout: float = Field(default=120.0, gt=0, description="Longest silence inside a stream.")
    budget_session_usd: float | None = Field(default=None, ge=0)
    budget_daily_usd: float | None = Field(default=None, ge=0)
    over_budget: Literal["downgrade", "refuse"] = "downgrade"

    _split_chain = field_validator("chain", mode="before")(_split_commas)


class KernelSettings(BaseModel):
    url: str | None = Field(default=None, description="External kernel host:port; unset = embedded.")
    host: str = "127.0.0.1"
    port: int = Field(default=50051, ge=0, le=65535)
    jwks_port: int = Field(default=50052, ge=0, le=65535)
    token_ttl: int = Field(default=60, gt=0)
    timeout: float = Field(default=5.0, gt=0)


class GovernanceSettings(BaseModel):
    mode: GovernanceMode = "enforce"


class AmqpSettings(BaseModel):
    url: str | None = "amqp://guest:guest@127.0.0.1:5672/"
    spool_max_bytes: int = Field(default=256 * 1024 * 1024, gt=0)
    # issue 6: telemetry publisher and kernel commands (vaos.governance.telemetry / .commands)
    name_prefix: str = Field(
        default="", max_length=64, description="Prepended to the exchange and queue names (isolation)."
    )
    buffer_max: int = Field(default=10_000, ge=1, description="Events held in memory before spilling.")
    flush_interval: float = Field(default=1.0, gt=0, le=60)
    batch_size: int = Field(default=100, ge=1, le=100)
    connect_timeout: float = Field(default=5.0, gt=0)
    publish_timeout: float = Field(default=10.0, gt=0)
    reconnect_interval: float = Field(default=1.0, gt=0, le=60)
    stats_interval: float = Field(default=15.0, gt=0, description="Counters on the event bus, seconds.")
    skip_event_types: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Bus event types not shipped (e.g. llm_token)."
    )
    command_max_ttl: int = Field(default=300, ge=1, le=3600, description="Longest lifetime of a command.")

    _split_skip = field_validator("skip_event_types", mode="before")(_split_commas)


class ApiSettings(BaseModel):
    host: str = "127.0.0.1"
    port: int = Field(default=8089, ge=0, le=65535)
    require_auth: bool | None = Field(
        default=None, description="Unset: required exactly when binding to a non-loopback address."
    )
    rate_limit_auth_per_minute: int = Field(default=10, gt=0)
    rate_limit_per_minute: int = Field(default=60, gt=0)
    # issue 8: the HTTP API (vaos.api)
    max_request_bytes: int = Field(default=4 * 1024 * 1024, gt=0, description="Largest request body.")
    access_token_ttl: int = Field(default=900, ge=10, le=86_400, description="Seconds an access token lives.")
    refresh_token_ttl: int = Field(default=7 * 86_400, ge=60, description="Seconds a refresh token lives.")
    token_secret: SecretStr | None = Field(
        default=None, description="HS256 key of access tokens; unset: $VAOS_HOME/api/token_secret."
    )
    sse_heartbeat: float = Field(default=15.0, gt=0, le=300, description="Seconds between SSE keep-alives.")
    sse_replay_events: int = Field(default=500, ge=0, description="Events kept per session for resume.")
    sse_replay_sessions: int = Field(default=1000, ge=1, description="Sessions whose events are kept.")
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)

    _split_origins = field_validator("cors_origins", mode="before")(_split_commas)

    def auth_required(self, host: str | None = None) -> bool:
        if self.require_auth is not None:
            return self.require_auth
        return (host or self.host) not in _LOOPBACK_HOSTS


class AgentSettings(BaseModel):
    """The agent loop (issue 7): limits, context and compaction."""

    max_iterations: int = Field(default=20, ge=1, le=200, description="Model calls per message.")
    tool_timeout: float = Field(default=60.0, gt=0, description="Seconds a tool call may take.")
    max_tool_output_bytes: int = Field(default=51_200, ge=256, description="Longer results are cut.")
    tool_concurrency: int = Field(default=10, ge=1, le=64)
    max_context_tokens: int | None = Field(
        default=None, gt=0, description="Context window override; unset = the model's window."
    )
    response_reserve_tokens: int = Field(default=2048, ge=0)
    tool_schema_share: float = Field(
        default=0.25, gt=0, le=1, description="Most of the window the tool schemas may take."
    )
    compaction_warn: float = Field(default=0.80, gt=0, le=1)
    compaction_aggressive: float = Field(default=0.85, gt=0, le=1)
    compaction_emergency: float = Field(default=0.95, gt=0, le=1)
    compaction_llm: bool = Field(default=False, description="Summarise old turns with the utility tier.")
    overflow_retries: int = Field(default=3, ge=0, le=10)
    memory_chars: int = Field(default=3000, ge=0, description="Vault memory put in the context.")
    extract_facts: bool = Field(default=True, description="Save facts to the vault when a session ends.")


class ToolSettings(BaseModel):
    """The built-in tools (issue 7): workspace, shell, web, MCP."""

    workspace: Path | None = Field(default=None, description="Root of the file tools; unset = the cwd.")
    permission: Literal["full", "workspace", "read_only"] = "full"
    disabled: Annotated[list[str], NoDecode] = Field(default_factory=list, description="Tools not offered.")
    shell_timeout: float = Field(default=60.0, gt=0)
    shell_output_bytes: int = Field(default=100_000, ge=1024)
    shell_concurrency: int = Field(default=3, ge=1, le=32)
    shell_env: Annotated[list[str], NoDecode] = Field(
        default_factory=list, description="Extra variables passed to commands (none with secrets)."
    )
    web_timeout: float = Field(default=30.0, gt=0)
    web_allow_private: bool = Field(default=False, description="Let web_fetch reach private addresses.")
    web_search_backend: Literal["auto", "brave", "searxng", "none"] = "auto"
    brave_api_key: SecretStr | None = Field(default=None, description="Or BRAVE_API_KEY.")
    searxng_url: str | None = None
    mcp_config: Path | None = Field(default=None, description="Unset = $VAOS_HOME/mcp.json.")
    mcp_connect_timeout: float = Field(default=20.0, gt=0)

    _split_disabled = field_validator("disabled", "shell_env", mode="before")(_split_commas)


class SwarmSettings(BaseModel):
    """Swarms (issue 9): limits, where the agents run, the work queues (``vaos.swarm``)."""

    max_agents: int = Field(default=8, ge=1, le=50, description="Agents in one swarm's plan.")
    max_rounds: int = Field(default=3, ge=1, le=20, description="Debate rounds, review iterations.")
    timeout: float = Field(default=600.0, gt=0, description="Seconds a whole swarm may take.")
    agent_timeout: float = Field(default=300.0, gt=0, description="Seconds one agent task may take.")
    budget_usd: float | None = Field(default=None, ge=0, description="Model spend of one swarm.")
    max_parallel: int = Field(default=4, ge=1, le=64, description="Agents of one swarm at a time.")
    max_active: int = Field(default=10, ge=1, le=1000, description="Swarms running in one process.")
    executor: Literal["auto", "local", "queue"] = Field(
        default="auto", description="auto: the work queue when a worker listens on it, else in-process."
    )
    runtime: str = Field(
        default="vaos.agent:open_runtime", description="module:callable opening the agent runtime."
    )
    planner: Literal["llm", "fallback"] = "llm"
    prefetch: int = Field(default=8, ge=1, le=1000, description="Unacknowledged tasks per worker.")
    max_deliveries: int = Field(default=3, ge=1, le=100, description="Then a task is dead-lettered.")
    mailbox_chars: int = Field(default=6000, ge=0, description="Peer messages shown to one agent.")
    result_poll: float = Field(default=1.0, gt=0, le=60, description="Store poll behind the reply queue.")


class Settings(BaseSettings):
    """Everything VAOS can be told, with defaults that need no server, key or network."""

    model_config = SettingsConfigDict(
        env_prefix="VAOS_",
        env_nested_delimiter="__",
        extra="ignore",
        validate_default=True,
    )

    home: Path = Field(default_factory=default_home)
    database: DatabaseSettings = Field(default_factory=DatabaseSettings)
    signal: SignalSettings = Field(default_factory=SignalSettings)
    providers: dict[str, ProviderSettings] = Field(default_factory=dict)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    kernel: KernelSettings = Field(default_factory=KernelSettings)
    governance: GovernanceSettings = Field(default_factory=GovernanceSettings)
    amqp: AmqpSettings = Field(default_factory=AmqpSettings)
    api: ApiSettings = Field(default_factory=ApiSettings)
    agent: AgentSettings = Field(default_factory=AgentSettings)
    tools: ToolSettings = Field(default_factory=ToolSettings)
    swarm: SwarmSettings = Field(default_factory=SwarmSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (
            init_settings,
            env_settings,
            TomlConfigSettingsSource(settings_cls, toml_file=config_file()),
        )

    @property
    def database_url(self) -> str:
        return self.database.url or f"sqlite+aiosqlite:///{self.home / 'vaos.db'}"

    def path(self, *parts: str) -> Path:
        """A path inside ``$VAOS_HOME``."""
        return self.home.joinpath(*parts)


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, read once. Tests call ``get_settings.cache_clear()``."""
    return Settings()
