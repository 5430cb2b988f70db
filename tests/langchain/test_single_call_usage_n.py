"""``parallel_tool_calls=False``, the usage of a stream cut at a client-side stop, and
``n``: through ``ChatPowerTokens`` over loopback, sync and async, invoke and stream."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.tools import tool

from langchain_powertokens import ChatPowerTokens, PowerTokensRequestValidationError
from powertokens.emulator import Emulator

from .conftest import Factory
from .helpers import Run, add_up

THREE_CITIES = "What is the weather in Paris, Rome and London?"
STOP_TEXT = "echo:alpha STOP1 beta STOP2 gamma"
TOOL_STREAM = {"X-PowerTokens-Tool-Stream": "1"}


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}."


def last_body(emu: Emulator) -> dict[str, Any]:
    body = emu.requests[-1]["json"]
    assert isinstance(body, dict)
    return body


async def test_without_the_setting_three_calls_come_back(run: Run, model: ChatPowerTokens) -> None:
    message = await run.invoke(model.bind_tools([get_weather]), THREE_CITIES)
    assert len(message.tool_calls) == 3


async def test_bind_tools_parallel_false_keeps_the_first_call_in_invoke(
    run: Run, model: ChatPowerTokens, emu: Emulator
) -> None:
    bound = model.bind_tools([get_weather], parallel_tool_calls=False)
    message = await run.invoke(bound, THREE_CITIES)
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Paris"})
    ]
    body = last_body(emu)
    assert "parallel_tool_calls" not in body
    assert body["messages"][0]["content"] == "Request at most one tool invocation in your reply."


@pytest.mark.parametrize("headers", [None, TOOL_STREAM])
async def test_bind_tools_parallel_false_keeps_the_first_call_in_streams(
    run: Run, make_model: Factory, emu: Emulator, headers: dict[str, str] | None
) -> None:
    model = make_model(default_headers=headers)
    bound = model.bind_tools([get_weather], parallel_tool_calls=False)
    chunks = await run.stream(bound, THREE_CITIES)
    pieces = [p for c in chunks for p in c.tool_call_chunks]
    assert pieces
    assert {p["index"] for p in pieces} == {0}
    assert json.loads("".join(p["args"] or "" for p in pieces)) == {"city": "Paris"}
    full = add_up(chunks)
    assert [(c["name"], c["args"]) for c in full.tool_calls] == [("get_weather", {"city": "Paris"})]
    assert full.response_metadata["finish_reason"] == "tool_calls"
    assert "parallel_tool_calls" not in last_body(emu)


async def test_a_per_call_parallel_false_works_too(
    run: Run, model: ChatPowerTokens, emu: Emulator
) -> None:
    bound = model.bind_tools([get_weather])
    message = await run.invoke(bound, THREE_CITIES, parallel_tool_calls=False)
    assert len(message.tool_calls) == 1
    full = add_up(await run.stream(bound, THREE_CITIES, parallel_tool_calls=False))
    assert len(full.tool_calls) == 1
    assert "parallel_tool_calls" not in last_body(emu)


def test_a_bad_parallel_value_fails_at_bind(model: ChatPowerTokens) -> None:
    with pytest.raises(PowerTokensRequestValidationError, match="parallel_tool_calls"):
        model.bind_tools([get_weather], parallel_tool_calls="no")  # type: ignore[arg-type]


# --- usage of a stream ended at a client-side stop ----------------------------------------


async def test_a_stream_cut_at_a_client_stop_says_usage_is_unknown(
    run: Run, make_model: Factory
) -> None:
    model = make_model(thinking=False)
    full = add_up(await run.stream(model, STOP_TEXT, stop=["STOP2", "STOP1"]))
    assert full.text == "alpha "
    assert full.usage_metadata is None
    assert full.response_metadata["usage_unknown"] == "stopped at a client-side stop sequence"
    # invoke reads the whole answer: usage known, no such key
    message = await run.invoke(model, STOP_TEXT, stop=["STOP2", "STOP1"])
    assert message.usage_metadata is not None
    assert "usage_unknown" not in message.response_metadata


async def test_a_stream_the_server_stopped_keeps_its_usage(run: Run, make_model: Factory) -> None:
    full = add_up(await run.stream(make_model(thinking=False), STOP_TEXT, stop=["STOP1"]))
    assert full.text == "alpha "
    assert full.usage_metadata is not None
    assert "usage_unknown" not in full.response_metadata


# --- n ------------------------------------------------------------------------------------


def test_a_constructor_n_other_than_one_is_refused(make_model: Factory) -> None:
    with pytest.raises(ValueError, match="n: must be 1"):
        make_model(n=2)


async def test_a_per_call_n_other_than_one_is_refused_before_sending(
    run: Run, model: ChatPowerTokens, emu: Emulator
) -> None:
    with pytest.raises(PowerTokensRequestValidationError, match="n: must be 1"):
        await run.invoke(model, "Hi", n=3)
    assert emu.request_count == 0


async def test_n_equal_to_one_is_accepted_and_not_sent(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    await run.invoke(make_model(n=1), "Hi")
    assert "n" not in last_body(emu)
    await run.invoke(make_model(), "Hi", n=1)
    assert "n" not in last_body(emu)
