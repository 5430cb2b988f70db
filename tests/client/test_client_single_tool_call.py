"""``parallel_tool_calls=False`` (the API has no such field) and the usage of a stream
ended at a client-side stop: core policies, sync and async, stream and not, over loopback."""

from __future__ import annotations

import json
from typing import Any

import pytest

from powertokens import PowerTokens, RequestValidationError, build_body, validate_params
from powertokens.emulator import Emulator

from .conftest import Api

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
THREE_CITIES = [{"role": "user", "content": "What is the weather in Paris, Rome and London?"}]
TOOL_STREAM = {"X-PowerTokens-Tool-Stream": "1"}


def sent(emu: Emulator) -> dict[str, Any]:
    return dict(emu.requests[-1].json)


async def test_the_emulator_makes_three_calls_by_default(api: Api) -> None:
    answer = await api.chat(THREE_CITIES, tools=[WEATHER])
    assert len(answer.message.tool_calls or []) == 3


async def test_chat_keeps_only_the_first_call_and_asks_for_one(api: Api, emu: Emulator) -> None:
    answer = await api.chat(THREE_CITIES, tools=[WEATHER], parallel_tool_calls=False)
    calls = answer.message.tool_calls or []
    assert [(c.function.name, c.parsed_arguments()) for c in calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    assert answer.finish_reason == "tool_calls"
    body = sent(emu)
    assert "parallel_tool_calls" not in body  # not a wire field
    assert "tool_choice" not in body
    assert body["messages"][0] == {
        "role": "system",
        "content": "Request at most one tool invocation in your reply.",
    }


@pytest.mark.parametrize(
    "headers", [None, TOOL_STREAM, {"X-PowerTokens-Fault": "tool-calls-one-chunk"}]
)
async def test_a_stream_hands_out_only_the_first_call(
    api: Api, emu: Emulator, headers: dict[str, str] | None
) -> None:
    deltas, completion, error = await api.stream(
        THREE_CITIES, tools=[WEATHER], parallel_tool_calls=False, extra_headers=headers
    )
    assert error is None
    pieces = [p for d in deltas for p in d.tool_calls]
    assert pieces
    assert {p.index for p in pieces} == {0}
    assert json.loads("".join(p.arguments for p in pieces)) == {"city": "Paris"}
    assert completion is not None
    calls = completion.message.tool_calls or []
    assert [c.parsed_arguments() for c in calls] == [{"city": "Paris"}]
    assert completion.finish_reason == "tool_calls"
    assert "parallel_tool_calls" not in sent(emu)


def test_stream_tool_calls_has_one_call(client: PowerTokens) -> None:
    with client.stream(
        THREE_CITIES, tools=[WEATHER], parallel_tool_calls=False, extra_headers=TOOL_STREAM
    ) as stream:
        for _ in stream:
            assert len(stream.tool_calls) <= 1
        assert [c.name for c in stream.tool_calls] == ["get_weather"]


async def test_a_forced_choice_and_one_call_make_one_sentence(api: Api, emu: Emulator) -> None:
    await api.chat(
        THREE_CITIES, tools=[WEATHER], tool_choice="get_weather", parallel_tool_calls=False
    )
    system = sent(emu)["messages"][0]
    assert system == {
        "role": "system",
        "content": "Call the get_weather tool to answer; do not answer in plain text. "
        "Make exactly one call.",
    }


async def test_parallel_true_or_unset_changes_nothing(api: Api, emu: Emulator) -> None:
    answer = await api.chat(THREE_CITIES, tools=[WEATHER], parallel_tool_calls=True)
    assert len(answer.message.tool_calls or []) == 3
    assert sent(emu)["messages"] == THREE_CITIES


def test_one_call_without_tools_sends_nothing_extra() -> None:
    body = build_body([{"role": "user", "content": "Hi"}], {"parallel_tool_calls": False})
    assert body == {"model": "glm-5-turbo", "messages": [{"role": "user", "content": "Hi"}]}


async def test_a_bad_value_is_refused_before_sending(api: Api, emu: Emulator) -> None:
    with pytest.raises(RequestValidationError, match="parallel_tool_calls"):
        await api.chat(THREE_CITIES, tools=[WEATHER], parallel_tool_calls="no")
    with pytest.raises(RequestValidationError, match="parallel_tool_calls"):
        validate_params(parallel_tool_calls=0)  # type: ignore[arg-type]
    assert emu.request_count == 0


# --- a stream ended at a client-side stop ---------------------------------------------

STOP_TEXT = [{"role": "user", "content": "echo:alpha STOP1 beta STOP2 gamma"}]


async def test_a_stream_cut_at_a_client_stop_says_its_usage_is_unknown(api: Api) -> None:
    _, completion, error = await api.stream(STOP_TEXT, thinking=False, stop=["STOP2", "STOP1"])
    assert error is None
    assert completion is not None
    assert completion.content == "alpha "
    assert completion.usage is None
    assert completion.stopped_by_client is True
    assert "stopped_by_client" not in completion.model_dump()  # not a wire field


async def test_a_stream_the_server_stopped_has_usage_and_no_flag(api: Api) -> None:
    _, completion, _ = await api.stream(STOP_TEXT, thinking=False, stop=["STOP1"])
    assert completion is not None
    assert completion.content == "alpha "
    assert completion.usage is not None
    assert completion.stopped_by_client is False


async def test_chat_cut_at_a_client_stop_keeps_usage_and_says_so(api: Api) -> None:
    answer = await api.chat(STOP_TEXT, thinking=False, stop=["STOP2", "STOP1"])
    assert answer.content == "alpha "
    assert answer.usage is not None
    assert answer.stopped_by_client is True


def test_the_stream_object_tells_before_the_completion_exists(client: PowerTokens) -> None:
    with client.stream(STOP_TEXT, thinking=False, stop=["STOP2", "STOP1"]) as stream:
        seen = []
        for delta in stream:
            seen.append((delta.finish_reason, stream.stopped_by_client))
    assert seen[-1] == ("stop", True)
    assert all(flag is False for _, flag in seen[:-1])
