"""The pure converters: LangChain messages to wire dicts, answers and deltas back.

No sockets: everything here is a function of its input.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from pytest_socket import disable_socket, enable_socket

from langchain_powertokens._convert import message_to_wire, messages_to_wire
from langchain_powertokens._results import ChunkBuilder, chat_result, usage_metadata
from powertokens import ChatCompletion, RequestValidationError, StreamDelta, ToolCallDelta, Usage

PNG_B64 = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk"
JPEG_B64 = "/9j/4AAQSkZJRgABAQ"


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


# --- messages to the wire -------------------------------------------------------------


def test_roles_and_plain_text() -> None:
    wire = messages_to_wire(
        [
            SystemMessage("Be brief."),
            HumanMessage("Hi", name="ada"),
            AIMessage("Hello"),
            ChatMessage(role="developer", content="Rule"),
            ChatMessage(role="human", content="Again"),
        ]
    )
    assert wire == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi", "name": "ada"},
        {"role": "assistant", "content": "Hello"},
        {"role": "system", "content": "Rule"},
        {"role": "user", "content": "Again"},
    ]


def test_assistant_tool_calls_reasoning_and_tool_results() -> None:
    ai = AIMessage(
        "",
        additional_kwargs={"reasoning_content": "Need the weather."},
        tool_calls=[{"name": "get_weather", "args": {"city": "Zürich"}, "id": "c1"}],
        invalid_tool_calls=[{"name": "broken", "args": "{oops", "id": "c2", "error": None}],
    )
    tool = ToolMessage([{"type": "text", "text": "sunny"}, "and warm"], tool_call_id="c1")
    assert message_to_wire(ai) == {
        "role": "assistant",
        "content": "",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Zürich"}'},
            },
            {"id": "c2", "type": "function", "function": {"name": "broken", "arguments": "{oops"}},
        ],
        "reasoning_content": "Need the weather.",
    }
    assert message_to_wire(tool) == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": "sunny\nand warm",
    }


def test_reasoning_is_left_out_when_asked() -> None:
    ai = AIMessage("ok", additional_kwargs={"reasoning_content": "hmm"})
    assert message_to_wire(ai, send_reasoning=False) == {"role": "assistant", "content": "ok"}


@pytest.mark.parametrize(
    "content",
    [
        # v1 standard blocks
        [
            {"type": "reasoning", "reasoning": "think"},
            {"type": "text", "text": "some "},
            {"type": "text", "text": "text"},
            {"type": "tool_call", "id": "a", "name": "f", "args": {}},
        ],
        # Anthropic blocks
        [
            {"type": "thinking", "thinking": "think", "signature": "sig"},
            {"type": "text", "text": "some text"},
            {"type": "tool_use", "id": "a", "name": "f", "input": {}},
        ],
    ],
)
def test_assistant_list_content_is_flattened(content: list[Any]) -> None:
    ai = AIMessage(content, tool_calls=[{"name": "f", "args": {}, "id": "a"}])
    wire = message_to_wire(ai)
    assert wire["content"] == "some text"
    assert wire["reasoning_content"] == "think"
    assert wire["tool_calls"][0]["function"] == {"name": "f", "arguments": "{}"}


def test_tool_result_dicts_are_json() -> None:
    tool = ToolMessage([{"result": 3}], tool_call_id="x")
    assert message_to_wire(tool)["content"] == '{"result": 3}'


IMAGE_FORMS = [
    ({"type": "image_url", "image_url": {"url": "https://x.test/a.png"}}, "https://x.test/a.png"),
    ({"type": "image_url", "image_url": "https://x.test/a.png"}, "https://x.test/a.png"),
    ({"type": "image", "url": "https://x.test/a.png"}, "https://x.test/a.png"),
    (
        {"type": "image", "base64": PNG_B64, "mime_type": "image/png"},
        f"data:image/png;base64,{PNG_B64}",
    ),
    ({"type": "image", "base64": JPEG_B64}, f"data:image/jpeg;base64,{JPEG_B64}"),
    (
        {"type": "image", "source_type": "url", "url": "https://x.test/a.png"},
        "https://x.test/a.png",
    ),
    (
        {"type": "image", "source_type": "base64", "data": PNG_B64, "mime_type": "image/png"},
        f"data:image/png;base64,{PNG_B64}",
    ),
    (
        {"type": "image", "source": {"type": "base64", "media_type": "image/gif", "data": "R0l"}},
        "data:image/gif;base64,R0l",
    ),
    (
        {"type": "image", "source": {"type": "url", "url": "https://x.test/b.png"}},
        "https://x.test/b.png",
    ),
    ({"type": "input_image", "image_url": "https://x.test/c.png"}, "https://x.test/c.png"),
]


@pytest.mark.parametrize(("block", "url"), IMAGE_FORMS)
def test_every_image_form_becomes_an_image_url_part(block: dict[str, Any], url: str) -> None:
    wire = message_to_wire(HumanMessage([{"type": "text", "text": "What is this?"}, block]))
    assert wire["content"] == [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": url}},
    ]


@pytest.mark.parametrize(
    ("message", "field"),
    [
        (
            HumanMessage([{"type": "audio", "base64": "AAA", "mime_type": "audio/wav"}]),
            "messages[0].content[0].type",
        ),
        (
            HumanMessage([{"type": "file", "base64": "AAA", "mime_type": "application/pdf"}]),
            "messages[0].content[0].type",
        ),
        (HumanMessage([{"type": "image", "file_id": "file-1"}]), "messages[0].content[0]"),
        (
            SystemMessage([{"type": "image", "url": "https://x.test/a.png"}]),
            "messages[0].content",
        ),
        (ChatMessage(role="wizard", content="hi"), "messages[0].role"),
        (FunctionMessage(name="f", content="1"), "messages[0]"),
    ],
)
def test_what_the_api_cannot_take_is_refused_by_name(message: Any, field: str) -> None:
    with pytest.raises(RequestValidationError) as info:
        messages_to_wire([message])
    assert info.value.field == field


# --- answers back ----------------------------------------------------------------------


def completion(**message: Any) -> ChatCompletion:
    finish = message.pop("finish_reason", "stop")
    return ChatCompletion.model_validate(
        {
            "id": "chatcmpl_1",
            "model": "glm-5",
            "request_id": "req-1",
            "choices": [
                {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": finish}
            ],
            "usage": {
                "prompt_tokens": 42,
                "completion_tokens": 31,
                "total_tokens": 73,
                "prompt_tokens_details": {"cached_tokens": 8},
                "completion_tokens_details": {"reasoning_tokens": 12},
            },
        }
    )


def test_chat_result_carries_reasoning_usage_and_metadata() -> None:
    result = chat_result(completion(content="Answer.", reasoning_content="Think."))
    message = result.generations[0].message
    assert isinstance(message, AIMessage)
    assert message.content == "Answer."
    assert message.additional_kwargs == {"reasoning_content": "Think."}
    assert message.usage_metadata == {
        "input_tokens": 42,
        "output_tokens": 31,
        "total_tokens": 73,
        "input_token_details": {"cache_read": 8},
        "output_token_details": {"reasoning": 12},
    }
    assert message.response_metadata == {
        "model_provider": "powertokens",
        "model_name": "glm-5",
        "finish_reason": "stop",
        "id": "chatcmpl_1",
        "request_id": "req-1",
    }
    assert [b["type"] for b in message.content_blocks] == ["reasoning", "text"]


def test_usage_details_only_when_reported() -> None:
    usage = Usage(prompt_tokens=1, completion_tokens=2, total_tokens=3)
    assert usage_metadata(usage) == {"input_tokens": 1, "output_tokens": 2, "total_tokens": 3}


def test_tool_calls_valid_and_invalid() -> None:
    calls = [
        {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
        {"id": "b", "type": "function", "function": {"name": "g", "arguments": "{nope"}},
        {"id": "c", "type": "function", "function": {"name": "h", "arguments": "[1]"}},
        {"id": "d", "type": "function", "function": {"name": "k", "arguments": {"y": 2}}},
    ]
    message = chat_result(completion(content="", tool_calls=calls, finish_reason="tool_calls"))
    ai = message.generations[0].message
    assert isinstance(ai, AIMessage)
    assert [(c["name"], c["args"]) for c in ai.tool_calls] == [("f", {"x": 1}), ("k", {"y": 2})]
    assert [(c["name"], c["args"]) for c in ai.invalid_tool_calls] == [("g", "{nope"), ("h", "[1]")]


def test_sensitive_finish_is_a_visible_refusal() -> None:
    message = chat_result(completion(content="", finish_reason="sensitive")).generations[0].message
    assert message.response_metadata["finish_reason"] == "sensitive"
    assert "content filter" in message.response_metadata["refusal"]
    assert message.content_blocks[-1]["type"] == "refusal"


def delta(**fields: Any) -> StreamDelta:
    fields.setdefault("id", "chatcmpl_9")
    fields.setdefault("model", "glm-4.7")
    return StreamDelta(**fields)


def test_chunks_add_up_with_usage_and_metadata_once() -> None:
    builder = ChunkBuilder()
    usage = Usage(prompt_tokens=3, completion_tokens=4, total_tokens=7)
    deltas = [
        delta(reasoning="Th"),
        delta(reasoning="ink."),
        delta(content="Hel"),
        delta(content="lo"),
        delta(
            tool_calls=(ToolCallDelta(0, "call_1", "f", '{"a"'),),
        ),
        delta(tool_calls=(ToolCallDelta(0, None, None, ": 1}"),)),
        delta(finish_reason="tool_calls", usage=usage),
    ]
    chunks = [c for d in deltas if (c := builder.add(d)) is not None]
    assert len(chunks) == 6  # the finish delta shows nothing: it goes on the last chunk
    last = builder.finish(None)
    assert last.message.chunk_position == "last"  # type: ignore[union-attr]
    full = chunks[0].message
    for chunk in [*chunks[1:], last]:
        full = full + chunk.message  # type: ignore[operator]
    assert isinstance(full, AIMessageChunk)
    assert full.content == "Hello"
    assert full.additional_kwargs["reasoning_content"] == "Think."
    assert full.tool_calls == [{"name": "f", "args": {"a": 1}, "id": "call_1", "type": "tool_call"}]
    assert full.usage_metadata == {"input_tokens": 3, "output_tokens": 4, "total_tokens": 7}
    assert full.response_metadata["model_name"] == "glm-4.7"
    assert full.response_metadata["finish_reason"] == "tool_calls"
    assert full.response_metadata["model_provider"] == "powertokens"
    assert full.id == "chatcmpl_9"
    assert [b["type"] for b in full.content_blocks] == ["reasoning", "text", "tool_call"]


def test_reasoning_chunks_keep_reasoning_in_additional_kwargs() -> None:
    chunk = ChunkBuilder().add(delta(reasoning="\n"))  # a lone newline is kept
    assert chunk is not None
    assert chunk.message.additional_kwargs == {"reasoning_content": "\n"}
    assert ChunkBuilder().add(delta(content="")) is None


def test_raw_tool_arguments_roundtrip_as_json_strings() -> None:
    ai = AIMessage("", tool_calls=[{"name": "f", "args": {"q": "日本"}, "id": "1"}])
    arguments = message_to_wire(ai)["tool_calls"][0]["function"]["arguments"]
    assert json.loads(arguments) == {"q": "日本"}
    assert "日本" in arguments  # not \\u-escaped: fewer tokens
