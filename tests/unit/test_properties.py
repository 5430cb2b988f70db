"""Property-based tests of the pure core: arbitrary bytes, splits and chunk forms
give the right answer or one of our typed errors, never a crash or a silent loss."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from powertokens import (
    PowerTokensError,
    ServerSentEvent,
    SSEDecoder,
    StreamAccumulator,
    StreamInterruptedError,
)
from powertokens._stops import StopFilter, cut_at_stop

# hypothesis properties: hundreds of examples each
pytestmark = pytest.mark.slow

# Text without CR/LF (those end SSE lines); everything else, U+2028 included, is fair.
line_text = st.text(st.characters(exclude_characters="\r\n", codec="utf-8"), max_size=40)
endings = st.sampled_from(["\n", "\r\n", "\r"])


@st.composite
def sse_streams(draw: st.DrawFn) -> tuple[bytes, list[str]]:
    """A stream of events with mixed line endings and comments, and its data values."""
    datas: list[str] = []
    out = []
    for _ in range(draw(st.integers(0, 6))):
        if draw(st.booleans()):
            out.append(":" + draw(line_text) + draw(endings))
        lines = draw(st.lists(line_text, min_size=1, max_size=3))
        ending = ""
        for line in lines:
            ending = draw(endings)
            out.append("data: " + line + ending)
        # the blank line; a CR followed by LF would be one CRLF, not two endings
        out.append(
            draw(st.sampled_from(["\r\n", "\r"] if ending == "\r" else ["\n", "\r\n", "\r"]))
        )
        datas.append("\n".join(lines))
    return "".join(out).encode("utf-8"), datas


def split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    pieces, last = [], 0
    for p in points:
        pieces.append(data[last:p])
        last = p
    pieces.append(data[last:])
    return pieces


@given(sse_streams(), st.lists(st.integers(0, 10_000), max_size=12))
def test_sse_any_split_gives_the_same_events(
    stream: tuple[bytes, list[str]], cuts: list[int]
) -> None:
    raw, expected = stream
    decoder = SSEDecoder()
    events = [e.data for piece in split(raw, cuts) for e in decoder.feed(piece)]
    events += [e.data for e in decoder.flush()]
    assert events == expected


@given(st.binary(max_size=300), st.lists(st.integers(0, 1000), max_size=8))
def test_sse_arbitrary_bytes_never_crash(raw: bytes, cuts: list[int]) -> None:
    decoder = SSEDecoder()
    for piece in split(raw, cuts):
        for event in decoder.feed(piece):
            assert isinstance(event.data, str)
    decoder.flush()


# --- the accumulator --------------------------------------------------------------

pieces_text = st.text(max_size=12)
json_args = st.dictionaries(st.text(max_size=5), st.integers() | st.text(max_size=5), max_size=3)


def chop(draw: st.DrawFn, text: str) -> list[str]:
    cuts = sorted(draw(st.lists(st.integers(0, len(text)), max_size=4)))
    out, last = [], 0
    for c in cuts:
        out.append(text[last:c])
        last = c
    out.append(text[last:])
    return out


@st.composite
def answers(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Chunks in any legal form, and the message they must add up to."""
    reasoning = draw(st.text(max_size=30))
    content = draw(st.text(max_size=30))
    calls = draw(st.lists(json_args, max_size=3))
    chunks: list[dict[str, Any]] = []

    def add(delta: dict[str, Any]) -> None:
        if draw(st.booleans()):
            delta = {"role": "assistant", **delta}
        chunks.append({"id": "c", "choices": [{"index": 0, "delta": delta}]})

    for piece in chop(draw, reasoning):
        add(
            {"reasoning_content": piece, "content": ""}
            if draw(st.booleans())
            else {"reasoning_content": piece}
        )
    for piece in chop(draw, content):
        add({"content": piece})
    for i, args in enumerate(calls):
        text = json.dumps(args)
        if draw(st.booleans()):  # whole call, sometimes with an object as arguments
            whole: Any = args if draw(st.booleans()) else text
            add({"tool_calls": [{"index": i, "id": f"call_{i}", "type": "function",
                                 "function": {"name": f"f{i}", "arguments": whole}}]})  # fmt: skip
        else:  # argument fragments
            add({"tool_calls": [{"index": i, "id": f"call_{i}", "function": {"name": f"f{i}"}}]})
            for piece in chop(draw, text):
                add({"tool_calls": [{"index": i, "function": {"arguments": piece}}]})
    usage = {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3}
    finish = {"index": 0, "delta": {}, "finish_reason": "stop"}
    chunks.append({"id": "c", "choices": [finish], "usage": usage})
    expected = {
        "reasoning": reasoning,
        "content": content,
        "calls": [(f"call_{i}", f"f{i}", args) for i, args in enumerate(calls)],
    }
    return chunks, expected


@given(answers())
def test_accumulator_any_chunk_form_adds_up(
    case: tuple[list[dict[str, Any]], dict[str, Any]],
) -> None:
    chunks, expected = case
    acc = StreamAccumulator()
    deltas = [d for c in chunks if (d := acc.add_data(json.dumps(c))) is not None]
    final = acc.result()
    assert "".join(d.reasoning for d in deltas) == final.reasoning_content == expected["reasoning"]
    assert "".join(d.content for d in deltas) == final.content == expected["content"]
    calls = final.message.tool_calls or []
    assert [(c.id, c.function.name, c.parsed_arguments()) for c in calls] == expected["calls"]
    assert sum(d.usage is not None for d in deltas) == 1


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=12,
)
chunk_keys = st.sampled_from(["id", "choices", "usage", "model", "created", "error", "x"])
weird_chunks = st.dictionaries(chunk_keys, json_values, max_size=4) | st.fixed_dictionaries(
    {
        "choices": st.lists(
            st.dictionaries(st.sampled_from(["index", "delta", "finish_reason"]), json_values),
            max_size=2,
        )
    }
)


@given(st.lists(weird_chunks | json_values, max_size=5))
def test_accumulator_garbage_raises_only_typed_errors(chunks: list[Any]) -> None:
    acc = StreamAccumulator()
    try:
        for chunk in chunks:
            acc.add_data(json.dumps(chunk))
        acc.result()
    except PowerTokensError:
        pass


# --- the stop filter --------------------------------------------------------------


@given(st.text(max_size=40), st.lists(st.text(min_size=1, max_size=4), max_size=3), st.data())
def test_stop_filter_equals_cut_at_stop(text: str, stops: list[str], data: st.DataObject) -> None:
    pieces = chop(data.draw, text)
    f = StopFilter(stops)
    assert "".join(f.feed(p) for p in pieces) + f.flush() == cut_at_stop(text, stops)[0]


# --- the decoder at every split, on hostile bytes (issue 11) ---------------------------

BOM = b"\xef\xbb\xbf"
# Pieces a hostile body is made of: every kind of line ending, a byte order mark
# (anywhere: only a leading one is dropped), comments, fields, multi-byte UTF-8,
# invalid UTF-8, [DONE] and long runs (against a small max_event_bytes).
hostile_pieces = st.sampled_from(
    [b"data: ", b"data:", b"data", b"\r", b"\n", b"\r\n", b"\n\n", BOM, b": PING", b"event: e",
     b"id: 7", b"retry: 50", b"retry: \xc2\xb2", "é".encode(), "你".encode(), "🙂".encode(),
     "\u2028".encode(), b"\xff", b"x", b"{}", b"[DONE]", b"y" * 40]
)  # fmt: skip


def outcome(pieces: list[bytes], limit: int) -> tuple[list[ServerSentEvent], bool]:
    """The events, and whether the stream broke at max_event_bytes."""
    decoder = SSEDecoder(limit)
    events: list[ServerSentEvent] = []
    try:
        for piece in pieces:
            events += decoder.feed(piece)
        events += decoder.flush()
    except StreamInterruptedError:
        return events, True
    return events, False


@given(st.lists(hostile_pieces, max_size=40), st.lists(st.integers(0, 10_000), max_size=12))
def test_sse_hostile_bytes_any_split_gives_what_one_read_gives(
    parts: list[bytes], cuts: list[int]
) -> None:
    raw = b"".join(parts)
    for limit in (60, 16 * 1024 * 1024):
        assert outcome(split(raw, cuts), limit) == outcome([raw], limit)


@given(st.lists(hostile_pieces, max_size=25))
def test_sse_hostile_bytes_byte_by_byte_gives_what_one_read_gives(parts: list[bytes]) -> None:
    raw = b"".join(parts)
    assert outcome([raw[i : i + 1] for i in range(len(raw))], 60) == outcome([raw], 60)


@given(sse_streams(), st.lists(st.integers(0, 10_000), max_size=12))
def test_sse_a_leading_bom_is_dropped_at_any_split(
    stream: tuple[bytes, list[str]], cuts: list[int]
) -> None:
    raw, expected = stream
    decoder = SSEDecoder()
    events = [e.data for piece in split(BOM + raw, cuts) for e in decoder.feed(piece)]
    events += [e.data for e in decoder.flush()]
    assert events == expected


@given(st.text(max_size=30), st.lists(st.integers(0, 60), max_size=6), st.booleans())
def test_accumulator_text_cut_inside_surrogate_pairs_adds_up(
    text: str, cuts: list[int], reasoning: bool
) -> None:
    # The text as UTF-16 code units, cut anywhere (inside a pair too), each piece sent
    # as an escaped JSON string: deltas hold whole characters and add up to the text.
    units = text.encode("utf-16-le", "surrogatepass")
    points = sorted({2 * (c % (len(units) // 2 + 1)) for c in cuts})
    pieces, last = [], 0
    for p in [*points, len(units)]:
        pieces.append(units[last:p].decode("utf-16-le", "surrogatepass"))
        last = p
    field = "reasoning_content" if reasoning else "content"
    acc = StreamAccumulator()
    deltas = []
    for piece in pieces:
        data = json.dumps({"choices": [{"index": 0, "delta": {field: piece}}]})
        deltas.append(acc.add_data(data))
    finish = {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}
    deltas.append(acc.add_data(json.dumps(finish)))
    got = [d.reasoning if reasoning else d.content for d in deltas if d is not None]
    for piece in got:
        piece.encode("utf-8")  # never half a pair
    final = acc.result()
    assert "".join(got) == (final.reasoning_content if reasoning else final.content) == text
