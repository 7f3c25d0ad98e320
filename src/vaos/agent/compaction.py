"""Context compaction: make a conversation fit the model's window instead of failing.

The history is cut into *units* (a message, or an assistant message with tool calls together
with their results, which are never separated) and zoned from the end: HOT, the last 20
messages, kept word for word; WARM, the 30 before; COLD, everything older. Steps run in
order and stop as soon as the history fits:

1. trim: tool-call arguments and long tool results in WARM and COLD are shortened;
2. warm: WARM becomes one summary message;
3. cold: COLD becomes one summary message ("[Context summary]");
4. emergency: only the summaries and HOT remain; long messages in HOT are cut in the middle;
   then the oldest HOT units go, never the last user message and what follows it.

Summaries are extractive (the first line of each message, tools named) unless a summariser
is given (the utility tier, ``VAOS_AGENT__COMPACTION_LLM``); a summariser that fails falls
back to the extractive one. The stored conversation is never changed: only what is sent.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field

from vaos.agent.context import message_tokens, messages_tokens
from vaos.providers.types import Message, ToolCall

logger = logging.getLogger(__name__)

HOT = 20
WARM = 30
TRIMMED_RESULT_CHARS = 300
STRIPPED = {"_note": "arguments removed to save context"}
Summariser = Callable[[Sequence[Message]], Awaitable[str]]


@dataclass
class CompactionReport:
    before_tokens: int
    after_tokens: int
    budget: int
    steps: list[str] = field(default_factory=list)
    messages_before: int = 0
    messages_after: int = 0

    @property
    def fits(self) -> bool:
        return self.after_tokens <= self.budget

    def to_dict(self) -> dict[str, object]:
        return {
            "before_tokens": self.before_tokens,
            "after_tokens": self.after_tokens,
            "budget": self.budget,
            "steps": list(self.steps),
            "messages_before": self.messages_before,
            "messages_after": self.messages_after,
        }


def units_of(messages: Sequence[Message]) -> list[list[Message]]:
    """Messages grouped so that tool calls stay with their results."""
    units: list[list[Message]] = []
    for message in messages:
        if message.role == "tool" and units and (units[-1][0].tool_calls or units[-1][0].role == "tool"):
            units[-1].append(message)
        else:
            units.append([message])
    return units


def _zones(
    units: list[list[Message]],
) -> tuple[list[list[Message]], list[list[Message]], list[list[Message]]]:
    """(cold, warm, hot) by message count from the end, at unit boundaries."""
    hot: list[list[Message]] = []
    warm: list[list[Message]] = []
    count = 0
    i = len(units)
    while i > 0 and count < HOT:
        i -= 1
        hot.insert(0, units[i])
        count += len(units[i])
    while i > 0 and count < HOT + WARM:
        i -= 1
        warm.insert(0, units[i])
        count += len(units[i])
    return units[:i], warm, hot


def _flat(units: Sequence[Sequence[Message]]) -> list[Message]:
    return [m for unit in units for m in unit]


def _trim(message: Message) -> Message:
    if message.tool_calls:
        calls = tuple(ToolCall(c.id, c.name, dict(STRIPPED)) for c in message.tool_calls)
        return Message(message.role, message.content, calls, message.tool_call_id, message.name)
    if message.role == "tool" and len(message.content) > TRIMMED_RESULT_CHARS:
        cut = message.content[:TRIMMED_RESULT_CHARS] + f"… [{len(message.content)} characters, trimmed]"
        return Message("tool", cut, (), message.tool_call_id, message.name)
    return message


def extractive_summary(messages: Sequence[Message], limit: int = 2000) -> str:
    lines: list[str] = []
    for m in messages:
        first = " ".join(m.content.split())[:160]
        if m.role == "assistant" and m.tool_calls:
            names = ", ".join(c.name for c in m.tool_calls)
            lines.append(f"- assistant called {names}" + (f": {first}" if first else ""))
        elif m.role == "tool":
            lines.append(f"- {m.name or 'tool'} -> {first[:100]}")
        elif first:
            lines.append(f"- {m.role}: {first}")
    text = "\n".join(lines)
    return text if len(text) <= limit else text[: limit - 20] + "\n- …"


def _middle_cut(message: Message, keep_chars: int) -> Message:
    text = message.content
    if len(text) <= keep_chars:
        return message
    head = keep_chars * 2 // 3
    tail = keep_chars - head
    cut = f"{text[:head]}\n… [{len(text) - keep_chars} characters cut to fit the context] …\n{text[-tail:]}"
    return Message(message.role, cut, message.tool_calls, message.tool_call_id, message.name)


class Compactor:
    def __init__(self, summarise: Summariser | None = None) -> None:
        self.summarise = summarise
        self.compactions = 0
        self.tokens_saved = 0

    async def _summary(self, label: str, messages: Sequence[Message]) -> Message:
        text = ""
        if self.summarise is not None:
            try:
                text = (await self.summarise(messages)).strip()
            except Exception as exc:  # a failed summary must not fail the turn
                logger.warning("compaction summary failed (%r); using an extractive one", exc)
        if not text:
            text = extractive_summary(messages)
        return Message.system(f"[{label} of {len(messages)} earlier messages]\n{text}")

    async def fit(
        self, messages: Sequence[Message], budget: int
    ) -> tuple[list[Message], CompactionReport | None]:
        """``messages`` made to fit ``budget`` tokens (as far as possible), and what was done;
        no report when they already fit."""
        before = messages_tokens(messages)
        if before <= budget:
            return list(messages), None
        report = CompactionReport(before, before, budget, messages_before=len(messages))
        units = units_of(messages)
        cold, warm, hot = _zones(units)

        def current() -> list[Message]:
            return _flat(cold) + _flat(warm) + _flat(hot)

        def done() -> bool:
            report.after_tokens = messages_tokens(current())
            return report.after_tokens <= budget

        if cold or warm:
            cold = [[_trim(m) for m in unit] for unit in cold]
            warm = [[_trim(m) for m in unit] for unit in warm]
            report.steps.append("trim")
        if not done() and warm:
            warm = [[await self._summary("Summary", _flat(warm))]]
            report.steps.append("warm")
        if not done() and cold:
            cold = [[await self._summary("Context summary", _flat(cold))]]
            report.steps.append("cold")
        if not done():
            self._emergency(cold, warm, hot, budget, report)
        result = current()
        report.after_tokens = messages_tokens(result)
        report.messages_after = len(result)
        self.compactions += 1
        self.tokens_saved += max(0, report.before_tokens - report.after_tokens)
        return result, report

    def _emergency(
        self,
        cold: list[list[Message]],
        warm: list[list[Message]],
        hot: list[list[Message]],
        budget: int,
        report: CompactionReport,
    ) -> None:
        report.steps.append("emergency")
        # the summaries together take at most a quarter of the budget
        summaries = _flat(cold) + _flat(warm)
        cold.clear()
        warm.clear()
        keep_chars = (budget // 4) * 4 - 100
        if summaries and keep_chars >= 200:
            merged = Message.system("\n\n".join(m.content for m in summaries))
            cold.append([_middle_cut(merged, keep_chars)])
        fixed = messages_tokens(_flat(cold))
        # cut the biggest messages of HOT in the middle, largest first
        for _ in range(len(_flat(hot))):
            total = fixed + messages_tokens(_flat(hot))
            if total <= budget:
                return
            biggest = max(
                ((ui, mi) for ui, unit in enumerate(hot) for mi, _ in enumerate(unit)),
                key=lambda pos: message_tokens(hot[pos[0]][pos[1]]),
            )
            message = hot[biggest[0]][biggest[1]]
            over = total - budget
            keep = max(400, len(message.content) - over * 4 - 200)
            if keep >= len(message.content):
                break
            hot[biggest[0]][biggest[1]] = _middle_cut(message, keep)
        # then drop the oldest units, keeping the last user message and everything after it
        last_user = max((i for i, unit in enumerate(hot) if unit[0].role == "user"), default=len(hot) - 1)
        dropped = 0
        while fixed + messages_tokens(_flat(hot)) > budget and last_user > 0:
            hot.pop(0)
            last_user -= 1
            dropped += 1
        if dropped:
            note = Message.system(f"[{dropped} older exchanges were dropped to fit the context window]")
            hot.insert(0, [note])
