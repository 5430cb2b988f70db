"""Tool calls put together from stream pieces: by ``index``, ids and names set, arguments joined.

The rules are listed in :mod:`powertokens._accumulator`, which calls these per piece.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from ._text_pieces import as_text, whole_chars

__all__ = [
    "StreamedToolCall",
    "ToolCallDelta",
    "add_first_call_only",
    "add_tool_call",
    "release_arguments",
]


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of one tool call. ``id``/``name`` are set on the first piece of a call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


class StreamedToolCall:
    """One tool call as accumulated so far (``arguments`` grows while it streams)."""

    __slots__ = ("_args", "id", "index", "name", "type")

    def __init__(self, index: int) -> None:
        self.index = index
        self.id = ""
        self.name = ""
        self.type = "function"
        self._args: list[str] = []

    @property
    def arguments(self) -> str:
        """The argument text received so far (a JSON string once the call is complete)."""
        args = self._args
        if len(args) > 1:
            args[:] = ["".join(args)]  # joined once per change, however often it is read
        return args[0] if args else ""

    def __repr__(self) -> str:
        return f"StreamedToolCall(index={self.index}, id={self.id!r}, name={self.name!r})"


def add_first_call_only(
    calls: dict[int, StreamedToolCall],
    held: dict[str | int, str],
    raw_calls: list[dict[str, Any]],
) -> tuple[ToolCallDelta, ...]:
    """``parallel_tool_calls=False``: pieces of the first call; later calls dropped."""
    kept: list[ToolCallDelta] = []
    for raw in raw_calls:
        index = raw.get("index")
        if not isinstance(index, int):
            index = len(calls) if raw.get("id") or not calls else max(calls)
        if calls and index not in calls:
            continue  # a second call: never accumulated, never handed out
        kept.append(add_tool_call(calls, held, raw, index))
    return tuple(kept)


def add_tool_call(
    calls: dict[int, StreamedToolCall],
    held: dict[str | int, str],
    raw: dict[str, Any],
    index: Any = None,
) -> ToolCallDelta:
    """Fold one raw tool-call piece into ``calls``; ``held``: the stream's half pairs
    (see :func:`~powertokens._text_pieces.whole_chars`), keyed by call index."""
    if index is None:
        index = raw.get("index")
    if not isinstance(index, int):
        # No index: a new id starts a new call, otherwise continue the last one.
        index = len(calls) if raw.get("id") or not calls else max(calls)
    state = calls.get(index)
    if state is None:
        state = calls[index] = StreamedToolCall(index)
    call_id = as_text(raw.get("id") or "") or None
    if call_id:
        state.id = call_id
    if kind := raw.get("type"):
        state.type = as_text(kind)
    function = raw.get("function") or {}
    name = as_text(function.get("name") or "") or None
    if name:
        state.name = name
    args = function.get("arguments")
    if args is None:
        args = ""
    elif not isinstance(args, str):
        args = json.dumps(args, ensure_ascii=False)
    if (args and "\ud800" <= args[-1] <= "\udfff") or held:
        args = whole_chars(held, index, args, None)
    if args:
        state._args.append(args)
    return ToolCallDelta(index, call_id, name, args)


def release_arguments(
    calls: dict[int, StreamedToolCall], held: dict[str | int, str]
) -> tuple[ToolCallDelta, ...]:
    """The answer finished: argument text held back as half a pair becomes U+FFFD."""
    released = []
    for kind in [k for k in held if isinstance(k, int)]:
        del held[kind]
        calls[kind]._args.append("\ufffd")
        released.append(ToolCallDelta(kind, None, None, "\ufffd"))
    return tuple(released)
