from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional

DESCRIPTOR: _descriptor.FileDescriptor

class TokenRequest(_message.Message):
    __slots__ = ("agent_id", "intent_hash", "action_type", "metadata")
    class MetadataEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    INTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    ACTION_TYPE_FIELD_NUMBER: _ClassVar[int]
    METADATA_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    intent_hash: str
    action_type: str
    metadata: _containers.ScalarMap[str, str]
    def __init__(self, agent_id: _Optional[str] = ..., intent_hash: _Optional[str] = ..., action_type: _Optional[str] = ..., metadata: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TokenResponse(_message.Message):
    __slots__ = ("token", "expires_at", "scope", "error", "token_id", "refusal_id")
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    SCOPE_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TOKEN_ID_FIELD_NUMBER: _ClassVar[int]
    REFUSAL_ID_FIELD_NUMBER: _ClassVar[int]
    token: str
    expires_at: int
    scope: str
    error: str
    token_id: str
    refusal_id: str
    def __init__(self, token: _Optional[str] = ..., expires_at: _Optional[int] = ..., scope: _Optional[str] = ..., error: _Optional[str] = ..., token_id: _Optional[str] = ..., refusal_id: _Optional[str] = ...) -> None: ...

class TelemetryRequest(_message.Message):
    __slots__ = ("agent_id", "timestamp", "status", "cpu_usage", "memory_usage", "tasks_completed", "tasks_failed", "avg_task_duration", "tokens_used", "cost_estimate", "custom_metrics")
    class CustomMetricsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CPU_USAGE_FIELD_NUMBER: _ClassVar[int]
    MEMORY_USAGE_FIELD_NUMBER: _ClassVar[int]
    TASKS_COMPLETED_FIELD_NUMBER: _ClassVar[int]
    TASKS_FAILED_FIELD_NUMBER: _ClassVar[int]
    AVG_TASK_DURATION_FIELD_NUMBER: _ClassVar[int]
    TOKENS_USED_FIELD_NUMBER: _ClassVar[int]
    COST_ESTIMATE_FIELD_NUMBER: _ClassVar[int]
    CUSTOM_METRICS_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    timestamp: int
    status: str
    cpu_usage: float
    memory_usage: float
    tasks_completed: int
    tasks_failed: int
    avg_task_duration: float
    tokens_used: int
    cost_estimate: float
    custom_metrics: _containers.ScalarMap[str, str]
    def __init__(self, agent_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., status: _Optional[str] = ..., cpu_usage: _Optional[float] = ..., memory_usage: _Optional[float] = ..., tasks_completed: _Optional[int] = ..., tasks_failed: _Optional[int] = ..., avg_task_duration: _Optional[float] = ..., tokens_used: _Optional[int] = ..., cost_estimate: _Optional[float] = ..., custom_metrics: _Optional[_Mapping[str, str]] = ...) -> None: ...

class TelemetryResponse(_message.Message):
    __slots__ = ("success", "message", "correlation_id")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    correlation_id: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class RoutingLogRequest(_message.Message):
    __slots__ = ("session_id", "agent_id", "timestamp", "mode", "genre", "type", "format", "weight", "confidence", "tier", "model", "provider", "intent_hash", "stage", "reason")
    SESSION_ID_FIELD_NUMBER: _ClassVar[int]
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    MODE_FIELD_NUMBER: _ClassVar[int]
    GENRE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    WEIGHT_FIELD_NUMBER: _ClassVar[int]
    CONFIDENCE_FIELD_NUMBER: _ClassVar[int]
    TIER_FIELD_NUMBER: _ClassVar[int]
    MODEL_FIELD_NUMBER: _ClassVar[int]
    PROVIDER_FIELD_NUMBER: _ClassVar[int]
    INTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    STAGE_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    session_id: str
    agent_id: str
    timestamp: int
    mode: str
    genre: str
    type: str
    format: str
    weight: float
    confidence: str
    tier: str
    model: str
    provider: str
    intent_hash: str
    stage: str
    reason: str
    def __init__(self, session_id: _Optional[str] = ..., agent_id: _Optional[str] = ..., timestamp: _Optional[int] = ..., mode: _Optional[str] = ..., genre: _Optional[str] = ..., type: _Optional[str] = ..., format: _Optional[str] = ..., weight: _Optional[float] = ..., confidence: _Optional[str] = ..., tier: _Optional[str] = ..., model: _Optional[str] = ..., provider: _Optional[str] = ..., intent_hash: _Optional[str] = ..., stage: _Optional[str] = ..., reason: _Optional[str] = ...) -> None: ...

class RoutingLogResponse(_message.Message):
    __slots__ = ("success", "message", "correlation_id")
    SUCCESS_FIELD_NUMBER: _ClassVar[int]
    MESSAGE_FIELD_NUMBER: _ClassVar[int]
    CORRELATION_ID_FIELD_NUMBER: _ClassVar[int]
    success: bool
    message: str
    correlation_id: str
    def __init__(self, success: _Optional[bool] = ..., message: _Optional[str] = ..., correlation_id: _Optional[str] = ...) -> None: ...

class AuditConfirmation(_message.Message):
    __slots__ = ("agent_id", "action_id", "intent_hash", "jwt_token", "attributable", "legible", "contemporaneous", "original", "accurate", "performed_at", "performed_by", "method", "context")
    class ContextEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    AGENT_ID_FIELD_NUMBER: _ClassVar[int]
    ACTION_ID_FIELD_NUMBER: _ClassVar[int]
    INTENT_HASH_FIELD_NUMBER: _ClassVar[int]
    JWT_TOKEN_FIELD_NUMBER: _ClassVar[int]
    ATTRIBUTABLE_FIELD_NUMBER: _ClassVar[int]
    LEGIBLE_FIELD_NUMBER: _ClassVar[int]
    CONTEMPORANEOUS_FIELD_NUMBER: _ClassVar[int]
    ORIGINAL_FIELD_NUMBER: _ClassVar[int]
    ACCURATE_FIELD_NUMBER: _ClassVar[int]
    PERFORMED_AT_FIELD_NUMBER: _ClassVar[int]
    PERFORMED_BY_FIELD_NUMBER: _ClassVar[int]
    METHOD_FIELD_NUMBER: _ClassVar[int]
    CONTEXT_FIELD_NUMBER: _ClassVar[int]
    agent_id: str
    action_id: str
    intent_hash: str
    jwt_token: str
    attributable: bool
    legible: bool
    contemporaneous: bool
    original: bool
    accurate: bool
    performed_at: int
    performed_by: str
    method: str
    context: _containers.ScalarMap[str, str]
    def __init__(self, agent_id: _Optional[str] = ..., action_id: _Optional[str] = ..., intent_hash: _Optional[str] = ..., jwt_token: _Optional[str] = ..., attributable: _Optional[bool] = ..., legible: _Optional[bool] = ..., contemporaneous: _Optional[bool] = ..., original: _Optional[bool] = ..., accurate: _Optional[bool] = ..., performed_at: _Optional[int] = ..., performed_by: _Optional[str] = ..., method: _Optional[str] = ..., context: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AuditResponse(_message.Message):
    __slots__ = ("confirmed", "audit_id", "error", "signature", "attestation", "sequence", "record", "kid")
    CONFIRMED_FIELD_NUMBER: _ClassVar[int]
    AUDIT_ID_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    SIGNATURE_FIELD_NUMBER: _ClassVar[int]
    ATTESTATION_FIELD_NUMBER: _ClassVar[int]
    SEQUENCE_FIELD_NUMBER: _ClassVar[int]
    RECORD_FIELD_NUMBER: _ClassVar[int]
    KID_FIELD_NUMBER: _ClassVar[int]
    confirmed: bool
    audit_id: str
    error: str
    signature: str
    attestation: str
    sequence: int
    record: str
    kid: str
    def __init__(self, confirmed: _Optional[bool] = ..., audit_id: _Optional[str] = ..., error: _Optional[str] = ..., signature: _Optional[str] = ..., attestation: _Optional[str] = ..., sequence: _Optional[int] = ..., record: _Optional[str] = ..., kid: _Optional[str] = ...) -> None: ...
