"""The SSE decoder, table-driven and at every byte split (WHATWG SSE + WIRE.md)."""

from __future__ import annotations

import pytest

from powertokens import ServerSentEvent, SSEDecoder


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
