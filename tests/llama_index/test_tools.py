"""Tool calling through LlamaIndex's FunctionCallingLLM API, against the emulator:
whole and streamed calls (both stream forms, several calls in one chunk), the history
round-trip, predict_and_call, tool_required/tool_choice on an "auto"-only API."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, ThinkingBlock, ToolCallBlock
from llama_index.core.tools import FunctionTool

from llama_index_powertokens import PowerTokens
from powertokens.emulator import Emulator

from .conftest import Runner

TWO_CITIES = "What is the weather in Paris and London?"


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny, 21 C in {city}"


WEATHER = FunctionTool.from_defaults(get_weather)


async def chat_with_tools(run: Runner, **kwargs: Any) -> ChatResponse:
    if run.mode == "sync":
        return run.llm.chat_with_tools([WEATHER], **kwargs)
    return await run.llm.achat_with_tools([WEATHER], **kwargs)


async def stream_with_tools(run: Runner, **kwargs: Any) -> list[ChatResponse]:
    if run.mode == "sync":
        return list(run.llm.stream_chat_with_tools([WEATHER], **kwargs))
    return [r async for r in await run.llm.astream_chat_with_tools([WEATHER], **kwargs)]


def selections(llm: PowerTokens, response: ChatResponse) -> list[Any]:
    return llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)


def calls(llm: PowerTokens, response: ChatResponse) -> list[tuple[str, dict[str, Any]]]:
    return [(c.tool_name, c.tool_kwargs) for c in selections(llm, response)]


PARALLEL = [("get_weather", {"city": "Paris"}), ("get_weather", {"city": "London"})]


async def test_parallel_calls_whole(run: Runner, emu: Emulator) -> None:
    response = await chat_with_tools(run, user_msg=TWO_CITIES, allow_parallel_tool_calls=True)
    assert calls(run.llm, response) == PARALLEL
    blocks = response.message.blocks
    assert isinstance(blocks[0], ThinkingBlock)
    assert all(b.tool_call_id for b in blocks if isinstance(b, ToolCallBlock))
    body = emu.requests[0].json
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather"]
    assert "tool_choice" not in body
    assert "parallel_tool_calls" not in body


async def test_single_call_unless_parallel_allowed(run: Runner) -> None:
    response = await chat_with_tools(run, user_msg=TWO_CITIES)
    assert calls(run.llm, response) == PARALLEL[:1]
    assert len(response.message.additional_kwargs["tool_calls"]) == 1


@pytest.mark.parametrize(
    ("form", "headers", "fault"),
    [
        ("call-per-chunk", None, None),
        ("one-chunk", None, "tool-calls-one-chunk"),
        ("argument-fragments", {"X-PowerTokens-Tool-Stream": "1"}, None),
    ],
)
async def test_streamed_calls(
    run: Runner, emu: Emulator, form: str, headers: dict[str, str] | None, fault: str | None
) -> None:
    if fault:
        emu.push_fault(fault)
    responses = await stream_with_tools(
        run, user_msg=TWO_CITIES, allow_parallel_tool_calls=True, extra_headers=headers
    )
    for response in responses:  # what FunctionAgent does on every chunk: never raises
        calls(run.llm, response)
    assert calls(run.llm, responses[-1]) == PARALLEL
    chunk_calls = [
        c["choices"][0]["delta"].get("tool_calls") or []
        for c in (r.raw for r in responses)
        if c.get("choices")
    ]
    sizes = [len(x) for x in chunk_calls if x]
    if form == "one-chunk":
        assert sizes == [2]
    elif form == "call-per-chunk":
        assert sizes == [1, 1]
    else:
        assert len(sizes) > 2


async def test_history_round_trip(run: Runner, emu: Emulator) -> None:
    history = [ChatMessage(role="system", content="You are a weather bot.")]
    first = await chat_with_tools(
        run, user_msg="What is the weather in Paris?", chat_history=history
    )
    [selection] = selections(run.llm, first)
    assert len(history) == 1  # the caller's list is never appended to
    turn = [
        *history,
        ChatMessage(role="user", content="What is the weather in Paris?"),
        first.message,
        ChatMessage(
            role="tool",
            content=WEATHER(**selection.tool_kwargs).content,
            additional_kwargs={"tool_call_id": selection.tool_id},
        ),
    ]
    before = [m.model_dump() for m in turn]
    final = await chat_with_tools(run, chat_history=turn)
    assert final.message.content == "According to get_weather: Sunny, 21 C in Paris."
    assert [m.model_dump() for m in turn] == before
    sent = emu.requests[1].json["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert sent[2]["reasoning_content"] == first.message.blocks[0].content
    assert sent[2]["tool_calls"][0]["id"] == selection.tool_id
    assert sent[2]["tool_calls"][0]["function"] == {
        "name": "get_weather",
        "arguments": '{"city": "Paris"}',
    }
    assert sent[3] == {
        "role": "tool",
        "content": "Sunny, 21 C in Paris",
        "tool_call_id": selection.tool_id,
    }


async def test_streamed_message_round_trips_too(run: Runner, emu: Emulator) -> None:
    responses = await stream_with_tools(run, user_msg="What is the weather in Rome?")
    [selection] = selections(run.llm, responses[-1])
    tool_msg = ChatMessage(
        role="tool", content="Rainy", additional_kwargs={"tool_call_id": selection.tool_id}
    )
    question = ChatMessage(role="user", content="What is the weather in Rome?")
    final = await stream_with_tools(run, chat_history=[question, responses[-1].message, tool_msg])
    assert final[-1].message.content == "According to get_weather: Rainy."


async def test_predict_and_call(run: Runner) -> None:
    if run.mode == "sync":
        result = run.llm.predict_and_call([WEATHER], user_msg="What is the weather in Oslo?")
        both = run.llm.predict_and_call(
            [WEATHER], user_msg=TWO_CITIES, allow_parallel_tool_calls=True
        )
    else:
        result = await run.llm.apredict_and_call([WEATHER], user_msg="What is the weather in Oslo?")
        both = await run.llm.apredict_and_call(
            [WEATHER], user_msg=TWO_CITIES, allow_parallel_tool_calls=True
        )
    assert result.response == "Sunny, 21 C in Oslo"
    assert both.response == "Sunny, 21 C in Paris\n\nSunny, 21 C in London"


@pytest.mark.parametrize(
    "kwargs", [{"tool_required": True}, {"tool_choice": "get_weather"}, {"tool_choice": "required"}]
)
async def test_required_or_named_tool_becomes_auto_plus_a_prompt(
    run: Runner, emu: Emulator, kwargs: dict[str, Any]
) -> None:
    history = [ChatMessage(role="user", content="Hello there, how are you?")]
    response = await chat_with_tools(run, chat_history=history, **kwargs)
    assert [name for name, _ in calls(run.llm, response)] == ["get_weather"]
    body = emu.requests[0].json
    assert body.get("tool_choice", "auto") == "auto"
    assert body["messages"][0]["role"] == "system"
    assert "get_weather" in body["messages"][0]["content"]
    assert len(history) == 1


async def test_tool_choice_none_sends_no_tools(run: Runner, emu: Emulator) -> None:
    response = await chat_with_tools(run, user_msg=TWO_CITIES, tool_choice="none")
    assert calls(run.llm, response) == []
    assert "tools" not in emu.requests[0].json


def test_no_tool_call_raises_only_when_asked(llm: PowerTokens) -> None:
    response = llm.chat_with_tools([WEATHER], user_msg="echo: good morning")
    assert llm.get_tool_calls_from_response(response, error_on_no_tool_call=False) == []
    with pytest.raises(ValueError, match="Expected at least one tool call"):
        llm.get_tool_calls_from_response(response)
