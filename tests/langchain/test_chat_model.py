"""ChatPowerTokens against the emulator over loopback: every behaviour, sync and async."""

from __future__ import annotations

from typing import Any

import pytest
from langchain_core.messages import AIMessage, AIMessageChunk, HumanMessage, SystemMessage
from langchain_core.tools import tool

from powertokens.emulator import Emulator

from .conftest import Factory
from .helpers import Run, TokenRecorder, add_up

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}."


def last_body(emu: Emulator) -> dict[str, Any]:
    body = emu.requests[-1]["json"]
    assert isinstance(body, dict)
    return body


# --- answers: text, reasoning, usage, metadata ------------------------------------------


async def test_invoke_returns_reasoning_usage_and_metadata(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    message = await run.invoke(make_model(model="glm-5"), "Hello")
    assert isinstance(message, AIMessage)
    assert message.text
    assert message.additional_kwargs["reasoning_content"]
    assert [b["type"] for b in message.content_blocks] == ["reasoning", "text"]
    usage = message.usage_metadata
    assert usage is not None
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]
    assert usage["output_token_details"]["reasoning"] > 0
    assert usage["input_token_details"]["cache_read"] == 0
    metadata = message.response_metadata
    assert metadata["model_name"] == "glm-5"
    assert metadata["finish_reason"] == "stop"
    assert metadata["model_provider"] == "powertokens"
    assert metadata["request_id"] == emu.requests[-1]["request_id"]
    assert metadata["id"] == message.id


async def test_stream_chunks_carry_reasoning_and_count_usage_once(
    run: Run, make_model: Factory
) -> None:
    model = make_model(model="glm-5")
    recorder = TokenRecorder()
    chunks = await run.stream(model, "Hello", config={"callbacks": [recorder]})
    assert all(isinstance(c, AIMessageChunk) for c in chunks)
    reasoning = [c.additional_kwargs["reasoning_content"] for c in chunks if c.additional_kwargs]
    assert len(reasoning) > 1  # streamed piece by piece, on every chunk that has some
    assert sum(1 for c in chunks if c.usage_metadata) == 1
    assert sum(1 for c in chunks if "model_name" in c.response_metadata) == 1
    assert chunks[-1].chunk_position == "last"
    assert len(recorder.tokens) == len(chunks)  # on_llm_new_token once per chunk
    full = add_up(chunks)
    whole = await run.invoke(model, "Hello")
    assert full.text == whole.text
    assert (
        full.additional_kwargs["reasoning_content"] == whole.additional_kwargs["reasoning_content"]
    )
    assert full.usage_metadata == whole.usage_metadata
    assert full.response_metadata["finish_reason"] == "stop"
    assert full.response_metadata["model_name"] == "glm-5"


async def test_streaming_field_makes_invoke_stream_with_callbacks(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    recorder = TokenRecorder()
    message = await run.invoke(
        make_model(streaming=True), "Hello", config={"callbacks": [recorder]}
    )
    assert last_body(emu)["stream"] is True
    assert len(recorder.tokens) > 2
    assert "".join(recorder.tokens) == message.text
    assert message.usage_metadata is not None


@pytest.mark.parametrize("tool_stream", [False, True], ids=["whole-calls", "argument-pieces"])
async def test_v1_stream_keeps_reasoning_and_tool_calls_apart(
    run: Run, make_model: Factory, tool_stream: bool
) -> None:
    headers = {"X-PowerTokens-Tool-Stream": "1"} if tool_stream else None
    model = make_model(output_version="v1", default_headers=headers).bind_tools([get_weather])
    chunks = await run.stream(model, "What is the weather in Paris?")
    full = add_up(chunks)
    blocks = full.content_blocks
    assert [b["type"] for b in blocks] == ["reasoning", "tool_call"]
    assert blocks[1] == {
        "type": "tool_call",
        "id": full.tool_calls[0]["id"],
        "name": "get_weather",
        "args": {"city": "Paris"},
    }
    assert full.tool_calls[0]["args"] == {"city": "Paris"}


async def test_v1_invoke_stores_standard_blocks(run: Run, make_model: Factory) -> None:
    message = await run.invoke(make_model(output_version="v1"), "Hello")
    assert isinstance(message.content, list)
    assert [b["type"] for b in message.content] == ["reasoning", "text"]
    assert message.text


async def test_tool_call_streams_as_tool_call_chunks(run: Run, make_model: Factory) -> None:
    headers = {"X-PowerTokens-Tool-Stream": "1"}
    model = make_model(default_headers=headers).bind_tools([get_weather])
    chunks = await run.stream(model, "What is the weather in Paris?")
    pieces = [p for c in chunks for p in c.tool_call_chunks]
    assert len(pieces) > 1  # arguments arrived in fragments
    assert pieces[0]["name"] == "get_weather"
    assert all(p["index"] == 0 for p in pieces)
    full = add_up(chunks)
    assert full.tool_calls[0]["args"] == {"city": "Paris"}
    assert full.response_metadata["finish_reason"] == "tool_calls"


# --- requests: messages, images, overrides ------------------------------------------------


async def test_images_in_every_form_reach_the_wire_as_image_url_parts(
    run: Run, model: Any, emu: Emulator
) -> None:
    message = HumanMessage(
        [
            {"type": "text", "text": "Describe these images."},
            {"type": "image_url", "image_url": {"url": "https://img.test/a.png"}},
            {"type": "image", "url": "https://img.test/b.png"},
            {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
        ]
    )
    answer = await run.invoke(model, [message])
    parts = last_body(emu)["messages"][0]["content"]
    assert parts == [
        {"type": "text", "text": "Describe these images."},
        {"type": "image_url", "image_url": {"url": "https://img.test/a.png"}},
        {"type": "image_url", "image_url": {"url": "https://img.test/b.png"}},
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{PNG_B64}"}},
    ]
    assert "img.test" in answer.text  # the emulator names what it was shown


async def test_per_call_kwargs_override_fields(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    model = make_model(model="glm-5", temperature=0.7, max_tokens=500, top_p=0.9)
    message = await run.invoke(
        model, "Hello", model="glm-4.7", temperature=0.2, max_tokens=50, thinking=False
    )
    body = last_body(emu)
    assert body["model"] == "glm-4.7"
    assert body["temperature"] == 0.2
    assert body["max_tokens"] == 50
    assert body["top_p"] == 0.9
    assert body["thinking"] == {"type": "disabled"}
    assert message.response_metadata["model_name"] == "glm-4.7"
    assert "reasoning_content" not in message.additional_kwargs


async def test_fields_and_extra_body_reach_the_request(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    model = make_model(thinking={"type": "enabled", "clear_thinking": False}, extra_body={"x": 1})
    await run.invoke(model, "Hello", extra_body={"y": 2}, max_completion_tokens=40)
    body = last_body(emu)
    assert body["thinking"] == {"type": "enabled", "clear_thinking": False}
    assert (body["x"], body["y"], body["max_tokens"]) == (1, 2, 40)
    assert "max_completion_tokens" not in body


async def test_history_with_tools_and_reasoning_goes_back_on_the_wire(
    run: Run, model: Any, emu: Emulator
) -> None:
    history = [
        SystemMessage("Be brief."),
        HumanMessage("What is the weather in Paris?", name="ada"),
        AIMessage(
            "",
            additional_kwargs={"reasoning_content": "I should call the tool."},
            tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1"}],
        ),
        get_weather.invoke(
            {"name": "get_weather", "args": {"city": "Paris"}, "id": "call_1", "type": "tool_call"}
        ),
    ]
    answer = await run.invoke(model.bind_tools([get_weather]), history)
    sent = last_body(emu)["messages"]
    assert [m["role"] for m in sent] == ["system", "user", "assistant", "tool"]
    assert sent[2]["reasoning_content"] == "I should call the tool."
    assert sent[2]["tool_calls"][0]["function"]["arguments"] == '{"city": "Paris"}'
    assert sent[3] == {"role": "tool", "tool_call_id": "call_1", "content": "It is sunny in Paris."}
    assert "sunny" in answer.text


async def test_tool_choice_none_sends_no_tools_and_forced_asks_in_system(
    run: Run, model: Any, emu: Emulator
) -> None:
    await run.invoke(model.bind_tools([get_weather], tool_choice="none"), "Hi")
    assert "tools" not in last_body(emu)
    await run.invoke(model.bind_tools([get_weather], tool_choice="get_weather"), "Hi")
    body = last_body(emu)
    assert body["tool_choice"] == "auto"
    assert body["messages"][0] == {
        "role": "system",
        "content": "Call the get_weather tool to answer; do not answer in plain text.",
    }


# --- stop sequences --------------------------------------------------------------------

STOP_TEXT = "echo:alpha STOP1 beta STOP2 gamma"


async def test_every_stop_sequence_is_enforced_in_invoke(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    message = await run.invoke(make_model(), STOP_TEXT, stop=["STOP2", "STOP1"])
    assert last_body(emu)["stop"] == ["STOP2"]  # the first goes to the server
    assert message.text == "alpha "
    assert message.response_metadata["finish_reason"] == "stop"
    field_model = make_model(stop=["STOP2", "STOP1"])
    assert (await run.invoke(field_model, STOP_TEXT)).text == "alpha "


async def test_every_stop_sequence_is_enforced_in_stream(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    # "1 b" spans two streamed pieces (" STOP1", " beta")
    chunks = await run.stream(make_model(), STOP_TEXT, stop=["STOP2", "1 b"])
    full = add_up(chunks)
    assert full.text == "alpha STOP"
    assert full.response_metadata["finish_reason"] == "stop"
    assert "gamma" not in "".join(c.text for c in chunks)


# --- an injected httpx client, and text beside tool calls --------------------------------


def _sse(*chunks: dict[str, Any]) -> bytes:
    import json

    events = [b"data: " + json.dumps(c).encode() + b"\n\n" for c in chunks]
    return b"".join(events) + b"data: [DONE]\n\n"


def _delta(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    choice = {"index": 0, "delta": {"role": "assistant", **delta}, "finish_reason": finish}
    return {"id": "chatcmpl_m", "model": "glm-5", "choices": [choice], **extra}


PREAMBLE_STREAM = _sse(
    _delta({"reasoning_content": "The user wants "}),
    _delta({"reasoning_content": "the weather.", "content": ""}),
    _delta({"content": "Let me "}),
    _delta({"content": "check."}),
    _delta(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "index": 1,
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
                },
            ]
        }
    ),
    _delta(
        {"content": ""},
        "tool_calls",
        usage={"prompt_tokens": 10, "completion_tokens": 20, "total_tokens": 30},
    ),
)


async def test_v1_stream_with_text_beside_parallel_tool_calls_keeps_every_block(
    run: Run,
) -> None:
    import httpx

    from langchain_powertokens import ChatPowerTokens

    def handler(request: httpx.Request) -> httpx.Response:
        headers = {"content-type": "text/event-stream"}
        return httpx.Response(200, content=PREAMBLE_STREAM, headers=headers)

    transport = httpx.MockTransport(handler)
    model = ChatPowerTokens(
        api_key="k",
        base_url="https://gw.test/v1",
        output_version="v1",
        http_client=httpx.Client(transport=transport),
        http_async_client=httpx.AsyncClient(transport=transport),
    ).bind_tools([get_weather])
    full = add_up(await run.stream(model, "Weather in Paris and Rome?"))
    assert isinstance(full.content, list)
    assert [
        (b["type"], b.get("text") or b.get("reasoning") or b.get("args")) for b in full.content
    ] == [
        ("reasoning", "The user wants the weather."),
        ("text", "Let me check."),
        ("tool_call", {"city": "Paris"}),
        ("tool_call", {"city": "Rome"}),
    ]
    assert [c["id"] for c in full.tool_calls] == ["call_a", "call_b"]
    assert full.usage_metadata == {"input_tokens": 10, "output_tokens": 20, "total_tokens": 30}
