"""``allow_parallel_tool_calls=False`` in every form (chat, stream, async, FunctionAgent
with its default streaming), and the usage of a stream cut at a client-side stop."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent, ToolCallResult
from llama_index.core.base.llms.types import ChatResponse
from llama_index.core.tools import FunctionTool

from llama_index_powertokens import PowerTokens
from powertokens.emulator import Emulator

from .conftest import Runner, user

pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
]

THREE_CITIES = "What is the weather in Paris, Rome and London?"
TOOL_STREAM = {"X-PowerTokens-Tool-Stream": "1"}


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny, 21 C in {city}"


WEATHER = FunctionTool.from_defaults(get_weather)


async def chat_with_tools(
    llm: PowerTokens, mode: str, allow: bool, **kwargs: Any
) -> list[ChatResponse]:
    """Every response the call form gives (one, or each streamed one)."""
    common: dict[str, Any] = {"allow_parallel_tool_calls": allow, **kwargs}
    if mode == "chat":
        return [llm.chat_with_tools([WEATHER], THREE_CITIES, **common)]
    if mode == "achat":
        return [await llm.achat_with_tools([WEATHER], THREE_CITIES, **common)]
    if mode == "stream":
        return list(llm.stream_chat_with_tools([WEATHER], THREE_CITIES, **common))
    gen = await llm.astream_chat_with_tools([WEATHER], THREE_CITIES, **common)
    return [r async for r in gen]


MODES = ["chat", "achat", "stream", "astream"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("headers", [None, TOOL_STREAM])
async def test_no_parallel_calls_gives_one_call_in_every_form(
    llm: PowerTokens, emu: Emulator, mode: str, headers: dict[str, str] | None
) -> None:
    responses = await chat_with_tools(llm, mode, False, extra_headers=headers)
    for response in responses:  # never more than one, also mid-stream
        assert len(llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)) <= 1
        assert len(response.message.additional_kwargs.get("tool_calls") or ()) <= 1
    calls = llm.get_tool_calls_from_response(responses[-1])
    assert [(c.tool_name, c.tool_kwargs) for c in calls] == [("get_weather", {"city": "Paris"})]
    body = emu.requests[-1].json
    assert "parallel_tool_calls" not in body
    assert body["messages"][0] == {
        "role": "system",
        "content": "Request at most one tool invocation in your reply.",
    }


@pytest.mark.parametrize("mode", MODES)
async def test_parallel_calls_allowed_gives_all_three(
    llm: PowerTokens, emu: Emulator, mode: str
) -> None:
    responses = await chat_with_tools(llm, mode, True)
    calls = llm.get_tool_calls_from_response(responses[-1])
    assert [c.tool_kwargs["city"] for c in calls] == ["Paris", "Rome", "London"]
    assert emu.requests[-1].json["messages"][0]["role"] == "user"  # no hint


@pytest.mark.parametrize("streaming", [True, False])
async def test_function_agent_without_parallel_calls_runs_the_tool_once(
    llm: PowerTokens, streaming: bool
) -> None:
    ran: list[str] = []

    def weather(city: str) -> str:
        """Get the current weather for a city."""
        ran.append(city)
        return f"Sunny, 21 C in {city}"

    tool = FunctionTool.from_defaults(weather, name="get_weather")
    agent = FunctionAgent(
        tools=[tool], llm=llm, allow_parallel_tool_calls=False, streaming=streaming
    )
    handler = agent.run(THREE_CITIES)
    events = [event async for event in handler.stream_events()]
    await handler
    assert ran == ["Paris"]
    assert [e.tool_kwargs for e in events if isinstance(e, ToolCallResult)] == [{"city": "Paris"}]


async def test_function_agent_with_parallel_calls_runs_all_three(llm: PowerTokens) -> None:
    ran: list[str] = []

    def weather(city: str) -> str:
        """Get the current weather for a city."""
        ran.append(city)
        return f"Sunny, 21 C in {city}"

    agent = FunctionAgent(tools=[FunctionTool.from_defaults(weather, name="get_weather")], llm=llm)
    handler = agent.run(THREE_CITIES)
    async for _ in handler.stream_events():
        pass
    await handler
    assert sorted(ran) == ["London", "Paris", "Rome"]


# --- usage of a stream ended at a client-side stop ----------------------------------------

STOP_TEXT = "echo:alpha STOP1 beta STOP2 gamma"


async def test_a_stream_cut_at_a_client_stop_says_usage_is_unknown(run: Runner) -> None:
    responses = await run.stream_chat(user(STOP_TEXT), stop=["STOP2", "STOP1"], thinking=False)
    last = responses[-1]
    assert last.message.content == "alpha "
    assert last.additional_kwargs["usage_unknown"] == "stopped at a client-side stop sequence"
    assert "total_tokens" not in last.additional_kwargs
    completions = await run.stream_complete(STOP_TEXT, stop=["STOP2", "STOP1"], thinking=False)
    assert completions[-1].additional_kwargs["usage_unknown"]


async def test_a_stream_the_server_stopped_reports_usage(run: Runner) -> None:
    responses = await run.stream_chat(user(STOP_TEXT), stop=["STOP1"], thinking=False)
    last = responses[-1]
    assert last.message.content == "alpha "
    assert last.additional_kwargs["total_tokens"] > 0
    assert "usage_unknown" not in last.additional_kwargs
