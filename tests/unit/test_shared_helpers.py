"""The core's pure policies for what the API lacks: several stop sequences, any
tool_choice, JSON in text (``powertokens.lib``)."""

from __future__ import annotations

from typing import Any

import pytest

from powertokens import RequestValidationError, build_body, resolve_tool_choice
from powertokens._request import split_stop
from powertokens._stops import StopFilter, cut_at_stop
from powertokens.lib import extract_json


@pytest.mark.parametrize(
    ("stop", "server", "local"),
    [
        (None, None, ()),
        ("END", ["END"], ("END",)),
        (["a", "b"], ["a"], ("a", "b")),
        ([], None, ()),
    ],
)
def test_split_stop(stop: Any, server: Any, local: tuple[str, ...]) -> None:
    assert split_stop(stop) == (server, local)


@pytest.mark.parametrize("stop", [["", "x"], [""], ""])
def test_an_empty_stop_sequence_is_refused_not_dropped(stop: Any) -> None:
    with pytest.raises(RequestValidationError, match="must not be empty"):
        split_stop(stop)


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


USER = [{"role": "user", "content": "Weather in Paris?"}]
TOOLS = [{"type": "function", "function": {"name": "get_weather", "parameters": {}}}]
TWO = [*TOOLS, {"type": "function", "function": {"name": "get_time", "parameters": {}}}]
NAMED = "Call the get_weather tool to answer; do not answer in plain text."
ANY = "Call one of the provided tools to answer; do not answer in plain text."
SYSTEM = {"role": "system", "content": "Be brief."}


@pytest.mark.parametrize(
    ("messages", "tools", "choice", "first"),
    [
        (USER, TWO, "get_weather", {"role": "system", "content": NAMED}),
        (
            USER,
            TWO,
            {"type": "function", "function": {"name": "get_weather"}},
            {"role": "system", "content": NAMED},
        ),
        (USER, TWO, "required", {"role": "system", "content": ANY}),
        (USER, TWO, True, {"role": "system", "content": ANY}),
        (USER, TOOLS, "any", {"role": "system", "content": NAMED}),  # "any" of one tool: by name
        ([SYSTEM, *USER], TWO, "any", {"role": "system", "content": f"Be brief.\n\n{ANY}"}),
        (
            [{"role": "system", "content": [{"type": "text", "text": "Be brief."}]}, *USER],
            TWO,
            "any",
            {
                "role": "system",
                "content": [{"type": "text", "text": "Be brief."}, {"type": "text", "text": ANY}],
            },
        ),
    ],
)
def test_a_forced_tool_choice_is_sent_as_auto_with_one_hint(
    messages: list[dict[str, Any]], tools: list[Any], choice: Any, first: dict[str, Any]
) -> None:
    body = build_body(messages, {"tools": tools, "tool_choice": choice})
    assert body["tool_choice"] == "auto"
    assert body["messages"][0] == first
    assert body["messages"][-1] == USER[-1]  # the hint never goes last
    assert messages[0] != first  # the caller's list is not modified


def test_tool_choice_none_sends_no_tools_and_the_hint_can_be_turned_off() -> None:
    assert "tools" not in build_body(USER, {"tools": TOOLS, "tool_choice": "none"})
    quiet = build_body(USER, {"tools": TOOLS, "tool_choice": "required", "tool_hint": False})
    assert quiet["messages"] == USER
    assert quiet["tool_choice"] == "auto"
    assert "tool_hint" not in quiet


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
