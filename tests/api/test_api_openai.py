"""``/v1/chat/completions`` and ``/v1/models`` through the official OpenAI Python SDK."""

from __future__ import annotations

import json

import openai
import pytest
from api_fakes import Api

from vaos.providers.testing import Fail, Reply
from vaos.providers.types import ToolCall, Usage

TOOLS = [
    {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "Weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
]


@pytest.fixture
def client(api: Api) -> openai.OpenAI:
    return openai.OpenAI(api_key="anything", base_url=api.url + "/v1", max_retries=0, timeout=10)


def test_models_list_and_retrieve(client: openai.OpenAI) -> None:
    ids = [m.id for m in client.models.list()]
    assert ids[:4] == ["auto", "utility", "specialist", "elite"]
    assert "fake-model" in ids
    card = client.models.retrieve("fake-model")
    assert card.owned_by == "fake"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("no-such-model")


def test_completion_routed_by_signal(api: Api, client: openai.OpenAI) -> None:
    api.script(Reply("Paris.", usage=Usage(12, 3)))
    completion = client.chat.completions.create(
        model="auto",
        messages=[
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "What is the capital of France?"},
        ],
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "Paris."
    assert completion.choices[0].finish_reason == "stop"
    assert completion.model == "fake-model"
    assert completion.usage is not None
    assert (
        completion.usage.prompt_tokens,
        completion.usage.completion_tokens,
        completion.usage.total_tokens,
    ) == (
        12,
        3,
        15,
    )
    extra = completion.model_extra or {}
    assert extra["vaos"]["provider"] == "fake"
    assert extra["vaos"]["signal"]["type"] == "question"
    sent = api.provider.requests[-1]
    assert [m.role for m in sent.messages] == ["system", "user"]
    assert sent.messages[1].content == "What is the capital of France?"


def test_tier_name_forces_the_tier(api: Api, client: openai.OpenAI) -> None:
    raw = client.chat.completions.with_raw_response.create(
        model="elite", messages=[{"role": "user", "content": "hi"}], max_tokens=7, temperature=0.1
    )
    assert raw.headers["x-vaos-tier"] == "elite"
    assert raw.headers["x-vaos-provider"] == "fake"
    sent = api.provider.requests[-1]
    assert (sent.max_tokens, sent.temperature) == (7, 0.1)


def test_concrete_model_and_provider_slash_model(api: Api, client: openai.OpenAI) -> None:
    assert client.chat.completions.create(
        model="fake-model", messages=[{"role": "user", "content": "x"}]
    ).choices
    assert api.provider.requests[-1].model == "fake-model"
    client.chat.completions.create(model="fake/other-model", messages=[{"role": "user", "content": "x"}])
    assert api.provider.requests[-1].model == "other-model"


def test_streaming_with_usage_in_the_last_chunk(api: Api, client: openai.OpenAI) -> None:
    api.script(Reply("one two three four", chunks=4, usage=Usage(5, 4)))
    stream = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "count to four"}],
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "one two three four"
    finishing = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert finishing[-1].choices[0].finish_reason == "stop"
    last = chunks[-1]
    assert last.choices == []
    assert last.usage is not None
    assert (last.usage.prompt_tokens, last.usage.completion_tokens, last.usage.total_tokens) == (5, 4, 9)
    assert all(c.usage is None for c in chunks[:-1])


def test_streaming_without_usage(api: Api, client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}], stream=True)
    )
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == "hello from the fake model"
    assert all(c.usage is None for c in chunks)


def test_tools_and_tool_calls_round_trip(api: Api, client: openai.OpenAI) -> None:
    api.script(
        Reply("", tool_calls=[ToolCall("call_1", "get_weather", {"city": "Oslo"})]),
        Reply("It is sunny in Oslo."),
    )
    first = client.chat.completions.create(
        model="auto",
        messages=[{"role": "user", "content": "Weather in Oslo?"}],
        tools=TOOLS,  # type: ignore[arg-type]
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    calls = choice.message.tool_calls or []
    assert len(calls) == 1
    assert calls[0].function.name == "get_weather"  # type: ignore[union-attr]
    assert json.loads(calls[0].function.arguments) == {"city": "Oslo"}  # type: ignore[union-attr]
    sent = api.provider.requests[-1]
    assert [t.name for t in sent.tools] == ["get_weather"]
    assert sent.tools[0].parameters["required"] == ["city"]
    second = client.chat.completions.create(
        model="auto",
        tools=TOOLS,  # type: ignore[arg-type]
        messages=[
            {"role": "user", "content": "Weather in Oslo?"},
            choice.message.model_dump(exclude_none=True),  # type: ignore[list-item]
            {"role": "tool", "tool_call_id": calls[0].id, "content": "sunny, 21 C"},
        ],
    )
    assert second.choices[0].message.content == "It is sunny in Oslo."
    history = api.provider.requests[-1].messages
    assert [m.role for m in history] == ["user", "assistant", "tool"]
    assert history[1].tool_calls[0].arguments == {"city": "Oslo"}
    assert (history[2].tool_call_id, history[2].name, history[2].content) == (
        "call_1",
        "get_weather",
        "sunny, 21 C",
    )


def test_streamed_tool_calls(api: Api, client: openai.OpenAI) -> None:
    api.script(Reply("", tool_calls=[ToolCall("c7", "get_weather", {"city": "Rome"})]))
    chunks = list(
        client.chat.completions.create(
            model="auto",
            messages=[{"role": "user", "content": "Weather in Rome?"}],
            tools=TOOLS,  # type: ignore[arg-type]
            tool_choice={"type": "function", "function": {"name": "get_weather"}},
            stream=True,
        )
    )
    calls = [tc for c in chunks if c.choices for tc in (c.choices[0].delta.tool_calls or [])]
    assert len(calls) == 1
    assert (calls[0].index, calls[0].id) == (0, "c7")
    assert json.loads(calls[0].function.arguments) == {"city": "Rome"}  # type: ignore[union-attr, arg-type]
    assert chunks[-1].choices[0].finish_reason == "tool_calls"
    assert api.provider.requests[-1].tool_choice == "required"


def test_client_errors_are_4xx(api: Api, client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as missing:
        client.chat.completions.create(model="gpt-nonexistent", messages=[{"role": "user", "content": "x"}])
    assert missing.value.status_code == 404
    assert missing.value.code == "model_not_found"
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}], n=2)
    assert bad.value.code == "unsupported_parameter"
    with pytest.raises(openai.BadRequestError) as no_messages:
        client.chat.completions.create(model="auto", messages=[])
    assert no_messages.value.status_code == 400
    with pytest.raises(openai.BadRequestError) as bad_role:
        client.chat.completions.create(model="auto", messages=[{"role": "wizard", "content": "x"}])  # type: ignore[misc, list-item]
    assert "role" in str(bad_role.value)
    with pytest.raises(openai.BadRequestError) as bad_args:
        client.chat.completions.create(
            model="auto",
            messages=[
                {"role": "user", "content": "x"},
                {
                    "role": "assistant",
                    "tool_calls": [
                        {"id": "a", "type": "function", "function": {"name": "f", "arguments": "{nope"}}
                    ],
                },
            ],
        )
    assert bad_args.value.code == "invalid_tool_arguments"
    with pytest.raises(openai.BadRequestError) as image:
        client.chat.completions.create(
            model="auto",
            messages=[
                {"role": "user", "content": [{"type": "image_url", "image_url": {"url": "http://x/y.png"}}]}
            ],
        )
    assert image.value.code == "unsupported_content"
    api.script(Fail("bad_request", status=400, message="tool schema rejected"))
    with pytest.raises(openai.BadRequestError) as refused:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}])
    assert "tool schema rejected" in str(refused.value)


def test_upstream_failure_is_a_gateway_error(api: Api, client: openai.OpenAI) -> None:
    api.script(Fail("server", status=500))
    with pytest.raises(openai.APIStatusError) as failed:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}])
    assert failed.value.status_code == 502
    assert failed.value.code == "upstream_error"
    api.script(Fail("server", status=500))
    with pytest.raises(openai.APIStatusError) as streamed:
        client.chat.completions.create(model="auto", messages=[{"role": "user", "content": "x"}], stream=True)
    assert streamed.value.status_code == 502  # no token yet: a proper HTTP error, not a broken stream


def test_stream_broken_after_the_first_token_ends_with_an_error_event(
    api: Api, client: openai.OpenAI
) -> None:
    api.script(Fail("server", status=500, after_tokens=2))
    stream = client.chat.completions.create(
        model="auto", messages=[{"role": "user", "content": "x"}], stream=True
    )
    with pytest.raises(openai.APIError, match="broke off"):
        for _ in stream:
            pass


async def test_async_client_concurrent_completions(api: Api) -> None:
    import asyncio

    client = openai.AsyncOpenAI(api_key="x", base_url=api.url + "/v1", max_retries=0)
    try:
        results = await asyncio.gather(
            *(
                client.chat.completions.create(model="auto", messages=[{"role": "user", "content": f"q{i}"}])
                for i in range(8)
            )
        )
    finally:
        await client.close()
    assert {r.choices[0].message.content for r in results} == {"hello from the fake model"}
    assert len({r.id for r in results}) == 8
