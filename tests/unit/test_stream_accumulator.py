"""The stream accumulator on chunks shaped like the real service's (docs/wire.md, "Stream")."""

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
    # (Inside a piece, where no split pair can be: a piece's ends are checked for those.)
    delta = acc.add_data('{"choices":[{"index":0,"delta":{"content":"a\\ud800b"}}]}')
    assert delta is not None
    assert delta.content == "a\ud800b"


# --- what adapters read from the accumulator --------------------------------------------


def test_every_delta_carries_the_completion_id_and_model() -> None:
    acc = StreamAccumulator()
    deltas = [d for c in REASONING_THEN_TEXT if (d := acc.add_chunk(c)) is not None]
    assert {(d.id, d.model) for d in deltas} == {("chatcmpl-1", "glm-5")}


def test_the_running_tool_calls_are_the_accumulators_own() -> None:
    acc = StreamAccumulator()
    seen = []
    for c in FRAGMENT_TOOL_CALLS:
        acc.add_chunk(c)
        seen.append([(t.index, t.id, t.name, t.arguments) for t in acc.tool_calls])
    assert seen[-1] == [
        (0, "call_a", "get_weather", '{"city": "Paris"}'),
        (1, "call_b", "get_weather", '{"city": "Oslo"}'),
    ]
    assert any(args and args[0][3] not in ("", '{"city": "Paris"}') for args in seen)  # partial


# --- stop sequences: the core enforces all of them ----------------------------------------

STOP_PIECES = ["The answer", " is 4", "2.\nObs", "ervation: done", " and more"]


def _text_chunks(pieces: list[str], finish: str = "stop") -> list[dict[str, Any]]:
    out = [chunk({"role": "assistant", "content": p}) for p in pieces]
    out.append(chunk({"role": "assistant", "content": ""}, finish, usage=USAGE))
    return out


@pytest.mark.parametrize(
    ("stops", "shown"),
    [
        (("Observation:",), "The answer is 42.\n"),
        (("zzz", "42"), "The answer is "),  # the earliest in the text wins, not the first
        (("\nObs",), "The answer is 42."),
        (("never",), "The answer is 42.\nObservation: done and more"),
    ],
)
def test_stop_sequences_cut_the_stream_wherever_they_split(
    stops: tuple[str, ...], shown: str
) -> None:
    text = "".join(STOP_PIECES)
    for size in (1, 2, 3, 7, len(text)):  # every way the text may arrive in pieces
        pieces = [text[i : i + size] for i in range(0, len(text), size)]
        acc = StreamAccumulator(stops)
        out = ""
        for c in _text_chunks(pieces):
            delta = acc.add_chunk(c)
            if delta is not None:
                out += delta.content
            if acc.finished:
                break
        assert out == shown, size
        final = acc.result()
        assert final.content == shown
        assert final.finish_reason == "stop"
        assert acc.stopped is (shown != text)


def test_a_stop_ends_the_answer_tool_calls_after_it_included() -> None:
    acc = StreamAccumulator(["END"])
    chunks = [
        chunk({"content": "alpha EN"}),
        chunk(
            {
                "content": "D beta",
                "tool_calls": [{"index": 0, "id": "a", "function": {"name": "f"}}],
            }
        ),
        chunk({"content": " gamma"}, "stop", usage=USAGE),
    ]
    deltas = [d for c in chunks if (d := acc.add_chunk(c)) is not None]
    assert [(d.content, d.finish_reason) for d in deltas] == [("alpha ", None), ("", "stop")]
    assert acc.finished
    assert acc.add_data(json.dumps(chunks[-1])) is None  # nothing more once stopped
    assert acc.tool_calls == []
    assert acc.result().message.tool_calls is None


def test_held_back_text_is_released_at_the_finish() -> None:
    acc = StreamAccumulator(["STOP"])
    first = acc.add_chunk(chunk({"content": "ends with ST"}))
    assert first is not None
    assert first.content == "ends with "
    last = acc.add_chunk(chunk({"content": ""}, "length"))
    assert last is not None
    assert (last.content, last.finish_reason) == ("ST", "length")
    assert acc.result().content == "ends with ST"


def test_a_stream_cut_mid_hold_keeps_the_held_text_in_its_partial() -> None:
    acc = StreamAccumulator(["STOP"])
    acc.add_chunk(chunk({"content": "half ST"}))
    with pytest.raises(StreamInterruptedError) as info:
        acc.result()
    assert info.value.partial_text == "half ST"


def test_nothing_after_done_is_parsed() -> None:
    acc = StreamAccumulator()
    for c in REASONING_THEN_TEXT:
        acc.add_data(json.dumps(c))
    assert acc.add_data("[DONE]") is None
    assert acc.add_data("trailing garbage {") is None  # not an error: the answer is complete
    assert acc.result().content == "\nHello world\u2028!"


def test_a_whole_answer_to_a_stream_request_is_adopted_with_its_stops() -> None:
    whole = ChatCompletion.model_validate(
        {
            "id": "x",
            "model": "glm-5",
            "choices": [
                {
                    "message": {"content": "one STOP two", "reasoning_content": "r"},
                    "finish_reason": "length",
                }
            ],
            "usage": USAGE,
        }
    )
    acc = StreamAccumulator(["STOP"], request_id="rid")
    delta = acc.adopt(whole)
    assert delta is not None
    assert (delta.content, delta.reasoning, delta.finish_reason) == ("one ", "r", "stop")
    assert (delta.id, delta.model, delta.usage is not None) == ("x", "glm-5", True)
    final = acc.result()
    assert final is whole  # the completion itself, not a re-accumulated copy
    assert (final.content, final.request_id) == ("one ", "rid")
