"""The pure converters: ChatMessage -> wire dicts, core results -> LlamaIndex responses,
tool helpers and per-call parameter merging. No sockets."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    ChatResponse,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel
from pytest_socket import disable_socket, enable_socket

from llama_index_powertokens._convert import StreamState, chat_response, usage_kwargs
from llama_index_powertokens._messages import to_wire_messages
from llama_index_powertokens._request import defaults, merge_call
from llama_index_powertokens._tools import (
    FALLBACK_KWARG,
    JsonFallback,
    fallback_tool_call,
    parse_arguments,
    prepare_tools_call,
    tool_selections,
    tool_spec,
)
from powertokens import (
    ChatCompletion,
    RequestValidationError,
    StreamAccumulator,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


# -- ChatMessage -> wire ---------------------------------------------------------------


def test_roles_and_text() -> None:
    messages = [
        ChatMessage(role="system", content="Be brief."),
        ChatMessage(role="developer", content="Really brief."),
        ChatMessage(role="user", blocks=[TextBlock(text="a"), TextBlock(text="b")]),
        ChatMessage(role="assistant", content="ok"),
        ChatMessage(role="tool", content="42", additional_kwargs={"tool_call_id": "c1"}),
        ChatMessage(role="function", content="43", additional_kwargs={"tool_call_id": "c2"}),
    ]
    assert to_wire_messages(messages) == [
        {"role": "system", "content": "Be brief."},
        {"role": "system", "content": "Really brief."},
        {"role": "user", "content": "a\nb"},  # as ChatMessage.content joins them
        {"role": "assistant", "content": "ok"},
        {"role": "tool", "content": "42", "tool_call_id": "c1"},
        {"role": "tool", "content": "43", "tool_call_id": "c2"},
    ]


def test_images_from_url_path_and_bytes(tmp_path: Path) -> None:
    path = tmp_path / "dot.png"
    path.write_bytes(PNG)
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="Compare"),
            ImageBlock(url="https://example.com/cat.jpg"),
            ImageBlock(path=path),
            ImageBlock(image=PNG),
            ImageBlock(url="data:image/gif;base64,R0lGOD=="),
        ],
    )
    [wire] = to_wire_messages([message])
    data_uri = "data:image/png;base64," + base64.b64encode(PNG).decode()
    assert wire["content"] == [
        {"type": "text", "text": "Compare"},
        {"type": "image_url", "image_url": {"url": "https://example.com/cat.jpg"}},
        {"type": "image_url", "image_url": {"url": data_uri}},
        {"type": "image_url", "image_url": {"url": data_uri}},
        {"type": "image_url", "image_url": {"url": "data:image/gif;base64,R0lGOD=="}},
    ]


def test_assistant_tool_calls_thinking_and_legacy_kwargs() -> None:
    blocks_turn = ChatMessage(
        role="assistant",
        blocks=[
            ThinkingBlock(content="Need the weather."),
            TextBlock(text=""),
            ToolCallBlock(
                tool_call_id="c1", tool_name="get_weather", tool_kwargs={"city": "Paris"}
            ),
            ToolCallBlock(
                tool_call_id="c2", tool_name="get_weather", tool_kwargs='{"city": "Rome"}'
            ),
        ],
    )
    legacy_turn = ChatMessage(
        role="assistant",
        content="",
        additional_kwargs={
            "tool_calls": [
                {"id": "c3", "type": "function", "function": {"name": "f", "arguments": {"x": 1}}}
            ]
        },
    )
    first, second = to_wire_messages([blocks_turn, legacy_turn])
    assert first == {
        "role": "assistant",
        "content": "",
        "reasoning_content": "Need the weather.",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            },
            {
                "id": "c2",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Rome"}'},
            },
        ],
    }
    assert second["tool_calls"] == [
        {"id": "c3", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}
    ]
    assert "reasoning_content" not in to_wire_messages([blocks_turn], send_reasoning=False)[0]


def test_cache_points_skipped_and_unsupported_blocks_named() -> None:
    from llama_index.core.base.llms.types import CacheControl, DocumentBlock

    message = ChatMessage(
        role="user",
        blocks=[TextBlock(text="hi"), CachePoint(cache_control=CacheControl(type="ephemeral"))],
    )
    assert to_wire_messages([message]) == [{"role": "user", "content": "hi"}]
    bad = ChatMessage(role="user", blocks=[DocumentBlock(data=b"%PDF-1.4")])
    with pytest.raises(RequestValidationError) as info:
        to_wire_messages([bad])
    assert info.value.field == "messages[0].blocks[0]"


def test_history_is_not_mutated() -> None:
    history = [
        ChatMessage(role="user", content="hi"),
        ChatMessage(
            role="assistant",
            blocks=[ThinkingBlock(content="t"), ToolCallBlock(tool_name="f", tool_kwargs={"a": 1})],
        ),
    ]
    before = [m.model_dump() for m in history]
    to_wire_messages(history)
    tool = FunctionTool.from_defaults(lambda a: a, name="f", description="f")
    prepare_tools_call([tool], "and now?", history, True, None, {})
    assert [m.model_dump() for m in history] == before


# -- responses ---------------------------------------------------------------------------


def _completion(**message: Any) -> ChatCompletion:
    return ChatCompletion.model_validate(
        {
            "id": "x",
            "model": "glm-5",
            "choices": [
                {"index": 0, "message": {"role": "assistant", **message}, "finish_reason": "stop"}
            ],
            "usage": {
                "prompt_tokens": 10,
                "completion_tokens": 7,
                "total_tokens": 17,
                "prompt_tokens_details": {"cached_tokens": 4},
                "completion_tokens_details": {"reasoning_tokens": 3},
            },
        }
    )


def test_chat_response_blocks_usage_and_invalid_arguments() -> None:
    completion = _completion(
        content="Calling.",
        reasoning_content="Think.",
        tool_calls=[
            {"id": "a", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}},
            {"id": "b", "type": "function", "function": {"name": "g", "arguments": '{"x": '}},
        ],
    )
    response = chat_response(completion)
    thinking, text, call_a, call_b = response.message.blocks
    assert isinstance(thinking, ThinkingBlock)
    assert (thinking.content, thinking.num_tokens) == ("Think.", 3)
    assert text == TextBlock(text="Calling.")
    assert (call_a.tool_kwargs, call_b.tool_kwargs) == ({"x": 1}, '{"x": ')
    assert response.additional_kwargs == {
        "prompt_tokens": 10,
        "completion_tokens": 7,
        "total_tokens": 17,
        "cached_tokens": 4,
        "reasoning_tokens": 3,
        "finish_reason": completion.finish_reason,
    }
    assert [s.tool_kwargs for s in tool_selections(response.message)] == [{"x": 1}, {"x": None}]
    assert response.raw is completion


def test_usage_kwargs_empty_without_usage() -> None:
    assert usage_kwargs(None) == {}


def _fold(chunks: list[dict[str, Any]], fallback: JsonFallback | None = None) -> list[ChatResponse]:
    """The responses a stream of ``chunks`` gives: the core accumulator feeds the state."""
    acc = StreamAccumulator()
    state = StreamState(acc, fallback)
    responses = []
    for chunk in chunks:
        delta = acc.add_chunk(chunk)
        if delta is not None and (visible := state.feed(delta)) is not None:
            responses.append(state.chat_response(delta, visible))
    return responses


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {"id": "s", "choices": [{"index": 0, "delta": delta, "finish_reason": finish}], **extra}


USAGE = {"prompt_tokens": 5, "completion_tokens": 6, "total_tokens": 11}


def test_stream_state_cumulative_message_and_deltas() -> None:
    chunks = [
        _chunk({"role": "assistant", "reasoning_content": "Hm", "content": ""}),
        _chunk({"reasoning_content": "m."}),
        _chunk({"content": "\n"}),
        _chunk({"content": "Hello"}),
        _chunk({"content": " there"}, "stop", usage=USAGE),
    ]
    responses = _fold(chunks)
    assert [r.delta for r in responses] == ["", "", "\n", "Hello", " there"]
    assert [r.additional_kwargs.get("thinking_delta") for r in responses] == [
        "Hm",
        "m.",
        None,
        None,
        None,
    ]
    last = responses[-1]
    assert last.message.content == "\nHello there"
    assert isinstance(last.message.blocks[0], ThinkingBlock)
    assert last.message.blocks[0].content == "Hmm."
    assert last.raw["usage"] == USAGE
    assert last.additional_kwargs["total_tokens"] == 11
    assert responses[1].message.content == ""  # a TextBlock from the start


@pytest.mark.parametrize(
    "chunks",
    [
        pytest.param(
            [
                _chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 0,
                                "id": "a",
                                "function": {"name": "f", "arguments": '{"x": 1}'},
                            },
                            {
                                "index": 1,
                                "id": "b",
                                "function": {"name": "g", "arguments": '{"y": 2}'},
                            },
                        ]
                    }
                ),
                _chunk({}, "tool_calls", usage=USAGE),
            ],
            id="two-calls-one-chunk",
        ),
        pytest.param(
            [
                _chunk(
                    {
                        "tool_calls": [
                            {"index": 0, "id": "a", "function": {"name": "f", "arguments": ""}}
                        ]
                    }
                ),
                _chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"x"'}}]}),
                _chunk({"tool_calls": [{"index": 0, "function": {"arguments": ": 1}"}}]}),
                _chunk(
                    {
                        "tool_calls": [
                            {
                                "index": 1,
                                "id": "b",
                                "function": {"name": "g", "arguments": '{"y": 2}'},
                            }
                        ]
                    }
                ),
                _chunk({}, "tool_calls", usage=USAGE),
            ],
            id="argument-fragments",
        ),
    ],
)
def test_stream_state_tool_calls(chunks: list[dict[str, Any]]) -> None:
    responses = _fold(chunks)
    for response in responses:  # every chunk parses, even mid-arguments
        tool_selections(response.message)
    final = responses[-1].message
    calls = [b for b in final.blocks if isinstance(b, ToolCallBlock)]
    assert [(c.tool_call_id, c.tool_name, c.tool_kwargs) for c in calls] == [
        ("a", "f", {"x": 1}),
        ("b", "g", {"y": 2}),
    ]
    assert [c["function"]["arguments"] for c in final.additional_kwargs["tool_calls"]] == [
        '{"x": 1}',
        '{"y": 2}',
    ]


# -- tools -------------------------------------------------------------------------------


class Album(BaseModel):
    """An album."""

    title: str
    year: int


def test_fallback_reads_json_that_fits_the_schema() -> None:
    fallback = JsonFallback("Album", Album)
    found = fallback_tool_call('Sure! ```json\n{"title": "Blue", "year": 1971}\n```', fallback)
    assert found is not None
    assert (found.tool_name, found.tool_kwargs) == ("Album", {"title": "Blue", "year": 1971})
    assert fallback_tool_call('{"name": "nope"}', fallback) is None
    assert fallback_tool_call("no json here", fallback) is None
    assert fallback_tool_call('{"title": "x", "year": 1}', None) is None


def test_fallback_in_a_stream_appears_on_the_finish_chunk() -> None:
    chunks = [
        _chunk({"content": '{"title": "Blue", '}),
        _chunk({"content": '"year": 1971}'}, "stop"),
    ]
    responses = _fold(chunks, JsonFallback("Album", Album))
    assert tool_selections(responses[0].message) == []
    [selection] = tool_selections(responses[-1].message)
    assert selection.tool_kwargs == {"title": "Blue", "year": 1971}


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        ('{"a": "par', {"a": None}),  # LlamaIndex's partial parser drops an open string
        ('{"a": [1, 2', {"a": [1, 2]}),
        ("", {}),
        ("[1]", {}),
        ("}{", {}),
        ({"already": "dict"}, {"already": "dict"}),
    ],
)
def test_parse_arguments_tolerates_partial_json(text: Any, expected: dict[str, Any]) -> None:
    assert parse_arguments(text) == expected


def test_tool_spec_is_cached_and_wire_shaped() -> None:
    def get_weather(city: str) -> str:
        """Weather for a city."""
        return "sunny"

    tool = FunctionTool.from_defaults(get_weather)
    spec = tool_spec(tool)
    assert spec["type"] == "function"
    assert spec["function"]["name"] == "get_weather"
    assert spec["function"]["parameters"]["required"] == ["city"]
    assert tool_spec(tool) is spec


# -- per-call parameters -------------------------------------------------------------------


def _defaults(**overrides: Any) -> Any:
    settings: dict[str, Any] = {
        "model": "glm-5",
        "temperature": 0.5,
        "top_p": None,
        "max_tokens": None,
        "stop": None,
        "thinking": None,
        "additional_kwargs": {"do_sample": True},
    }
    settings.update(overrides)
    return defaults(**settings)


def test_merge_call_maps_every_kind_of_kwarg() -> None:
    base = _defaults()
    call = merge_call(
        base,
        {
            "temperature": 0.1,
            "stop": ["A", "B"],
            "tools": [{"type": "function", "function": {"name": "f"}}],
            "tool_choice": "required",
            "formatted": True,
            "custom_field": 7,
            FALLBACK_KWARG: JsonFallback("f", None),
        },
    )
    assert call.params["temperature"] == 0.1
    assert call.params["stop"] == ["A", "B"]  # the core sends the first, enforces both
    assert call.params["tool_choice"] == "required"  # the core maps it onto "auto" + a hint
    assert call.params["extra_body"] == {"do_sample": True, "custom_field": 7}
    assert call.fallback == JsonFallback("f", None)
    assert "formatted" not in call.params
    assert base.params == {"model": "glm-5", "temperature": 0.5, "extra_body": {"do_sample": True}}


def test_merge_call_tool_choice_none_drops_tools() -> None:
    call = merge_call(
        _defaults(),
        {"tools": [{"type": "function", "function": {"name": "f"}}], "tool_choice": "none"},
    )
    assert "tools" not in call.params
    assert "tool_choice" not in call.params


def test_defaults_validate_with_the_core_rules() -> None:
    with pytest.raises(RequestValidationError) as info:
        _defaults(top_p=0)
    assert info.value.field == "top_p"
    assert json.dumps(_defaults(stop="x").params)  # JSON-ready
