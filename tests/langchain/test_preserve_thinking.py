"""``preserve_thinking`` on ``ChatPowerTokens``: ``thinking.clear_thinking: false`` on the
wire and every assistant turn's reasoning replayed byte for byte, over loopback HTTP
(the emulator records what it received), sync and async, streamed and not."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    merge_message_runs,
    trim_messages,
)

from langchain_powertokens import ChatPowerTokens
from powertokens import PowerTokensError
from powertokens.emulator import Emulator
from powertokens.emulator.model import generate
from tests.hostile import HostileServer, completion_chunk, sse_stream

from .conftest import KEY, Factory
from .helpers import Run, add_up

PRESERVED = {"type": "enabled", "clear_thinking": False}

# Reasoning as a model may write it: leading newlines, trailing spaces, inner blank lines.
R1 = "\nThe user wants a plan.  "
R2 = "\n\nI should call the weather tool first.   "
R3 = "  The tool said sunny; answer briefly.\n"


def _weather_call() -> dict[str, Any]:
    return {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}


def history() -> list[BaseMessage]:
    """Two user turns, a tool turn, three assistant turns with awkward reasoning."""
    return [
        SystemMessage("You are a travel agent."),
        HumanMessage("Plan a day in Paris."),
        AIMessage("Morning: Louvre.", additional_kwargs={"reasoning_content": R1}),
        HumanMessage("Check the weather first."),
        AIMessage("", tool_calls=[_weather_call()], additional_kwargs={"reasoning_content": R2}),
        ToolMessage("Sunny, 24 C", tool_call_id="call_1"),
        AIMessage("It is sunny.", additional_kwargs={"reasoning_content": R3}),
        HumanMessage("Great, and the evening?"),
    ]


def sent(emu: Emulator, index: int = -1) -> dict[str, Any]:
    body: dict[str, Any] = emu.requests[index].json
    return body


def sent_reasoning(body: dict[str, Any]) -> list[str | None]:
    return [m.get("reasoning_content") for m in body["messages"] if m["role"] == "assistant"]


async def call(run: Run, model: Any, messages: Any, stream: bool, **kwargs: Any) -> AIMessage:
    if stream:
        return add_up(await run.stream(model, messages, **kwargs))
    result: AIMessage = await run.invoke(model, messages, **kwargs)
    return result


@pytest.fixture(params=["invoke", "stream"])
def stream(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "stream")


async def test_history_is_replayed_byte_for_byte_with_clear_thinking_false(
    run: Run, stream: bool, make_model: Factory, emu: Emulator
) -> None:
    model = make_model(model="glm-5", preserve_thinking=True)
    await call(run, model, history(), stream)
    body = sent(emu)
    assert body["thinking"] == PRESERVED
    assert sent_reasoning(body) == [R1, R2, R3]


async def test_generated_reasoning_round_trips_across_turns(
    run: Run, stream: bool, make_model: Factory, emu: Emulator
) -> None:
    model = make_model(model="glm-5", preserve_thinking=True)
    messages: list[BaseMessage] = [
        SystemMessage(" ".join(["Answer from the travel handbook."] * 12)),
        HumanMessage("Which city has the oldest bridge?"),
    ]
    produced: list[str] = []
    for follow_up in ("And the newest?", "Why?", "Thanks, which one is longer?"):
        reply = await call(run, model, messages, stream)
        reasoning = reply.additional_kwargs["reasoning_content"]
        produced.append(reasoning)
        assert reasoning == emu_reasoning(emu)
        messages += [reply, HumanMessage(follow_up)]
    last = await call(run, model, messages, stream)
    assert sent_reasoning(sent(emu)) == produced
    # The prompt cache covers the previous request and its reply.
    if not stream:
        assert last.usage_metadata is not None
        assert last.usage_metadata["input_token_details"]["cache_read"] > 0


def emu_reasoning(emu: Emulator) -> str:
    """The reasoning the emulator produces for the last request (it is deterministic)."""
    return generate(sent(emu)).reasoning


async def test_preserved_thinking_caches_more_than_cleared(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    async def conversation(model: ChatPowerTokens) -> int:
        messages: list[BaseMessage] = [
            SystemMessage(" ".join(["Answer from the travel handbook."] * 12)),
            HumanMessage("Which city has the oldest bridge?"),
        ]
        messages += [await run.invoke(model, messages), HumanMessage("And the newest?")]
        last = await run.invoke(model, messages)
        cached: int = last.usage_metadata["input_token_details"]["cache_read"]
        return cached

    cleared = await conversation(make_model(model="glm-5"))
    emu.reset()
    preserved = await conversation(make_model(model="glm-5", preserve_thinking=True))
    assert preserved > cleared


@pytest.fixture
def hostile() -> Iterator[HostileServer]:
    with HostileServer() as server:
        yield server


async def test_streamed_reasoning_pieces_sum_to_the_exact_text(
    run: Run, make_model: Factory, emu: Emulator, hostile: HostileServer
) -> None:
    # A model whose reasoning starts with a newline and ends in spaces, streamed in
    # pieces: the chunks summed with + give it back exactly, and it is sent so.
    pieces = ["\n", "First", " the plan", ".  ", "\n"]
    events = [completion_chunk(reasoning_content=p) for p in pieces]
    events += [completion_chunk("Done."), completion_chunk(finish="stop")]
    hostile.script(sse_stream(*events))
    source = ChatPowerTokens(api_key=KEY, base_url=hostile.url, max_retries=0)
    reply = add_up(await run.stream(source, "Plan."))
    assert isinstance(reply, AIMessageChunk)
    assert reply.additional_kwargs["reasoning_content"] == "".join(pieces)
    model = make_model(model="glm-5", preserve_thinking=True)
    await run.invoke(model, [HumanMessage("Plan."), reply, HumanMessage("Go on.")])
    assert sent_reasoning(sent(emu)) == ["".join(pieces)]
    source.close()


async def test_merge_message_runs_keeps_each_reasoning(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    messages = history()
    # Split user turns, as chat UIs send them: merging joins those, never the reasoning.
    split = [
        *messages[:3],
        HumanMessage("Check the weather"),
        HumanMessage("first."),
        *messages[4:],
    ]
    merged = merge_message_runs(split)
    await run.invoke(make_model(preserve_thinking=True), merged)
    assert sent_reasoning(sent(emu)) == [R1, R2, R3]


async def test_trim_messages_with_the_model_as_counter_keeps_reasoning_exact(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    model = make_model(preserve_thinking=True)
    messages = history()
    whole = model.get_num_tokens_from_messages(messages)
    # The counter counts the reasoning that will be sent.
    bare = [
        AIMessage(m.content, tool_calls=m.tool_calls) if isinstance(m, AIMessage) else m
        for m in messages
    ]
    assert whole > model.get_num_tokens_from_messages(bare)
    trimmed = trim_messages(
        messages,
        max_tokens=whole - 1,
        token_counter=model,
        strategy="last",
        include_system=True,
        start_on="human",
    )
    assert len(trimmed) < len(messages)
    await run.invoke(model, trimmed)
    expected = [
        m.additional_kwargs["reasoning_content"] for m in trimmed if isinstance(m, AIMessage)
    ]
    assert expected
    assert sent_reasoning(sent(emu)) == expected


async def test_per_call_setting(run: Run, stream: bool, make_model: Factory, emu: Emulator) -> None:
    await call(run, make_model(), history(), stream, preserve_thinking=True)
    assert sent(emu)["thinking"] == PRESERVED
    await call(run, make_model(preserve_thinking=True), history(), stream, preserve_thinking=False)
    assert "thinking" not in sent(emu)
    # Interleaved thinking: the current tool loop's reasoning goes back either way.
    assert sent_reasoning(sent(emu)) == [R1, R2, R3]


async def test_turn_level_thinking_off_keeps_the_history(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    model = make_model(preserve_thinking=True)
    await run.invoke(model, history(), thinking=False)
    assert sent(emu)["thinking"] == {"type": "disabled", "clear_thinking": False}
    assert sent_reasoning(sent(emu)) == [R1, R2, R3]


def test_bound_runnables_forward_the_setting(make_model: Factory, emu: Emulator) -> None:
    def get_weather(city: str) -> str:
        """Weather in a city."""
        return "Sunny"

    model = make_model(preserve_thinking=True).bind_tools([get_weather])
    model.invoke(history())
    assert sent(emu)["thinking"] == PRESERVED
    assert sent_reasoning(sent(emu)) == [R1, R2, R3]


# --- refused before anything is sent ------------------------------------------------------


@pytest.mark.parametrize(
    ("settings", "names"),
    [
        ({"send_reasoning": False}, ("preserve_thinking", "send_reasoning")),
        ({"model": "glm-4.5-air"}, ("preserve_thinking", "glm-4.5-air")),
        ({"model": "glm-9-unknown"}, ("preserve_thinking", "glm-9-unknown")),
        (
            {"thinking": {"type": "enabled", "clear_thinking": True}},
            ("thinking.clear_thinking", "preserve_thinking"),
        ),
        ({"fallback_models": ["glm-4.5-air"]}, ("preserve_thinking", "glm-4.5-air")),
    ],
    ids=["send_reasoning-off", "unsupported-model", "unknown-model", "conflict", "fallback"],
)
def test_construction_errors_name_both_fields(settings: dict[str, Any], names: Any) -> None:
    with pytest.raises(PowerTokensError) as caught:
        ChatPowerTokens(api_key=KEY, preserve_thinking=True, **settings)
    assert isinstance(caught.value, ValueError)
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
    ],
    ids=["unsupported-model", "send_reasoning-off", "conflict"],
)
async def test_per_call_errors_send_nothing(
    run: Run,
    stream: bool,
    make_model: Factory,
    emu: Emulator,
    settings: dict[str, Any],
    kwargs: dict[str, Any],
    name: str,
) -> None:
    model = make_model(**settings)
    with pytest.raises(PowerTokensError, match="preserve_thinking") as caught:
        await call(run, model, history(), stream, **kwargs)
    assert name in str(caught.value)
    assert emu.request_count == 0


def test_assignment_is_checked_at_call_time(make_model: Factory, emu: Emulator) -> None:
    model = make_model(send_reasoning=False)
    model.preserve_thinking = True
    with pytest.raises(PowerTokensError, match="send_reasoning"):
        model.invoke(history())
    assert emu.request_count == 0


# --- agents and saved models ---------------------------------------------------------------


async def test_create_agent_loop_replays_every_turn(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    from langchain.agents import create_agent
    from langchain_core.tools import tool

    @tool
    def get_weather(city: str) -> str:
        """Get the current weather in a city."""
        return f"sunny in {city}"

    model = make_model(model="glm-5", preserve_thinking=True)
    agent = create_agent(model, tools=[get_weather], system_prompt="You are helpful.")
    state = await run.invoke(agent, {"messages": [("user", "What is the weather in Paris?")]})
    first = [m for m in state["messages"] if isinstance(m, AIMessage)]
    assert len(first) >= 2  # a tool call, then the answer
    asked = [*state["messages"], HumanMessage("And in Rome? Use get_weather.")]
    state = await run.invoke(agent, {"messages": asked})
    body = sent(emu)
    assert body["thinking"] == PRESERVED
    replies = [m for m in state["messages"] if isinstance(m, AIMessage)]
    expected = [m.additional_kwargs.get("reasoning_content") for m in replies[:-1]]
    assert all(expected)
    assert sent_reasoning(body) == expected


def test_dumps_and_loads_keep_the_setting(make_model: Factory, emu: Emulator) -> None:
    from langchain_core.load import dumps, loads

    model = make_model(preserve_thinking=True)
    loaded = loads(
        dumps(model),
        secrets_map={"POWERTOKENS_API_KEY": KEY},
        valid_namespaces=["langchain_powertokens"],
        allowed_objects=[ChatPowerTokens],
    )
    assert loaded.preserve_thinking is True
    loaded.invoke(history())
    assert sent(emu)["thinking"] == PRESERVED


async def test_v1_content_blocks_round_trip(
    run: Run, stream: bool, make_model: Factory, emu: Emulator
) -> None:
    # output_version="v1": the reasoning lives in content blocks too; sent once, exact.
    model = make_model(model="glm-5", preserve_thinking=True, output_version="v1")
    messages: list[BaseMessage] = [HumanMessage("Which city has the oldest bridge?")]
    reply = await call(run, model, messages, stream)
    produced = generate(sent(emu)).reasoning
    await call(run, model, [*messages, reply, HumanMessage("Why?")], stream)
    assert sent_reasoning(sent(emu)) == [produced]
    # A v1 message built by hand: reasoning blocks only, with edge whitespace.
    by_hand = AIMessage(
        content=[{"type": "reasoning", "reasoning": R1}, {"type": "text", "text": "Rome."}]
    )
    await call(run, model, [*messages, by_hand, HumanMessage("Why?")], stream)
    assert sent_reasoning(sent(emu)) == [R1]
