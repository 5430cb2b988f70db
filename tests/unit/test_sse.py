"""The SSE decoder, table-driven and at every byte split (WHATWG SSE + docs/wire.md)."""

from __future__ import annotations

import pytest

from powertokens import ServerSentEvent, SSEDecoder, StreamInterruptedError


def decode_all(pieces: list[bytes]) -> list[ServerSentEvent]:
    decoder = SSEDecoder()
    events: list[ServerSentEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.flush())
    return events


def datas(events: list[ServerSentEvent]) -> list[str]:
    return [e.data for e in events]


CASES = [
    pytest.param(b"data: a\n\n", ["a"], id="lf"),
    pytest.param(b"data: a\r\n\r\n", ["a"], id="crlf"),
    pytest.param(b"data: a\r\r", ["a"], id="cr"),
    pytest.param(b"data: a\n\ndata: b\r\n\r\ndata: c\r\r", ["a", "b", "c"], id="mixed-endings"),
    pytest.param(b": PING\n\ndata: a\n\n", ["a"], id="comment-ignored"),
    pytest.param(b"data: line1\ndata: line2\n\n", ["line1\nline2"], id="multi-line-data"),
    pytest.param(b"data:no-space\n\n", ["no-space"], id="no-space-after-colon"),
    pytest.param(b"data:  two-spaces\n\n", [" two-spaces"], id="only-one-space-stripped"),
    pytest.param(b"data\n\n", [""], id="field-without-colon"),
    pytest.param(b"event: x\nid: 7\n\n", [], id="no-data-no-event"),
    pytest.param(b"\n\n\n", [], id="blank-lines-only"),
    pytest.param(b"data: [DONE]\n\n", ["[DONE]"], id="done"),
    pytest.param(b"data: tail-without-blank-line", ["tail-without-blank-line"], id="eof-flush"),
    pytest.param(
        'data: {"c":"a\u2028b\u0085c\u2029d"}\n\n'.encode(),
        ['{"c":"a\u2028b\u0085c\u2029d"}'],
        id="unicode-line-separators-are-not-newlines",
    ),
    pytest.param("data: 你好🙂\n\n".encode(), ["你好🙂"], id="multibyte"),
]


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_whole(raw: bytes, expected: list[str]) -> None:
    assert datas(decode_all([raw])) == expected


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_every_single_split(raw: bytes, expected: list[str]) -> None:
    for cut in range(len(raw) + 1):
        assert datas(decode_all([raw[:cut], raw[cut:]])) == expected, cut


@pytest.mark.parametrize(("raw", "expected"), CASES)
def test_byte_by_byte(raw: bytes, expected: list[str]) -> None:
    assert datas(decode_all([raw[i : i + 1] for i in range(len(raw))])) == expected


def test_every_pair_of_splits_of_a_real_stream() -> None:
    raw = (
        b": PING\r\n\r\n"
        b'data: {"choices":[{"delta":{"content":"\xe4\xbd\xa0\xe2\x80\xa8"}}]}\r\n\r\n'
        b"data: [DONE]\r\n\r\n"
    )
    expected = datas(decode_all([raw]))
    assert expected == ['{"choices":[{"delta":{"content":"你\u2028"}}]}', "[DONE]"]
    for i in range(len(raw) + 1):
        for j in range(i, len(raw) + 1):
            assert datas(decode_all([raw[:i], raw[i:j], raw[j:]])) == expected, (i, j)


def test_event_fields_are_kept() -> None:
    (event,) = decode_all([b"event: update\nid: 42\nretry: 3000\ndata: x\n\n"])
    assert event == ServerSentEvent(data="x", event="update", id="42", retry=3000)


def test_default_event_name_and_id_persistence() -> None:
    events = decode_all([b"id: 1\ndata: a\n\ndata: b\n\n"])
    assert [(e.event, e.id) for e in events] == [("message", "1"), ("message", "1")]


def test_invalid_utf8_is_replaced_not_raised() -> None:
    assert datas(decode_all([b"data: \xff\xfe\n\n"])) == ["\ufffd\ufffd"]


def test_crlf_split_across_reads_is_one_line_ending() -> None:
    # "data: a\r" + "\n\r\n": the CRLF is split; must not yield an extra blank line
    # that would dispatch early or an empty event.
    assert datas(decode_all([b"data: a\r", b"\ndata: b\r", b"\n\r\n"])) == ["a\nb"]


# --- hostile input (issue 11): long lines, the cap, [DONE], a byte order mark ----------

BOM = b"\xef\xbb\xbf"


def test_a_line_spanning_many_reads_grows_in_one_buffer() -> None:
    # Linear time by construction: the unterminated line is one buffer that grows in
    # place; re-copying it on every read (the old way) made a long line quadratic.
    decoder = SSEDecoder()
    assert decoder.feed(b"data: ") == []
    assert decoder.feed(b"x" * 1000) == []
    buffer = decoder._pending
    for _ in range(200):
        assert decoder.feed(b"x" * 1000) == []
        assert decoder._pending is buffer
    assert len(buffer) == 6 + 201 * 1000
    (event,) = decoder.feed(b"\n\n")
    assert event.data == "x" * 201_000


def test_a_line_over_the_cap_across_reads_raises_a_clear_error() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    decoder.feed(b"data: " + b"x" * 90)
    with pytest.raises(StreamInterruptedError, match=r"max_event_bytes=100: 116 bytes"):
        decoder.feed(b"y" * 20)


def test_a_line_over_the_cap_in_one_read_raises_after_the_events_before_it() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    events = decoder.feed(b"data: a\n\ndata: " + b"x" * 200 + b"\n\n")
    assert datas(events) == ["a"]  # delivered first, then the error
    with pytest.raises(StreamInterruptedError, match="max_event_bytes=100"):
        decoder.feed(b"data: b\n\n")
    with pytest.raises(StreamInterruptedError, match="max_event_bytes=100"):
        decoder.flush()


def test_a_single_event_read_over_the_cap_raises() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    with pytest.raises(StreamInterruptedError):
        decoder.feed(b"data: " + b"x" * 200 + b"\n\n")


def test_many_data_lines_count_together_against_the_cap() -> None:
    decoder = SSEDecoder(max_event_bytes=100)
    assert decoder.feed(b"data: " + b"x" * 50 + b"\n") == []
    with pytest.raises(StreamInterruptedError, match="max_event_bytes=100: 101 bytes"):
        decoder.feed(b"data: " + b"y" * 50 + b"\n")


def test_exactly_at_the_cap_is_fine() -> None:
    line = b"data: " + b"x" * 94  # 100 bytes
    for pieces in ([line + b"\n\n"], [line[:50], line[50:] + b"\n\n"], [line, b"\n\n"]):
        assert datas(decode_all_with(pieces, max_event_bytes=100)) == ["x" * 94]


def decode_all_with(pieces: list[bytes], **options: int) -> list[ServerSentEvent]:
    decoder = SSEDecoder(**options)
    events = [e for piece in pieces for e in decoder.feed(piece)]
    return events + decoder.flush()


@pytest.mark.parametrize(
    "tail",
    [b"retry: \xc2\xb2\n\n", b"retry: " + b"9" * 5000 + b"\n\n", b"data: " + b"x" * 500 + b"\n"],
)
def test_nothing_after_done_is_decoded(tail: bytes) -> None:
    raw = b"data: a\n\ndata: [DONE]\n\n" + tail
    for cut in range(len(raw) + 1):
        assert datas(decode_all_with([raw[:cut], raw[cut:]], max_event_bytes=100)) == [
            "a",
            "[DONE]",
        ]


def test_done_is_reported() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: a\n\n")
    assert not decoder.ended
    decoder.feed(b"data: [DONE]\n\n")
    assert decoder.ended
    assert decoder.feed(b"data: b\n\n") == []


def test_an_unusual_retry_field_is_ignored_not_raised() -> None:
    events = decode_all([b"retry: \xc2\xb2\ndata: a\n\nretry: " + b"9" * 5000 + b"\ndata: b\n\n"])
    assert [(e.data, e.retry) for e in events] == [("a", None), ("b", None)]


@pytest.mark.parametrize("raw", [BOM + b"data: a\n\n", BOM + b": c\r\ndata: a\r\n\r\n"])
def test_a_leading_byte_order_mark_is_dropped_at_every_split(raw: bytes) -> None:
    for i in range(len(raw) + 1):
        for j in range(i, len(raw) + 1):
            assert datas(decode_all([raw[:i], raw[i:j], raw[j:]])) == ["a"], (i, j)


def test_only_one_leading_byte_order_mark_is_dropped() -> None:
    assert datas(decode_all([BOM + BOM + b"data: a\n\ndata: b\n\n"])) == ["b"]
    assert datas(decode_all([b"data: a\n\n" + BOM + b"data: b\n\n"])) == ["a"]
