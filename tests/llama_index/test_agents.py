"""Workflow agents running a tool to a final answer against the emulator."""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.agent.workflow import (
    AgentStream,
    FunctionAgent,
    ReActAgent,
    ToolCallResult,
)
from llama_index.core.base.llms.types import ThinkingBlock, ToolCallBlock
from llama_index.core.memory import ChatMemoryBuffer
from llama_index.core.tools import FunctionTool

from llama_index_powertokens import PowerTokens
from powertokens.emulator import Emulator

# LlamaIndex's own warnings: the workflow inspects the agent (a pydantic model) with
# inspect.getmembers, and ReActAgent calls a deprecated Context.is_running.
pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
    pytest.mark.filterwarnings("ignore:is_running called:DeprecationWarning"),
]


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny, 21 C in {city}"


WEATHER = FunctionTool.from_defaults(get_weather)


async def _run(agent: Any, question: str, **kwargs: Any) -> tuple[str, list[Any]]:
    handler = agent.run(question, **kwargs)
    events = [event async for event in handler.stream_events()]
    return str(await handler), events


@pytest.mark.parametrize("streaming", [True, False])
async def test_function_agent(llm: PowerTokens, emu: Emulator, streaming: bool) -> None:
    agent = FunctionAgent(tools=[WEATHER], llm=llm, streaming=streaming)
    memory = ChatMemoryBuffer.from_defaults(token_limit=40_000)
    answer, events = await _run(agent, "What is the weather in Paris?", memory=memory)
    assert answer == "According to get_weather: Sunny, 21 C in Paris."
    results = [e for e in events if isinstance(e, ToolCallResult)]
    assert [(r.tool_name, r.tool_kwargs) for r in results] == [("get_weather", {"city": "Paris"})]
    stream = [e for e in events if isinstance(e, AgentStream)]
    if streaming:
        assert any(e.thinking_delta for e in stream)
        assert any(e.tool_calls for e in stream)
        assert "".join(e.delta for e in stream).endswith(answer)
    else:
        assert not stream
    # memory holds the assistant turn whole: reasoning and the tool call
    stored = await memory.aget_all()
    assistant = next(m for m in stored if any(isinstance(b, ToolCallBlock) for b in m.blocks))
    assert isinstance(assistant.blocks[0], ThinkingBlock)
    sent = emu.requests[1].json["messages"]
    assert [m["role"] for m in sent][-2:] == ["assistant", "tool"]
    assert sent[-2]["reasoning_content"]


async def test_function_agent_parallel_calls_and_initial_tool_choice(
    llm: PowerTokens, emu: Emulator
) -> None:
    emu.push_fault("tool-calls-one-chunk")
    agent = FunctionAgent(tools=[WEATHER], llm=llm, initial_tool_choice="get_weather")
    answer, events = await _run(agent, "What is the weather in Paris and London?")
    assert answer == (
        "According to get_weather: Sunny, 21 C in Paris. "
        "According to get_weather: Sunny, 21 C in London."
    )
    assert sorted(e.tool_kwargs["city"] for e in events if isinstance(e, ToolCallResult)) == [
        "London",
        "Paris",
    ]
    assert emu.requests[0].json.get("tool_choice", "auto") == "auto"


async def test_react_agent(llm: PowerTokens) -> None:
    agent = ReActAgent(tools=[WEATHER], llm=llm)
    answer, events = await _run(agent, "What is the weather in Paris?", max_iterations=4)
    assert "Sunny, 21 C in Paris" in answer
    assert any(isinstance(e, ToolCallResult) for e in events)
    assert any(isinstance(e, AgentStream) and e.thinking_delta for e in events)
