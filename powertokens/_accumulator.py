"""A sans-IO stream accumulator: chunk dicts in; deltas and a final completion out.

Rules (``docs/wire.md``, "Stream"):

* reasoning, content and tool-call pieces are passed on as they come; ``""`` is not
  a switch of phase, and a lone ``"\\n"`` is kept (the text equals what was sent);
* tool calls are accumulated by ``index``: ``id``/``name`` are set when present and
  never concatenated, ``arguments`` pieces are concatenated (None counts as ``""``),
  a dict argument is JSON-encoded. Both forms (whole call per chunk, and argument
  fragments) give the same final call; :attr:`StreamAccumulator.tool_calls` is the
  running state, so no caller accumulates them a second time (``_tool_calls``);
* usage may come on the finish chunk and again on an OpenAI-style ``choices: []``
  chunk: it is reported once; a malformed usage counts as none (``parse_usage``);
* a character outside the Basic Multilingual Plane may arrive as a surrogate pair
  split across two chunks (``"\\ud83d"``, then ``"\\ude00"``): a reasoning,
  content or argument piece ending in a high surrogate keeps it back until the next
  piece of its kind, which it joins into one character, so a delta never ends or
  starts in half a pair. A surrogate left without its other half (the next piece does
  not complete it, or the answer finishes first) becomes U+FFFD, as invalid UTF-8
  does. Only the ends of pieces are looked at: a lone surrogate inside a piece (text
  no standard JSON encoder writes) is passed on as received (``_text_pieces``);
* ``{"error": ...}`` as an event is raised as a typed error;
* a stream is complete only when a ``finish_reason`` arrived; ``[DONE]`` alone
  proves nothing, and nothing after ``[DONE]`` is parsed;
* stop sequences (all of them: the API was sent only the first) are enforced on the
  content: text that may be the start of one is held back until the next piece
  settles it, and once one is complete the answer ends there, with
  ``finish_reason="stop"``, and :attr:`StreamAccumulator.finished` turns true so the
  stream can close its connection. The usage the service would have sent at the end is
  then unknown: the final completion has ``usage=None`` and ``stopped_by_client=True``
  (reading on would wait for, and bill, text nobody wants, for as long as the model
  cares to write);
* ``single_tool_call`` (``parallel_tool_calls=False``): only the first tool call is
  kept; pieces of any later call are never handed out, nor accumulated.

The deltas are plain slotted objects and the final completion is validated into a
:class:`ChatCompletion` once, at the end: no pydantic work per chunk.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ._error_map import make_status_error
from ._exceptions import StreamInterruptedError
from ._json import loads
from ._models import ChatCompletion, Usage, parse_usage
from ._stops import StopFilter, apply_stops
from ._text_pieces import as_text, whole_chars
from ._tool_calls import (
    StreamedToolCall,
    ToolCallDelta,
    add_first_call_only,
    add_tool_call,
    release_arguments,
)

__all__ = ["StreamAccumulator", "StreamDelta"]

_EMPTY: tuple[Any, ...] = ()


@dataclass(slots=True)
class StreamDelta:
    """What one chunk added. Empty strings mean "nothing of that kind in this chunk"."""

    reasoning: str = ""
    content: str = ""
    """Answer text, already cut at the stop sequences."""
    tool_calls: tuple[ToolCallDelta, ...] = _EMPTY
    finish_reason: str | None = None
    usage: Usage | None = None
    """Set on exactly one delta of a stream (the first chunk that carried usage)."""
    id: str = ""
    """The completion id (the same on every delta of a stream)."""
    model: str = ""
    """The model that answered, as the service named it."""
    chunk: dict[str, Any] = field(default_factory=dict)
    """The decoded chunk as received."""


class StreamAccumulator:
    """Turns decoded chunks into deltas and, at the end, a :class:`ChatCompletion`.

    One per stream attempt: :meth:`add_data` per SSE event until :attr:`finished`,
    then :meth:`result` (raises :class:`StreamInterruptedError` when no finish arrived).
    """

    __slots__ = (
        "_calls",
        "_content",
        "_created",
        "_filter",
        "_held",
        "_id",
        "_model",
        "_reasoning",
        "_role",
        "_single",
        "_stops",
        "_usage",
        "_usage_reported",
        "_whole",
        "done",
        "emitted",
        "finish_reason",
        "request_id",
        "stopped",
    )

    def __init__(
        self,
        stops: Sequence[str] = (),
        request_id: str | None = None,
        *,
        single_tool_call: bool = False,
    ) -> None:
        self.request_id = request_id
        self._single = single_tool_call
        self._id = ""
        self._created: int | None = None
        self._model = ""
        self._role = "assistant"
        self._reasoning: list[str] = []
        self._content: list[str] = []
        self._calls: dict[int, StreamedToolCall] = {}
        self._usage: dict[str, Any] | None = None
        self._usage_reported = False
        self._stops = tuple(stops)
        self._filter = StopFilter(stops) if stops else None
        self._whole: ChatCompletion | None = None
        self._held: dict[str | int, str] = {}  # a piece's trailing high surrogate, by kind
        self.finish_reason: str | None = None
        self.done = False  # "[DONE]" seen
        self.stopped = False  # a stop sequence ended the answer
        self.emitted = 0  # deltas handed out: after the first, nothing is retried

    @property
    def finished(self) -> bool:
        """Nothing more to read: ``[DONE]`` arrived, or a stop sequence ended the answer."""
        return self.done or self.stopped

    @property
    def stopped_by_client(self) -> bool:
        """True when a stop sequence the service did not apply ended the answer here
        (the service was sent only the first). The stream then ends at once, so the
        usage the service sends last is unknown (None) unless it came earlier."""
        whole = self._whole
        return self.stopped if whole is None else whole.stopped_by_client

    @property
    def tool_calls(self) -> list[StreamedToolCall]:
        """The tool calls so far, in index order (live objects: later chunks extend them)."""
        calls = self._calls
        return [calls[i] for i in sorted(calls)] if calls else []

    # -- feeding --------------------------------------------------------------------

    def add_data(self, data: str) -> StreamDelta | None:
        """Decode one event's data; returns the delta, or None when it added nothing.

        Raises the typed API error for an ``{"error": ...}`` event, and
        :class:`StreamInterruptedError` for data that is not a JSON object.
        """
        if data == "[DONE]":
            self.done = True
            return None
        if self.done or self.stopped:
            return None
        try:
            chunk = loads(data)
        except ValueError as exc:
            raise self.interrupted(f"malformed stream event: {data[:80]!r}", exc) from exc
        if not isinstance(chunk, dict):
            raise self.interrupted(f"malformed stream event: {data[:80]!r}")
        if "error" in chunk and "choices" not in chunk:
            raise make_status_error(200, chunk, request_id=self.request_id)
        try:
            return self._fold(chunk)  # add_chunk, inlined: this runs once per event
        except (AttributeError, TypeError, ValueError) as exc:
            raise self.interrupted(f"malformed stream chunk: {exc}", exc) from exc

    def add_chunk(self, chunk: dict[str, Any]) -> StreamDelta | None:
        """Fold one decoded chunk in; returns what it added, or None.

        A chunk of the wrong shape raises :class:`StreamInterruptedError`, never a
        bare ``TypeError`` or ``AttributeError``.
        """
        if self.done or self.stopped:
            return None  # nothing after [DONE] or a stop is part of the answer
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
                self._role = as_text(role)
            finish = choice.get("finish_reason") or None
            # Type checks inline (no helper call): this runs once per chunk.
            if reasoning := delta.get("reasoning_content") or "":
                if not isinstance(reasoning, str):
                    kind = type(reasoning).__name__
                    raise TypeError(f"reasoning_content: expected a string, got {kind}")
                # Half a surrogate pair at either end of this piece or the last (rare)?
                if "\ud800" <= reasoning[-1] <= "\udfff" or self._held:
                    reasoning = whole_chars(self._held, "reasoning", reasoning, finish)
            content = delta.get("content") or ""
            if content:
                if not isinstance(content, str):
                    raise TypeError(f"content: expected a string, got {type(content).__name__}")
                if "\ud800" <= content[-1] <= "\udfff" or self._held:
                    content = whole_chars(self._held, "content", content, finish)
            if finish and self._held:  # the answer ends with half a pair held back
                reasoning += whole_chars(self._held, "reasoning", "", finish)
                content += whole_chars(self._held, "content", "", finish)
            if reasoning:
                self._reasoning.append(reasoning)
            stop_filter = self._filter
            if stop_filter is not None:
                content = stop_filter.feed(content) if content else ""
                if finish and not stop_filter.stopped:
                    content += stop_filter.flush()  # may settle a held-back match
                if stop_filter.stopped:  # the answer ends here
                    self.stopped = True
                    finish = "stop"
            if content:
                self._content.append(content)
            if (raw_calls := delta.get("tool_calls")) and not self.stopped:
                state, held = self._calls, self._held
                if self._single:
                    calls = add_first_call_only(state, held, raw_calls)
                else:
                    calls = tuple(add_tool_call(state, held, raw) for raw in raw_calls)
            if finish:
                self.finish_reason = as_text(finish)
                if self._held:  # argument text that ended in half a pair
                    calls += release_arguments(self._calls, self._held)

        usage: Usage | None = None
        raw_usage = chunk.get("usage")
        if raw_usage and (parsed := parse_usage(raw_usage)) is not None:
            self._usage = raw_usage  # the last valid one wins for the final result...
            if not self._usage_reported:  # ...but it is reported once
                self._usage_reported = True
                usage = parsed

        if not (reasoning or content or calls or finish or usage):
            return None
        self.emitted += 1
        return StreamDelta(reasoning, content, calls, finish, usage, self._id, self._model, chunk)

    def adopt(self, completion: ChatCompletion) -> StreamDelta | None:
        """A whole completion answered to a stream request (lenient servers do this):
        the one delta it makes, its stop sequences applied; :meth:`result` returns it."""
        stops = self._stops
        completion = apply_stops(completion, stops, self._single)
        if completion.request_id is None:
            completion.request_id = self.request_id
        self._whole = completion
        message = completion.message
        self.finish_reason = completion.finish_reason
        self.stopped = bool(stops) and completion.finish_reason == "stop"
        calls = tuple(
            ToolCallDelta(i, c.id or None, c.function.name or None, c.function.arguments)
            for i, c in enumerate(message.tool_calls or ())
        )
        usage = completion.usage
        self._usage_reported = usage is not None
        delta = StreamDelta(
            message.reasoning_content or "",
            message.content or "",
            calls,
            completion.finish_reason,
            usage,
            completion.id,
            completion.model,
        )
        if not (delta.reasoning or delta.content or calls or delta.finish_reason or usage):
            return None
        self.emitted += 1
        return delta

    # -- results ----------------------------------------------------------------------

    @property
    def content(self) -> str:
        """The answer text handed out so far."""
        return "".join(self._content)

    @property
    def has_output(self) -> bool:
        """Whether any reasoning, text or tool call arrived."""
        return bool(self._reasoning or self._content or self._calls)

    def snapshot(self) -> ChatCompletion:
        """What arrived so far, as a completion (``finish_reason`` None until finished)."""
        if self._whole is not None:
            return self._whole
        content = "".join(self._content)
        if self._filter is not None and self.finish_reason is None:
            content += self._filter.held  # received, not yet shown: part of the partial
        message: dict[str, Any] = {"role": self._role, "content": content}
        if self._reasoning:
            message["reasoning_content"] = "".join(self._reasoning)
        if self._calls:
            message["tool_calls"] = [
                {"id": c.id, "type": c.type, "function": {"name": c.name, "arguments": c.arguments}}
                for c in self.tool_calls
            ]
        body: dict[str, Any] = {
            "stopped_by_client": self.stopped,
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
