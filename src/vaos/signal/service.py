"""The signal layer as a service: deterministic first, the LLM when unsure, then an event.

``SignalService.classify`` never fails because an LLM did: the deterministic signal is the
fallback for every error and timeout. The LLM classifier plugs in through the small
``LLMClassifier`` protocol (the providers layer supplies one).
"""

from __future__ import annotations

import asyncio
import logging
from typing import Protocol

from vaos.events import EventBus
from vaos.signal.classifier import DeterministicClassifier, get_classifier
from vaos.signal.models import Confidence, Signal

logger = logging.getLogger(__name__)

_CONFIDENCE_RANK: dict[Confidence, int] = {"low": 0, "medium": 1, "high": 2}
PREVIEW_CHARS = 200


class LLMClassifier(Protocol):
    """Classifies with a language model; gets the deterministic signal as a hint."""

    async def classify(self, text: str, hint: Signal) -> Signal: ...


class SignalService:
    def __init__(
        self,
        bus: EventBus | None = None,
        *,
        llm: LLMClassifier | None = None,
        deterministic: DeterministicClassifier | None = None,
        llm_below: Confidence = "low",
        llm_timeout: float = 10.0,
    ) -> None:
        self.bus = bus
        self.llm = llm
        self.deterministic = deterministic or get_classifier()
        self.llm_below = llm_below
        self.llm_timeout = llm_timeout

    async def classify(
        self,
        text: str,
        *,
        session_id: str | None = None,
        channel: str = "cli",
        use_llm: bool | None = None,
    ) -> Signal:
        """Classify ``text``; ``use_llm`` True forces the LLM, False forbids it, None decides."""
        signal = self.deterministic.classify(text)
        if self._wants_llm(signal, use_llm):
            signal = await self._ask_llm(text, signal)
        if self.bus is not None:
            await self.bus.emit(
                "signal_classified",
                {"signal": signal.to_dict(), "channel": channel, "input_preview": text[:PREVIEW_CHARS]},
                session_id=session_id,
            )
        return signal

    def _wants_llm(self, signal: Signal, use_llm: bool | None) -> bool:
        if self.llm is None or use_llm is False or not signal.noise.passed:
            return False
        return use_llm is True or _CONFIDENCE_RANK[signal.confidence] <= _CONFIDENCE_RANK[self.llm_below]

    async def _ask_llm(self, text: str, hint: Signal) -> Signal:
        assert self.llm is not None
        try:
            return await asyncio.wait_for(self.llm.classify(text, hint), self.llm_timeout)
        except Exception as exc:  # any LLM failure falls back to the deterministic signal
            logger.warning("LLM classifier failed (%s); using the deterministic signal", type(exc).__name__)
            return hint
