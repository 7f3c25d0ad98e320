"""The one async interface every provider implements.

``stream(request)`` is an async iterator of ``TextDelta`` / ``ToolCallEvent`` events ending
with one ``Done`` that carries the whole ``Completion``; ``complete(request)`` returns that
completion. Both raise ``ProviderError`` and nothing else.
"""

from __future__ import annotations

import contextlib
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator
from typing import ClassVar

from vaos.providers.errors import ProviderError
from vaos.providers.types import Completion, Done, Request, StreamEvent


class Provider(ABC):
    """A model API (or the embedded model) under one name such as ``groq`` or ``local``."""

    protocol: ClassVar[str] = "abstract"

    def __init__(self, name: str, *, default_model: str | None = None) -> None:
        self.name = name
        self.default_model = default_model

    def model_for(self, request: Request) -> str:
        model = request.model or self.default_model
        if not model:
            raise ProviderError(
                "no model given and the provider has no default", provider=self.name, kind="config"
            )
        return model

    @abstractmethod
    def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        """Deltas as they arrive, then ``Done``."""

    async def complete(self, request: Request) -> Completion:
        """The whole answer (the default consumes ``stream``)."""
        return await collect(self.stream(request), provider=self.name)

    async def list_models(self) -> list[str]:
        """Models the provider says it serves (empty when it cannot tell)."""
        return []

    async def aclose(self) -> None:  # noqa: B027 (optional hook, not abstract)
        """Release connections and other resources."""

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.name!r}>"


async def collect(events: AsyncIterator[StreamEvent], *, provider: str = "?") -> Completion:
    """Drain a stream into its ``Completion``."""
    try:
        async for event in events:
            if isinstance(event, Done):
                return event.completion
    finally:
        aclose = getattr(events, "aclose", None)
        if aclose is not None:
            with contextlib.suppress(Exception):
                await aclose()
    raise ProviderError("the stream ended without a result", provider=provider, kind="stream_cut")
