"""``single_tool_call`` in the accumulator (pure): every shape of tool-call pieces."""

from __future__ import annotations

import json
from typing import Any

from powertokens import ChatCompletion, StreamAccumulator
from powertokens._accumulator import apply_stops


def chunk(calls: list[dict[str, Any]] | None = None, finish: str | None = None) -> dict[str, Any]:
    delta: dict[str, Any] = {"role": "assistant"}
    if calls is not None:
        delta["tool_calls"] = calls
    return {
        "id": "c",
        "model": "m",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def call(
    index: int | None, arguments: str, name: str | None = None, id: str | None = None
) -> dict[str, Any]:
    raw: dict[str, Any] = {"function": {"arguments": arguments}}
    if index is not None:
        raw["index"] = index
    if name:
        raw["function"]["name"] = name
        raw["id"] = id or f"id_{name}"
        raw["type"] = "function"
    return raw


def run(chunks: list[dict[str, Any]]) -> tuple[list[Any], ChatCompletion]:
    acc = StreamAccumulator(single_tool_call=True)
    deltas = [d for c in chunks if (d := acc.add_chunk(c)) is not None]
    return deltas, acc.result()


def test_two_calls_in_one_chunk_keep_the_first() -> None:
    deltas, final = run(
        [chunk([call(0, '{"a": 1}', "f"), call(1, '{"b": 2}', "g")]), chunk(finish="tool_calls")]
    )
    assert [(p.index, p.name) for d in deltas for p in d.tool_calls] == [(0, "f")]
    assert [c.function.name for c in final.message.tool_calls or []] == ["f"]


def test_fragments_of_a_later_call_never_come_out() -> None:
    deltas, final = run(
        [
            chunk([call(0, "", "f")]),
            chunk([call(0, '{"a": ')]),
            chunk([call(0, "1}"), call(1, "", "g")]),
            chunk([call(1, '{"b": 2}')]),
            chunk(finish="tool_calls"),
        ]
    )
    pieces = [p for d in deltas for p in d.tool_calls]
    assert {p.index for p in pieces} == {0}
    assert json.loads("".join(p.arguments for p in pieces)) == {"a": 1}
    assert len(final.message.tool_calls or []) == 1


def test_index_less_pieces_follow_ids() -> None:
    deltas, final = run(
        [
            chunk([call(None, '{"a"', "f", "x1")]),
            chunk([call(None, ": 1}")]),
            chunk([call(None, "{}", "g", "x2")]),
            chunk(finish="tool_calls"),
        ]
    )
    assert [(c.id, c.function.arguments) for c in final.message.tool_calls or []] == [
        ("x1", '{"a": 1}')
    ]
    assert all(p.index == 0 for d in deltas for p in d.tool_calls)


def test_a_whole_answer_keeps_one_call() -> None:
    completion = ChatCompletion.model_validate(
        {
            "choices": [
                {
                    "message": {
                        "content": "",
                        "tool_calls": [
                            {
                                "id": "a",
                                "type": "function",
                                "function": {"name": "f", "arguments": "{}"},
                            },
                            {
                                "id": "b",
                                "type": "function",
                                "function": {"name": "g", "arguments": "{}"},
                            },
                        ],
                    },
                    "finish_reason": "tool_calls",
                }
            ]
        }
    )
    acc = StreamAccumulator(single_tool_call=True)
    delta = acc.adopt(completion.model_copy(deep=True))
    assert delta is not None
    assert [c.name for c in delta.tool_calls] == ["f"]
    assert len(acc.result().message.tool_calls or []) == 1
    assert (
        len(apply_stops(completion.model_copy(deep=True), (), True).message.tool_calls or []) == 1
    )
    assert len(apply_stops(completion, ()).message.tool_calls or []) == 2
