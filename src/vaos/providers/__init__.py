"""Providers: one async interface over every model API and the embedded model.

``Provider.stream(request)`` yields ``TextDelta`` / ``ToolCallEvent`` and a final ``Done``;
``Provider.complete(request)`` returns the ``Completion``; both raise ``ProviderError``
(with ``retryable`` and the provider's ``status``). ``ProviderRegistry`` knows the provider
table, which providers are configured, and builds their clients.

Protocol modules are imported on first use (``vaos.providers.openai_compat``,
``anthropic_messages``, ``gemini``, ``cohere_chat``, ``replicate``, ``ollama``, ``local``).
"""

from vaos.providers.base import Provider, collect
from vaos.providers.catalog import Catalog, ProviderSpec, get_catalog
from vaos.providers.circuit_breaker import BreakerBoard, CircuitBreaker
from vaos.providers.errors import ProviderError
from vaos.providers.registry import ProviderRegistry, ProviderStatus, UnknownProviderError
from vaos.providers.types import (
    Completion,
    Done,
    Message,
    Request,
    StreamEvent,
    TextDelta,
    ToolCall,
    ToolCallEvent,
    ToolSpec,
    Usage,
)

__all__ = [
    "BreakerBoard",
    "Catalog",
    "CircuitBreaker",
    "Completion",
    "Done",
    "Message",
    "Provider",
    "ProviderError",
    "ProviderRegistry",
    "ProviderSpec",
    "ProviderStatus",
    "Request",
    "StreamEvent",
    "TextDelta",
    "ToolCall",
    "ToolCallEvent",
    "ToolSpec",
    "UnknownProviderError",
    "Usage",
    "collect",
    "get_catalog",
]
