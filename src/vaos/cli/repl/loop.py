"""The read-eval-print loop: prompt_toolkit for input (history in ``$VAOS_HOME/chat_history``,
Alt-Enter or a trailing ``\\`` for a new line, pasted text kept whole), Rich for output.

Ctrl-C while the agent works cancels the turn; Ctrl-C at the prompt clears the line;
Ctrl-D (or ``/quit``) leaves.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
import unicodedata
from pathlib import Path
from typing import Any, Protocol

from prompt_toolkit import PromptSession
from prompt_toolkit.formatted_text import FormattedText
from prompt_toolkit.history import FileHistory, InMemoryHistory
from prompt_toolkit.key_binding import KeyBindings, KeyPressEvent
from rich.console import Console
from rich.text import Text

from vaos.cli.repl.backend import ChatError
from vaos.cli.repl.commands import SessionState, record_turn, suggestion
from vaos.cli.repl.render import TurnView, usage_line

_CONTROL = dict.fromkeys([*range(0, 9), 11, 12, *range(14, 32), 127])


class Backend(Protocol):
    description: str

    def turn(self, text: str, **options: Any) -> Any: ...

    async def tools(self) -> list[dict[str, Any]]: ...

    async def command(self, state: SessionState, line: str) -> dict[str, Any]: ...

    async def aclose(self) -> None: ...


def clean(text: str) -> str:
    """NFC, control characters removed (newlines and tabs kept), trimmed."""
    return unicodedata.normalize("NFC", text).translate(_CONTROL).strip()


def key_bindings() -> KeyBindings:
    kb = KeyBindings()

    @kb.add("escape", "enter")
    def _newline(event: KeyPressEvent) -> None:
        event.current_buffer.insert_text("\n")

    @kb.add("enter")
    def _submit(event: KeyPressEvent) -> None:
        buffer = event.current_buffer
        if buffer.text.endswith("\\") and buffer.cursor_position == len(buffer.text):
            buffer.delete_before_cursor(1)
            buffer.insert_text("\n")
            return
        buffer.validate_and_handle()

    return kb


class Repl:
    def __init__(
        self,
        backend: Backend,
        *,
        state: SessionState | None = None,
        console: Console | None = None,
        history: Path | None = None,
    ) -> None:
        self.backend = backend
        self.console = console or Console(highlight=False)
        self.state = state or SessionState(channel="cli")
        self.quit = False
        hist = FileHistory(str(history)) if history is not None else InMemoryHistory()
        self.prompt = PromptSession[str](history=hist, key_bindings=key_bindings(), multiline=False)

    def banner(self) -> None:
        self.console.print(
            Text.assemble(("VAOS chat", "bold cyan"), (f" · {self.backend.description}", "dim"))
        )
        session = self.state.session_id or "new"
        self.console.print(
            Text(
                f"session {session} · /help for commands · Alt-Enter for a new line · Ctrl-D to quit",
                style="dim",
            )
        )

    async def run(self) -> None:
        self.banner()
        while not self.quit:
            try:
                line = await self.prompt.prompt_async(FormattedText([("bold ansicyan", "❯ ")]))
            except KeyboardInterrupt:
                continue
            except EOFError:
                await self.slash("/quit")
                break
            text = clean(line)
            if not text:
                continue
            if text.startswith("/"):
                await self.slash(text)
            else:
                await self.turn(text)

    # -- commands -------------------------------------------------------------------------

    async def slash(self, line: str) -> None:
        try:
            result = await self.backend.command(self.state, line)
        except ChatError as exc:
            self.console.print(Text(f"error: {exc}", style="red"))
            return
        output = str(result.get("output") or "")
        ok = bool(result.get("ok", True))
        if not ok and output.startswith("unknown command"):
            output += suggestion(str(result.get("command") or ""))
        action = result.get("action")
        if action == "clear":
            self.console.clear()
            self.banner()
        if output:
            self.console.print(Text(output, style="" if ok else "red"))
        if action == "quit":
            self.quit = True

    # -- a turn ---------------------------------------------------------------------------

    async def turn(self, text: str) -> None:
        view = TurnView(self.console)
        started = time.monotonic()
        task = asyncio.ensure_future(self._consume(text, view))
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(signal.SIGINT, task.cancel)
        try:
            with view:
                await task
        except asyncio.CancelledError:
            self.console.print(Text("  ✗ cancelled", style="yellow"))
            return
        except ChatError as exc:
            self.console.print(Text(f"  ✗ {exc}", style="red"))
            return
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
        if view.result is None:
            self.console.print(Text(f"  ✗ {view.error or 'no answer'}", style="red"))
            return
        record_turn(self.state, view.result)
        self.console.print(usage_line(view.result, time.monotonic() - started, view.tools))

    async def _consume(self, text: str, view: TurnView) -> None:
        async for event in self.backend.turn(text, **self.state.run_kwargs()):
            view.on_event(event)
