"""The stream accumulator on chunks shaped like the real service's (WIRE.md, "Stream")."""

from __future__ import annotations

import json
from typing import Any

import pytest

from powertokens import (
    ChatCompletion,
    RateLimitError,
    StreamAccumulator,
    StreamDelta,
    StreamInterruptedError,
)

USAGE = {
    "prompt_tokens": 12,
    "completion_tokens": 9,
    "total_tokens": 21,
    "prompt_tokens_details": {"cached_tokens": 4},
    "completion_tokens_details": {"reasoning_tokens": 3},
}


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "created": 1775174400,
        "object": "chat.completion.chunk",
        "model": "glm-5",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


# Real streams repeat the role in every delta and carry content "" beside reasoning.
REASONING_THEN_TEXT = [
    chunk({"role": "assistant", "content": "", "reasoning_content": "\n"}),
    chunk({"role": "assistant", "content": "", "reasoning_content": "Think"}),
    chunk({"role": "assistant", "content": "", "reasoning_content": " first."}),
    chunk({"role": "assistant", "content": "\n"}),
    chunk({"role": "assistant", "content": "Hello"}),
    chunk({"role": "assistant", "content": " world\u2028!"}),
    chunk({"role": "assistant", "content": ""}, "stop", usage=USAGE),
]

WHOLE_TOOL_CALLS = [
    chunk({"role": "assistant", "content": "", "reasoning_content": "Need weather."}),
    chunk({"role": "assistant", "content": "Let me check."}),
    chunk(
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        }
    ),
    chunk(
        {
            "role": "assistant",
            "tool_calls": [
                {
                    "index": 1,
                    "id": "call_b",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": {"city": "Oslo"}},
                }
            ],
        }
    ),
    chunk({"role": "assistant", "content": ""}, "tool_calls", usage=USAGE),
]

FRAGMENT_TOOL_CALLS = [
    chunk({"role": "assistant", "content": "", "reasoning_content": "Need weather."}),
    chunk({"role": "assistant", "content": "Let me check."}),
    chunk(
        {
            "tool_calls": [
                {
                    "index": 0,
                    "id": "call_a",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": ""},
                }
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '{"city": '}}]}),
    chunk(
        {
            "tool_calls": [
                {"index": 1, "id": "call_b", "function": {"name": "get_weather", "arguments": None}}
            ]
        }
    ),
    chunk({"tool_calls": [{"index": 0, "function": {"arguments": '"Paris"}'}}]}),
    chunk({"tool_calls": [{"index": 1, "function": {"arguments": '{"city": "Oslo"}'}}]}),
    chunk({"role": "assistant", "content": ""}, "tool_calls"),
    {"id": "chatcmpl-1", "object": "chat.completion.chunk", "choices": [], "usage": USAGE},
]


def run(chunks: list[dict[str, Any]]) -> tuple[list[StreamDelta], ChatCompletion]:
    acc = StreamAccumulator(request_id="req-1")
    deltas = [d for c in chunks if (d := acc.add_data(json.dumps(c))) is not None]
    assert acc.add_data("[DONE]") is None
    return deltas, acc.result()


def test_reasoning_and_text_pieces_are_kept_exactly() -> None:
    deltas, final = run(REASONING_THEN_TEXT)
    assert "".join(d.reasoning for d in deltas) == "\nThink first."
    assert "".join(d.content for d in deltas) == "\nHello world\u2028!"
    assert final.reasoning_content == "\nThink first."
    assert final.content == "\nHello world\u2028!"
    assert final.finish_reason == "stop"
    assert final.request_id == "req-1"
    assert final.object == "chat.completion"
    assert final.usage is not None
    assert final.usage.cached_tokens == 4
    assert final.usage.reasoning_tokens == 3


def test_final_completion_equals_the_non_stream_answer() -> None:
    _, final = run(WHOLE_TOOL_CALLS)
    non_stream = ChatCompletion.model_validate(
        {
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1775174400,
            "model": "glm-5",
            "request_id": "req-1",
            "choices": [
                {
                    "index": 0,
                    "message": {
                        "role": "assistant",
                        "content": "Let me check.",
                        "reasoning_content": "Need weather.",
                        "tool_calls": [
                            {
                                "id": "call_a",
                                "type": "function",
                                "function": {
                                    "name": "get_weather",
                                    "arguments": '{"city": "Paris"}',
                                },
                            },
                            {
                                "id": "call_b",
                                "type": "function",
                                "function": {"name": "get_weather", "arguments": {"city": "Oslo"}},
                            },
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ],
            "usage": USAGE,
        }
    )
    assert final == non_stream


def test_whole_and_fragment_tool_call_forms_give_the_same_calls() -> None:
    _, whole = run(WHOLE_TOOL_CALLS)
    _, fragments = run(FRAGMENT_TOOL_CALLS)
    assert whole.message.tool_calls == fragments.message.tool_calls
    calls = whole.message.tool_calls or []
    assert [c.id for c in calls] == ["call_a", "call_b"]
    assert [c.function.name for c in calls] == ["get_weather", "get_weather"]
    assert [c.parsed_arguments() for c in calls] == [{"city": "Paris"}, {"city": "Oslo"}]


def test_ids_and_names_are_never_concatenated() -> None:
    acc = StreamAccumulator()
    for piece in (
        {"index": 0, "id": "call_a", "function": {"name": "f", "arguments": "{"}},
        {"index": 0, "id": "call_a", "function": {"name": "f", "arguments": "}"}},
    ):
        acc.add_chunk(chunk({"tool_calls": [piece]}))
    acc.add_chunk(chunk({}, "tool_calls"))
    (call,) = acc.result().message.tool_calls or []
    assert (call.id, call.function.name, call.function.arguments) == ("call_a", "f", "{}")


def test_tool_call_deltas_report_each_piece() -> None:
    deltas, _ = run(FRAGMENT_TOOL_CALLS)
    pieces = [(t.index, t.id, t.name, t.arguments) for d in deltas for t in d.tool_calls]
    assert pieces == [
        (0, "call_a", "get_weather", ""),
        (0, None, None, '{"city": '),
        (1, "call_b", "get_weather", ""),
        (0, None, None, '"Paris"}'),
        (1, None, None, '{"city": "Oslo"}'),
    ]


def test_two_calls_in_one_chunk_are_both_kept() -> None:
    acc = StreamAccumulator()
    delta = acc.add_chunk(
        chunk(
            {
                "tool_calls": [
                    {"index": 0, "id": "a", "function": {"name": "f", "arguments": "{}"}},
                    {"index": 1, "id": "b", "function": {"name": "g", "arguments": "{}"}},
                ]
            }
        )
    )
    assert delta is not None
    assert [t.name for t in delta.tool_calls] == ["f", "g"]
    acc.add_chunk(chunk({}, "tool_calls"))
    assert [c.function.name for c in acc.result().message.tool_calls or []] == ["f", "g"]


def test_usage_is_reported_once_even_when_sent_twice() -> None:
    chunks = [*REASONING_THEN_TEXT]
    chunks.append({"id": "chatcmpl-1", "choices": [], "usage": USAGE})
    deltas, final = run(chunks)
    assert sum(1 for d in deltas if d.usage is not None) == 1
    assert final.usage is not None
    assert final.usage.total_tokens == 21


def test_empty_pieces_produce_no_delta() -> None:
    acc = StreamAccumulator()
    assert acc.add_chunk(chunk({"role": "assistant", "content": ""})) is None
    assert acc.add_chunk(chunk({"role": "assistant", "content": None})) is None
    assert not acc.has_output


def test_done_without_finish_reason_raises_with_the_partial_output() -> None:
    acc = StreamAccumulator()
    for c in REASONING_THEN_TEXT[:5]:
        acc.add_chunk(c)
    acc.add_data("[DONE]")
    with pytest.raises(StreamInterruptedError, match=r"\[DONE\] without a finish_reason") as err:
        acc.result()
    assert err.value.partial_text == "\nHello"
    assert err.value.partial is not None
    assert err.value.partial.reasoning_content == "\nThink first."
    assert err.value.partial.finish_reason is None


def test_error_event_is_raised_typed() -> None:
    acc = StreamAccumulator(request_id="rid")
    with pytest.raises(RateLimitError) as err:
        acc.add_data(
            '{"error":{"code":1305,"message":"The service may be temporarily overloaded"}}'
        )
    assert (err.value.status_code, err.value.code, err.value.request_id) == (200, "1305", "rid")


@pytest.mark.parametrize("data", ['{"id": "broken', "[1, 2]", "not json"])
def test_malformed_event_raises_interrupted(data: str) -> None:
    acc = StreamAccumulator()
    acc.add_chunk(REASONING_THEN_TEXT[4])
    with pytest.raises(StreamInterruptedError, match="malformed") as err:
        acc.add_data(data)
    assert err.value.partial_text == "Hello"


@pytest.mark.parametrize("reason", ["length", "sensitive", "network_error", "some_new_reason"])
def test_any_finish_reason_completes_and_stays_opaque(reason: str) -> None:
    acc = StreamAccumulator()
    acc.add_chunk(chunk({"content": "part"}, reason))
    assert acc.result().finish_reason == reason


def test_json_the_fast_parser_refuses_still_decodes_like_json_loads() -> None:
    # pydantic_core refuses a lone surrogate escape; the json fallback keeps it decodable.
    acc = StreamAccumulator()
    delta = acc.add_data('{"choices":[{"index":0,"delta":{"content":"a\\ud800"}}]}')
    assert delta is not None
    assert delta.content == "a\ud800"
