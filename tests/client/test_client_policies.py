"""The policies the API lacks, applied by the core for every caller (sync and async, stream
and not, over loopback): several stop sequences, any tool_choice, and what a stream hands
an adapter (ids, model, the running tool calls)."""

from __future__ import annotations

from typing import Any

import pytest

from powertokens import AsyncPowerTokens, PowerTokens, RequestValidationError
from powertokens.emulator import Emulator

from .conftest import Api

STOP_TEXT = [{"role": "user", "content": "echo:alpha STOP1 beta STOP2 gamma"}]
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
TIME = {"type": "function", "function": {"name": "get_time", "parameters": {"type": "object"}}}


def body(emu: Emulator) -> dict[str, Any]:
    return dict(emu.requests[-1].json)


async def test_chat_enforces_every_stop_and_sends_the_first(api: Api, emu: Emulator) -> None:
    answer = await api.chat(STOP_TEXT, thinking=False, stop=["STOP2", "STOP1"])
    assert body(emu)["stop"] == ["STOP2"]  # the API takes one
    assert answer.content == "alpha "
    assert answer.finish_reason == "stop"


async def test_a_stream_ends_at_any_stop_and_frees_its_connection(api: Api, emu: Emulator) -> None:
    # "1 b" spans two streamed pieces (" STOP1", " beta"): held back, then cut
    deltas, completion, error = await api.stream(STOP_TEXT, thinking=False, stop=["STOP2", "1 b"])
    assert error is None
    assert "".join(d.content for d in deltas) == "alpha STOP"
    assert deltas[-1].finish_reason == "stop"
    assert completion is not None
    assert (completion.content, completion.finish_reason) == ("alpha STOP", "stop")
    # ended early: the connection was closed, not read to the end or kept
    assert emu.wait_until(lambda e: e.open_connections == 0 and e.in_flight == 0, timeout=5)


async def test_a_stop_that_never_appears_changes_nothing(api: Api) -> None:
    deltas, completion, _ = await api.stream(STOP_TEXT, thinking=False, stop=["zzz", "yyy"])
    assert "".join(d.content for d in deltas) == "alpha STOP1 beta STOP2 gamma"
    assert completion is not None
    assert completion.finish_reason == "stop"


@pytest.mark.parametrize(
    ("tools", "choice", "hint"),
    [
        ([WEATHER, TIME], "get_weather", "Call the get_weather tool"),
        ([WEATHER, TIME], {"type": "function", "function": {"name": "get_time"}}, "get_time"),
        ([WEATHER, TIME], "required", "Call one of the provided tools"),
        ([WEATHER], "any", "Call the get_weather tool"),
    ],
)
async def test_a_forced_tool_choice_goes_out_as_auto_with_one_hint(
    api: Api, emu: Emulator, tools: list[Any], choice: Any, hint: str
) -> None:
    answer = await api.chat(
        [{"role": "user", "content": "What is the weather in Paris?"}],
        tools=tools,
        tool_choice=choice,
    )
    sent = body(emu)
    assert sent["tool_choice"] == "auto"
    assert sent["messages"][0]["role"] == "system"
    assert hint in sent["messages"][0]["content"]
    assert answer.message.tool_calls


async def test_tool_choice_none_sends_no_tools(api: Api, emu: Emulator) -> None:
    await api.chat([{"role": "user", "content": "Hi"}], tools=[WEATHER], tool_choice="none")
    assert "tools" not in body(emu)
    assert "tool_choice" not in body(emu)


async def test_a_forced_choice_without_tools_is_refused_before_sending(
    api: Api, emu: Emulator
) -> None:
    with pytest.raises(RequestValidationError, match="no tools were given"):
        await api.chat([{"role": "user", "content": "Hi"}], tool_choice="required")
    assert emu.request_count == 0


def test_a_stream_exposes_ids_model_and_the_running_tool_calls(
    client: PowerTokens, emu: Emulator
) -> None:
    messages = [{"role": "user", "content": "Weather in Paris and the time in Oslo?"}]
    with client.stream(
        messages, tools=[WEATHER, TIME], extra_headers={"X-PowerTokens-Tool-Stream": "1"}
    ) as stream:
        names = []
        for delta in stream:
            assert delta.id
            assert delta.model == "glm-5-turbo"
            if delta.tool_calls:
                names.append([call.name for call in stream.tool_calls])
        final = stream.completion
    assert final is not None
    assert final.message.tool_calls
    assert [c.function.name for c in final.message.tool_calls] == names[-1]
    assert [(c.id, c.function.arguments) for c in final.message.tool_calls] == [
        (c.id, c.arguments) for c in stream.tool_calls
    ]


async def test_an_async_stream_exposes_the_same(aclient: AsyncPowerTokens) -> None:
    messages = [{"role": "user", "content": "Weather in Paris?"}]
    async with aclient.stream(messages, tools=[WEATHER]) as stream:
        async for delta in stream:
            assert delta.id
            assert delta.model
        assert [c.name for c in stream.tool_calls] == ["get_weather"]
        assert stream.completion is not None
