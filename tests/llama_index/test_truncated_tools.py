"""A tool call whose JSON arguments were cut off (``finish_reason="length"``) or are
malformed never runs the tool with missing arguments: ``get_tool_calls_from_response``
raises ``ToolCallArgumentsError`` on the finished answer, which ``predict_and_call`` and
``FunctionAgent`` (streaming, the default) surface. A scripted server sends the cut-off
answers over loopback (the emulator drops tool calls when it cuts an answer)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.tools import FunctionTool

from llama_index_powertokens import PowerTokens, ToolCallArgumentsError
from tests.hostile import HostileServer, completion, completion_chunk, json_response, sse_stream

CUT = '{"city": "Par'
calls: list[Any] = []


def get_weather(city: str | None = None) -> str:
    """Current weather in a city."""
    calls.append(city)
    return f"Sunny in {city}"


WEATHER = FunctionTool.from_defaults(get_weather)


def _call(arguments: str, index: int = 0) -> dict[str, Any]:
    return {
        "index": index,
        "id": f"call_{index}",
        "type": "function",
        "function": {"name": "get_weather", "arguments": arguments},
    }


def whole(arguments: str, finish: str = "length") -> bytes:
    body = completion("", finish=finish)
    body["choices"][0]["message"]["tool_calls"] = [_call(arguments)]
    return json_response(200, body)


def streamed(arguments: str, finish: str = "length") -> list[Any]:
    half = len(arguments) // 2
    first, second = _call(arguments[:half]), _call(arguments[half:])
    del second["id"], second["type"], second["function"]["name"]
    return sse_stream(
        completion_chunk(tool_calls=[first]),
        completion_chunk(tool_calls=[second]),
        completion_chunk(finish=finish),
    )


@pytest.fixture
def server() -> Iterator[HostileServer]:
    calls.clear()
    with HostileServer() as hostile:
        yield hostile


@pytest.fixture
def llm(server: HostileServer) -> Iterator[PowerTokens]:
    model = PowerTokens(api_key="k", base_url=server.url, max_retries=0)
    yield model
    model.close()


async def _predict_and_call(llm: PowerTokens, mode: str) -> Any:
    if mode == "sync":
        return llm.predict_and_call([WEATHER], "Weather in Paris?")
    return await llm.apredict_and_call([WEATHER], "Weather in Paris?")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_predict_and_call_refuses_cut_off_arguments(
    llm: PowerTokens, server: HostileServer, mode: str
) -> None:
    server.script(whole(CUT))
    with pytest.raises(ToolCallArgumentsError) as info:
        await _predict_and_call(llm, mode)
    assert (info.value.tool_name, info.value.arguments) == ("get_weather", CUT)
    assert info.value.finish_reason == "length"
    assert "max_tokens" in str(info.value)
    assert calls == []  # the tool never ran ("Sunny in None" before)
    await llm.aclose()


async def test_malformed_arguments_on_a_finished_answer(
    llm: PowerTokens, server: HostileServer
) -> None:
    server.script(whole('{"city": Paris}', finish="tool_calls"))
    response = llm.chat_with_tools([WEATHER], "Weather in Paris?")
    with pytest.raises(ToolCallArgumentsError, match="not a JSON object"):
        llm.get_tool_calls_from_response(response)


async def test_astream_chat_with_tools_raises_only_on_the_final_item(
    llm: PowerTokens, server: HostileServer
) -> None:
    server.script(streamed(CUT))
    responses = [r async for r in await llm.astream_chat_with_tools([WEATHER], "Paris?")]
    *partial, last = responses
    for response in partial:  # mid-stream: partial JSON, read as far as it goes
        llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
    with pytest.raises(ToolCallArgumentsError):
        llm.get_tool_calls_from_response(last, error_on_no_tool_call=False)
    await llm.aclose()


async def test_complete_arguments_still_run(llm: PowerTokens, server: HostileServer) -> None:
    server.script(streamed('{"city": "Paris"}', finish="tool_calls"))
    responses = [r async for r in await llm.astream_chat_with_tools([WEATHER], "Paris?")]
    [selection] = llm.get_tool_calls_from_response(responses[-1])
    assert selection.tool_kwargs == {"city": "Paris"}
    await llm.aclose()


async def test_function_agent_streaming_stops_with_the_error(
    llm: PowerTokens, server: HostileServer
) -> None:
    server.script(streamed(CUT))
    agent = FunctionAgent(tools=[WEATHER], llm=llm)  # streaming=True by default
    with pytest.raises(Exception) as info:  # noqa: PT011  # the workflow wraps it
        await agent.run("Weather in Paris?")
    chain: list[BaseException] = []
    error: BaseException | None = info.value
    while error is not None:
        chain.append(error)
        error = error.__cause__ or error.__context__
    assert any(isinstance(e, ToolCallArgumentsError) for e in chain), chain
    assert calls == []
    await llm.aclose()
