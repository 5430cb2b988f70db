"""A sans-IO stream accumulator: chunk dicts in, deltas and a final completion out.

Rules from WIRE.md, "Stream":

* reasoning, content and tool-call pieces are passed on as they come; ``""`` is not
  a switch of phase, and a lone ``"\\n"`` is kept (the text equals what was sent);
* tool calls are accumulated by ``index``: ``id``/``name`` are set when present and
  never concatenated, ``arguments`` pieces are concatenated (None counts as ``""``),
  a dict argument is JSON-encoded. Both forms (whole call per chunk, and argument
  fragments) give the same final call;
* usage may come on the finish chunk and again on an OpenAI-style ``choices: []``
  chunk: it is reported once;
* ``{"error": ...}`` as an event is raised as a typed error;
* a stream is complete only when a ``finish_reason`` arrived; ``[DONE]`` alone
  proves nothing.

The deltas are plain slotted objects and the final completion is validated into a
:class:`ChatCompletion` once, at the end: no pydantic work per chunk.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from ._exceptions import StreamInterruptedError, make_status_error
from ._json import loads
from ._models import ChatCompletion, Usage

__all__ = ["StreamAccumulator", "StreamDelta", "ToolCallDelta"]

_EMPTY: tuple[Any, ...] = ()


@dataclass(slots=True)
class ToolCallDelta:
    """A piece of one tool call. ``id``/``name`` are set on the first piece of a call."""

    index: int
    id: str | None = None
    name: str | None = None
    arguments: str = ""


@dataclass(slots=True)
class StreamDelta:
    """What one chunk added. Empty strings mean "nothing of that kind in this chunk"."""

    reasoning: str = ""
    content: str = ""
    tool_calls: tuple[ToolCallDelta, ...] = _EMPTY
    finish_reason: str | None = None
    usage: Usage | None = None
    """Set on exactly one delta of a stream (the first chunk that carried usage)."""
    chunk: dict[str, Any] = field(default_factory=dict)
    """The decoded chunk as received."""


def _text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


class _ToolCallState:
    __slots__ = ("args", "id", "name", "type")

    def __init__(self) -> None:
        self.id = ""
        self.name = ""
        self.type = "function"
        self.args: list[str] = []


class StreamAccumulator:
    """Turns decoded chunks into deltas and, at the end, a :class:`ChatCompletion`.

    Use one per stream attempt: ``add_data(event.data)`` per SSE event, then
    :meth:`result` (raises :class:`StreamInterruptedError` when no finish arrived).
    """

    __slots__ = (
        "_content",
        "_created",
        "_id",
        "_model",
        "_reasoning",
        "_role",
        "_tools",
        "_usage",
        "_usage_reported",
        "done",
        "emitted",
        "finish_reason",
        "request_id",
    )

    def __init__(self, request_id: str | None = None) -> None:
        self.request_id = request_id
        self._id = ""
        self._created: int | None = None
        self._model = ""
        self._role = "assistant"
        self._reasoning: list[str] = []
        self._content: list[str] = []
        self._tools: dict[int, _ToolCallState] = {}
        self._usage: dict[str, Any] | None = None
        self._usage_reported = False
        self.finish_reason: str | None = None
        self.done = False  # "[DONE]" seen
        self.emitted = 0  # deltas handed out: after the first, nothing is retried

    # -- feeding --------------------------------------------------------------------

    def add_data(self, data: str) -> StreamDelta | None:
        """Decode one event's data; returns the delta, or None when it added nothing.

        Raises the typed API error for an ``{"error": ...}`` event, and
        :class:`StreamInterruptedError` for data that is not a JSON object.
        """
        if data == "[DONE]":
            self.done = True
            return None
        try:
            chunk = loads(data)
        except ValueError as exc:
            raise self.interrupted(f"malformed stream event: {data[:80]!r}", exc) from exc
        if not isinstance(chunk, dict):
            raise self.interrupted(f"malformed stream event: {data[:80]!r}")
        return self.add_chunk(chunk)

    def add_chunk(self, chunk: dict[str, Any]) -> StreamDelta | None:
        """Fold one decoded chunk in; returns what it added, or None.

        A chunk of the wrong shape raises :class:`StreamInterruptedError`, never a
        bare ``TypeError`` or ``AttributeError``.
        """
        if "error" in chunk and "choices" not in chunk:
            raise make_status_error(200, chunk, request_id=self.request_id)
        try:
            return self._fold(chunk)
        except (AttributeError, TypeError, ValueError) as exc:
            raise self.interrupted(f"malformed stream chunk: {exc}", exc) from exc

    def _fold(self, chunk: dict[str, Any]) -> StreamDelta | None:
        if not self._id:
            self._id = str(chunk.get("id") or "")
            created = chunk.get("created")
            self._created = created if isinstance(created, int) else None
        if model := chunk.get("model"):
            self._model = str(model)

        reasoning = content = ""
        finish: str | None = None
        calls: tuple[ToolCallDelta, ...] = _EMPTY
        for choice in chunk.get("choices") or _EMPTY:
            if choice.get("index", 0) != 0:
                continue  # the API has no "n": only choice 0 exists
            delta = choice.get("delta") or {}
            if role := delta.get("role"):
                self._role = role
            if reasoning := delta.get("reasoning_content") or "":
                self._reasoning.append(_text(reasoning))
            if content := delta.get("content") or "":
                self._content.append(_text(content))
            if raw_calls := delta.get("tool_calls"):
                calls = tuple(self._add_tool_call(raw) for raw in raw_calls)
            if finish := choice.get("finish_reason"):
                self.finish_reason = _text(finish)

        usage: Usage | None = None
        raw_usage = chunk.get("usage")
        if raw_usage:
            parsed = Usage.model_validate(raw_usage)  # checked before it is kept
            self._usage = raw_usage  # the last one wins for the final result...
            if not self._usage_reported:  # ...but it is reported once
                self._usage_reported = True
                usage = parsed

        if not (reasoning or content or calls or finish or usage):
            return None
        self.emitted += 1
        return StreamDelta(reasoning, content, calls, finish, usage, chunk)

    def _add_tool_call(self, raw: dict[str, Any]) -> ToolCallDelta:
        index = raw.get("index")
        if not isinstance(index, int):
            # No index: a new id starts a new call, otherwise continue the last one.
            index = len(self._tools) if raw.get("id") or not self._tools else max(self._tools)
        state = self._tools.get(index)
        if state is None:
            state = self._tools[index] = _ToolCallState()
        call_id = _text(raw.get("id") or "") or None
        if call_id:
            state.id = call_id
        if kind := raw.get("type"):
            state.type = _text(kind)
        function = raw.get("function") or {}
        name = _text(function.get("name") or "") or None
        if name:
            state.name = name
        args = function.get("arguments")
        if args is None:
            args = ""
        elif not isinstance(args, str):
            args = json.dumps(args, ensure_ascii=False)
        if args:
            state.args.append(args)
        return ToolCallDelta(index, call_id, name, args)

    # -- results ----------------------------------------------------------------------

    @property
    def content(self) -> str:
        return "".join(self._content)

    @property
    def has_output(self) -> bool:
        """Whether any reasoning, text or tool call arrived."""
        return bool(self._reasoning or self._content or self._tools)

    def snapshot(self) -> ChatCompletion:
        """What arrived so far, as a completion (``finish_reason`` None until finished)."""
        message: dict[str, Any] = {"role": self._role, "content": "".join(self._content)}
        if self._reasoning:
            message["reasoning_content"] = "".join(self._reasoning)
        if self._tools:
            message["tool_calls"] = [
                {
                    "id": s.id,
                    "type": s.type,
                    "function": {"name": s.name, "arguments": "".join(s.args)},
                }
                for _, s in sorted(self._tools.items())
            ]
        body: dict[str, Any] = {
            "id": self._id,
            "object": "chat.completion",
            "created": self._created,
            "model": self._model,
            "choices": [{"index": 0, "message": message, "finish_reason": self.finish_reason}],
            "usage": self._usage,
        }
        if self.request_id:
            body["request_id"] = self.request_id
        return ChatCompletion.model_validate(body)

    def result(self) -> ChatCompletion:
        """The final completion; raises :class:`StreamInterruptedError` if unfinished."""
        if self.finish_reason is None:
            why = "[DONE] without a finish_reason" if self.done else "no finish_reason"
            raise self.interrupted(f"the stream ended early ({why})")
        return self.snapshot()

    def interrupted(
        self, message: str, cause: BaseException | None = None
    ) -> StreamInterruptedError:
        """An interrupted-stream error carrying what arrived so far."""
        return StreamInterruptedError(
            message, partial=self.snapshot(), request_id=self.request_id, cause=cause
        )
