"""One turn on screen: a spinner until something happens, the answer as Markdown while it
streams, tool calls as they start and finish, then a line with time, route, tokens and cost.

Streaming Markdown: finished blocks (up to the last blank line outside a code fence) are
printed for good; only the block being written stays live, so long answers never make the
terminal redraw more than a few lines.
"""

from __future__ import annotations

import time
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.markdown import Markdown
from rich.spinner import Spinner
from rich.text import Text

PREVIEW = 80


def _preview(value: Any, limit: int = PREVIEW) -> str:
    if isinstance(value, (dict, list)):
        import orjson

        text = orjson.dumps(value).decode()
    else:
        text = str(value)
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def split_committable(buffer: str) -> tuple[str, str]:
    """``(done, rest)``: ``done`` ends at the last blank line that is not inside a code fence."""
    cut = -1
    fences = 0
    position = 0
    for line in buffer.splitlines(keepends=True):
        if line.lstrip().startswith("```"):
            fences += 1
        position += len(line)
        if line.strip() == "" and fences % 2 == 0 and position < len(buffer):
            cut = position
    if cut <= 0:
        return "", buffer
    return buffer[:cut], buffer[cut:]


class TurnView:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self.buffer = ""
        self.streamed = False
        self.tools = 0
        self.status = "thinking…"
        self.result: dict[str, Any] | None = None
        self.error: str | None = None
        self._spinner = Spinner("dots", text=Text(self.status, style="dim"))
        self._live = Live(
            self._renderable(),
            console=console,
            refresh_per_second=12,
            transient=True,
            vertical_overflow="crop",
        )

    # -- live region ----------------------------------------------------------------------

    def _renderable(self) -> RenderableType:
        parts: list[RenderableType] = []
        if self.buffer:
            parts.append(Markdown(self.buffer))
        else:
            self._spinner.update(text=Text(self.status, style="dim"))
            parts.append(self._spinner)
        return Group(*parts)

    def _refresh(self) -> None:
        self._live.update(self._renderable())

    def _commit(self, everything: bool = False) -> None:
        done, rest = (self.buffer, "") if everything else split_committable(self.buffer)
        if done.strip():
            self._live.console.print(Markdown(done))
        self.buffer = rest

    def __enter__(self) -> TurnView:
        self._live.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._commit(everything=True)
        self._live.stop()

    # -- events ---------------------------------------------------------------------------

    def on_event(self, event: dict[str, Any]) -> None:
        kind = event.get("type")
        data = event.get("data") or {}
        if not isinstance(data, dict):
            data = {}
        if kind == "llm_token":
            text = str(data.get("text") or data.get("delta") or "")
            if text:
                self.streamed = True
                self.buffer += text
                if "\n\n" in text or len(self.buffer) > 2000:
                    self._commit()
                self._refresh()
        elif kind == "tool_call":
            self._commit(everything=True)
            self.tools += 1
            name = data.get("name") or data.get("tool") or "tool"
            args = data.get("arguments", data.get("args", ""))
            self._live.console.print(
                Text.assemble(("  ⏺ ", "cyan"), (str(name), "bold"), (f" {_preview(args)}", "dim"))
            )
            self.status = f"running {name}…"
            self._refresh()
        elif kind == "tool_result":
            ok = data.get("ok", data.get("status", "ok") in ("ok", True))
            mark, style = ("⎿ ", "green") if ok else ("⎿ ✗ ", "red")
            result = data.get("result", data.get("output", ""))
            self._live.console.print(Text.assemble(("    " + mark, style), (_preview(result), "dim")))
            self.status = "thinking…"
            self._refresh()
        elif kind == "agent_response":
            self.result = data
            if not self.streamed:
                self.buffer = str(data.get("output") or "")
            self._commit(everything=True)
        elif kind == "error":
            self.error = str(data.get("message") or data.get("error") or data.get("code") or "error")


def usage_line(result: dict[str, Any], elapsed: float, tools: int) -> Text:
    usage = result.get("usage") or {}
    tokens_in = int(usage.get("prompt_tokens") or usage.get("input_tokens") or 0)
    tokens_out = int(usage.get("completion_tokens") or usage.get("output_tokens") or 0)
    cost = result.get("cost_usd")
    where = "/".join(str(p) for p in (result.get("tier"), result.get("provider"), result.get("model")) if p)
    parts = [f"{elapsed:.1f}s"]
    if where:
        parts.append(where)
    if tools:
        parts.append(f"{tools} tool{'s' if tools != 1 else ''}")
    parts.append(f"tokens {tokens_in}→{tokens_out}")
    parts.append("cost unknown" if cost is None else f"${float(cost):.6f}")
    return Text.assemble(("  ✓ ", "green"), (" · ".join(parts), "dim"))
