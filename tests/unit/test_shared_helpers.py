"""Pure helpers both adapters share: stop sequences, tool_choice, JSON in text."""

from __future__ import annotations

from typing import Any

import pytest

from powertokens._jsontext import extract_json
from powertokens._stop import StopFilter, cut_at_stop, split_stop
from powertokens._toolchoice import resolve_tool_choice


@pytest.mark.parametrize(
    ("stop", "server", "local"),
    [
        (None, None, []),
        ("END", ["END"], ["END"]),
        (["a", "b"], ["a"], ["a", "b"]),
        ([], None, []),
        (["", "x"], ["x"], ["x"]),
    ],
)
def test_split_stop(stop: Any, server: Any, local: list[str]) -> None:
    assert split_stop(stop) == (server, local)


@pytest.mark.parametrize(
    ("text", "stops", "expected"),
    [
        ("hello world", ["wor"], ("hello ", True)),
        ("hello world", ["xyz"], ("hello world", False)),
        ("a STOP b END", ["END", "STOP"], ("a ", True)),  # the earliest wins
        ("", ["x"], ("", False)),
    ],
)
def test_cut_at_stop(text: str, stops: list[str], expected: tuple[str, bool]) -> None:
    assert cut_at_stop(text, stops) == expected


TEXT = "The answer is 42.\nObservation: done\nMore text"
STOPS = [["Observation:"], ["\nObs", "42"], ["zzz"], ["ion: d", "ore"]]


@pytest.mark.parametrize("stops", STOPS)
def test_stop_filter_matches_cut_at_every_split(stops: list[str]) -> None:
    expected, found = cut_at_stop(TEXT, stops)
    for size in (1, 2, 3, 5, 8, len(TEXT)):
        pieces = [TEXT[i : i + size] for i in range(0, len(TEXT), size)]
        f = StopFilter(stops)
        out = "".join(f.feed(p) for p in pieces) + f.flush()
        assert out == expected, size
        assert f.stopped is found


def test_stop_filter_holds_back_only_possible_starts() -> None:
    f = StopFilter(["STOP"])
    assert f.feed("abc ST") == "abc "
    assert f.feed("X") == "STX"
    assert f.feed("STO") == ""
    assert f.feed("P tail") == ""
    assert f.stopped
    assert f.feed("more") == ""


def test_stop_filter_without_stops_passes_through() -> None:
    f = StopFilter([])
    assert not f.active
    assert f.feed("abc") == "abc"


@pytest.mark.parametrize(
    ("choice", "send", "wire", "downgraded", "name"),
    [
        (None, True, None, False, None),
        ("auto", True, "auto", False, None),
        ("none", False, None, False, None),
        (False, False, None, False, None),
        ("any", True, "auto", True, None),
        ("required", True, "auto", True, None),
        (True, True, "auto", True, None),
        ("get_weather", True, "auto", True, "get_weather"),
        ({"type": "function", "function": {"name": "f"}}, True, "auto", True, "f"),
    ],
)
def test_tool_choice(choice: Any, send: bool, wire: Any, downgraded: bool, name: Any) -> None:
    result = resolve_tool_choice(choice)
    assert (result.send_tools, result.wire, result.downgraded, result.forced_name) == (
        send,
        wire,
        downgraded,
        name,
    )


def test_tool_choice_rejects_nonsense() -> None:
    with pytest.raises(ValueError, match="tool_choice"):
        resolve_tool_choice(3.5)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ('{"a": 1}', {"a": 1}),
        (
            'Sure! Here it is:\n```json\n{"name": "Anna", "age": 31}\n```',
            {"name": "Anna", "age": 31},
        ),
        ('The result is {"x": [1, 2]} as asked.', {"x": [1, 2]}),
        ("[1, 2, 3]", [1, 2, 3]),
        ('text {broken then {"ok": true}', {"ok": True}),
    ],
)
def test_extract_json(text: str, expected: Any) -> None:
    assert extract_json(text) == expected


def test_extract_json_raises_when_there_is_none() -> None:
    with pytest.raises(ValueError, match="no JSON"):
        extract_json("just words")
