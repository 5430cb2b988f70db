"""``preserve_thinking`` on the LlamaIndex ``PowerTokens``: ``thinking.clear_thinking:
false`` on the wire and every assistant turn's ``ThinkingBlock`` replayed byte for byte,
over loopback HTTP (the emulator records what it received), sync and async, streamed
and not; ``send_reasoning`` with ``send_reasoning_content`` as its alias."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.memory import ChatMemoryBuffer, Memory
from llama_index.core.tools import FunctionTool

from llama_index_powertokens import PowerTokens
from powertokens import PowerTokensError, RequestValidationError
from powertokens.emulator import Emulator
from powertokens.emulator.model import generate
from tests.hostile import HostileServer, completion_chunk, sse_stream

from .conftest import KEY, Runner

pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
]

PRESERVED = {"type": "enabled", "clear_thinking": False}
R1 = "\nThe user wants a plan.  "
R2 = "\n\nI should call the weather tool first.   "
R3 = "  The tool said sunny; answer briefly.\n"


def assistant(text: str, reasoning: str, *calls: ToolCallBlock) -> ChatMessage:
    return ChatMessage(
        role="assistant", blocks=[ThinkingBlock(content=reasoning), TextBlock(text=text), *calls]
    )


def history() -> list[ChatMessage]:
    call = ToolCallBlock(tool_call_id="call_1", tool_name="get_weather", tool_kwargs={"city": "P"})
    return [
        ChatMessage(role="system", content="You are a travel agent."),
        ChatMessage(role="user", content="Plan a day in Paris."),
        assistant("Morning: Louvre.", R1),
        ChatMessage(role="user", content="Check the weather first."),
        assistant("", R2, call),
        ChatMessage(role="tool", content="Sunny", additional_kwargs={"tool_call_id": "call_1"}),
        assistant("It is sunny.", R3),
        ChatMessage(role="user", content="Great, and the evening?"),
    ]


def sent(emu: Emulator) -> dict[str, Any]:
    body: dict[str, Any] = emu.requests[-1].json
    return body


def sent_reasoning(body: dict[str, Any]) -> list[str | None]:
    return [m.get("reasoning_content") for m in body["messages"] if m["role"] == "assistant"]


def reasoning_of(message: ChatMessage) -> str:
    return "".join(b.content or "" for b in message.blocks if isinstance(b, ThinkingBlock))


@pytest.fixture
async def preserving(emu: Emulator) -> AsyncIterator[PowerTokens]:
    model = PowerTokens(api_key=KEY, base_url=emu.url, model="glm-5", preserve_thinking=True)
    yield model
    model.close()
    await model.aclose()


@pytest.fixture(params=["chat", "stream"])
def stream(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "stream")


async def ask(
    run: Runner, llm: PowerTokens, messages: Any, stream: bool, **kw: Any
) -> ChatResponse:
    runner = Runner(run.mode, llm)
    if stream:
        responses = await runner.stream_chat(messages, **kw)
        return responses[-1]
    return await runner.chat(messages, **kw)


async def test_history_is_replayed_byte_for_byte(
    run: Runner, preserving: PowerTokens, emu: Emulator, stream: bool
) -> None:
    await ask(run, preserving, history(), stream)
    assert sent(emu)["thinking"] == PRESERVED
    assert sent_reasoning(sent(emu)) == [R1, R2, R3]


async def test_generated_reasoning_round_trips(
    run: Runner, preserving: PowerTokens, emu: Emulator, stream: bool
) -> None:
    messages = [
        ChatMessage(role="system", content=" ".join(["Answer from the handbook."] * 12)),
        ChatMessage(role="user", content="Which city has the oldest bridge?"),
    ]
    produced: list[str] = []
    for follow_up in ("And the newest?", "Why?"):
        reply = await ask(run, preserving, messages, stream)
        reasoning = reasoning_of(reply.message)  # streams: the ThinkingBlock of the last
        assert reasoning == generate(sent(emu)).reasoning != ""
        produced.append(reasoning)
        messages += [reply.message, ChatMessage(role="user", content=follow_up)]
    last = await ask(run, preserving, messages, stream)
    assert sent_reasoning(sent(emu)) == produced
    if not stream:
        assert last.additional_kwargs["cached_tokens"] > 0


async def test_preserved_thinking_caches_more_than_cleared(run: Runner, emu: Emulator) -> None:
    async def conversation(llm: PowerTokens) -> int:
        messages = [
            ChatMessage(role="system", content=" ".join(["Answer from the handbook."] * 12)),
            ChatMessage(role="user", content="Which city has the oldest bridge?"),
        ]
        reply = await ask(run, llm, messages, False)
        messages += [reply.message, ChatMessage(role="user", content="And the newest?")]
        cached: int = (await ask(run, llm, messages, False)).additional_kwargs["cached_tokens"]
        return cached

    cleared = await conversation(PowerTokens(api_key=KEY, base_url=emu.url, model="glm-5"))
    emu.reset()
    llm = PowerTokens(api_key=KEY, base_url=emu.url, model="glm-5", preserve_thinking=True)
    assert await conversation(llm) > cleared


async def test_streamed_reasoning_with_edge_whitespace_round_trips(
    run: Runner, preserving: PowerTokens, emu: Emulator
) -> None:
    pieces = ["\n", "First", " the plan", ".  ", "\n"]
    events = [completion_chunk(reasoning_content=p) for p in pieces]
    events += [completion_chunk("Done."), completion_chunk(finish="stop")]
    with HostileServer() as server:
        server.script(sse_stream(*events))
        source = PowerTokens(api_key=KEY, base_url=server.url, max_retries=0)
        responses = await Runner(run.mode, source).stream_chat(
            [ChatMessage(role="user", content="Plan.")]
        )
        source.close()
    final = responses[-1].message
    assert reasoning_of(final) == "".join(pieces)
    asked = [ChatMessage(role="user", content="Plan."), final]
    await Runner(run.mode, preserving).chat([*asked, ChatMessage(role="user", content="Go on.")])
    assert sent_reasoning(sent(emu)) == ["".join(pieces)]


async def test_chat_memory_buffer_round_trip(
    run: Runner, preserving: PowerTokens, emu: Emulator
) -> None:
    # (ChatMemoryBuffer.to_dict fails in LlamaIndex itself with this pydantic: the
    # messages' own serializer; put and get are what agents use.)
    memory = ChatMemoryBuffer.from_defaults(token_limit=40_000)
    for message in history()[:-1]:
        memory.put(message)
    asked = [*memory.get(), ChatMessage(role="user", content="And the evening?")]
    await Runner(run.mode, preserving).chat(asked)
    assert sent_reasoning(sent(emu)) == [R1, R2, R3]


async def test_memory_round_trip(preserving: PowerTokens, emu: Emulator) -> None:
    memory = Memory.from_defaults(session_id="preserve", token_limit=40_000)
    await memory.aput_messages(history()[:-1])
    asked = [*await memory.aget(), ChatMessage(role="user", content="And the evening?")]
    await preserving.achat(asked)
    assert sent_reasoning(sent(emu)) == [R1, R2, R3]


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny, 21 C in {city}"


@pytest.mark.parametrize("streaming", [True, False])
async def test_function_agent_replays_every_turn(
    preserving: PowerTokens, emu: Emulator, streaming: bool
) -> None:
    agent = FunctionAgent(
        tools=[FunctionTool.from_defaults(get_weather)], llm=preserving, streaming=streaming
    )
    memory = ChatMemoryBuffer.from_defaults(token_limit=40_000)
    await agent.run("What is the weather in Paris?", memory=memory)
    await agent.run("And in Rome? Use get_weather.", memory=memory)
    stored = [m for m in await memory.aget_all() if m.role == "assistant"]
    expected = [reasoning_of(m) for m in stored[:-1]]
    assert all(expected)
    assert sent(emu)["thinking"] == PRESERVED
    assert sent_reasoning(sent(emu)) == expected


async def test_per_call_and_turn_level(run: Runner, llm: PowerTokens, emu: Emulator) -> None:
    await Runner(run.mode, llm).chat(history(), preserve_thinking=True)
    assert sent(emu)["thinking"] == PRESERVED
    await Runner(run.mode, llm).chat(history(), preserve_thinking=True, thinking=False)
    assert sent(emu)["thinking"] == {"type": "disabled", "clear_thinking": False}
    assert sent_reasoning(sent(emu)) == [R1, R2, R3]
    llm.preserve_thinking = True
    await Runner(run.mode, llm).chat(history(), preserve_thinking=False)
    assert "thinking" not in sent(emu)


# --- the send-back name and refusals -------------------------------------------------------


def test_send_reasoning_content_is_an_alias(emu: Emulator) -> None:
    llm = PowerTokens(api_key=KEY, base_url=emu.url, send_reasoning_content=False)
    assert llm.send_reasoning is False
    assert llm.send_reasoning_content is False
    llm.send_reasoning_content = True
    assert llm.send_reasoning is True
    llm.send_reasoning = False
    llm.chat(history())
    assert sent_reasoning(sent(emu)) == [None, None, None]
    data = llm.to_dict()
    assert data["send_reasoning"] is False
    assert "send_reasoning_content" not in data
    assert PowerTokens.from_dict(data).send_reasoning is False
    assert PowerTokens.from_dict({"send_reasoning_content": False}).send_reasoning is False


def test_both_send_back_names_is_an_error() -> None:
    with pytest.raises(RequestValidationError) as caught:
        PowerTokens(api_key=KEY, send_reasoning=True, send_reasoning_content=True)
    assert "send_reasoning_content" in str(caught.value)
    assert "send_reasoning" in str(caught.value).replace("send_reasoning_content", "")


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"send_reasoning": False}, ("preserve_thinking", "send_reasoning")),
        ({"send_reasoning_content": False}, ("preserve_thinking", "send_reasoning")),
        ({"model": "glm-4.5-air"}, ("preserve_thinking", "glm-4.5-air")),
        ({"model": "glm-9-unknown"}, ("preserve_thinking", "glm-9-unknown")),
        (
            {"thinking": {"type": "enabled", "clear_thinking": True}},
            ("thinking.clear_thinking", "preserve_thinking"),
        ),
        ({"fallback_models": ["glm-4.5-air"]}, ("preserve_thinking", "glm-4.5-air")),
    ],
    ids=["send_reasoning", "alias", "unsupported", "unknown", "conflict", "fallback"],
)
def test_construction_errors_name_both(settings: dict[str, Any], names: Any) -> None:
    with pytest.raises(RequestValidationError) as caught:
        PowerTokens(api_key=KEY, preserve_thinking=True, **settings)
    for name in names:
        assert name in str(caught.value)


@pytest.mark.parametrize(
    ("settings", "kwargs", "name"),
    [
        ({"model": "glm-4.5-air"}, {"preserve_thinking": True}, "glm-4.5-air"),
        ({"send_reasoning": False}, {"preserve_thinking": True}, "send_reasoning"),
        (
            {"preserve_thinking": True},
            {"thinking": {"type": "enabled", "clear_thinking": True}},
            "thinking.clear_thinking",
        ),
        ({}, {"preserve_thinking": "yes"}, "preserve_thinking"),
    ],
    ids=["unsupported", "send_reasoning", "conflict", "not-a-bool"],
)
async def test_per_call_errors_send_nothing(
    run: Runner,
    emu: Emulator,
    stream: bool,
    settings: dict[str, Any],
    kwargs: dict[str, Any],
    name: str,
) -> None:
    llm = PowerTokens(api_key=KEY, base_url=emu.url, **settings)
    with pytest.raises(PowerTokensError, match="preserve_thinking") as caught:
        await ask(run, llm, history(), stream, **kwargs)
    assert name in str(caught.value)
    assert emu.request_count == 0
