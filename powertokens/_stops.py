"""Stop sequences enforced on our side.

The service takes one stop sequence; the client sends the first and enforces all of
them (``docs/wire.md``, "What the core adds"): a whole answer is cut at the earliest match
(:func:`apply_stops`), a stream's content goes through a :class:`StopFilter` that holds
back text which may be the start of a stop until the next piece settles it.
"""

from __future__ import annotations

from collections.abc import Sequence

from ._models import ChatCompletion

__all__ = ["StopFilter", "apply_stops", "cut_at_stop"]


def cut_at_stop(text: str, stops: Sequence[str]) -> tuple[str, bool]:
    """``text`` cut before the earliest stop sequence, and whether one was found."""
    best = -1
    for stop in stops:
        at = text.find(stop)
        if at != -1 and (best == -1 or at < best):
            best = at
    if best == -1:
        return text, False
    return text[:best], True


class StopFilter:
    """Streamed text in, text safe to show out (see the module docstring)."""

    __slots__ = ("_held", "_longest", "_stops", "stopped")

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [s for s in stops if s]
        self._longest = max((len(s) for s in self._stops), default=0)
        self._held = ""
        self.stopped = False

    def feed(self, piece: str) -> str:
        """The part of ``held + piece`` that can no longer be the start of a stop."""
        if self.stopped:
            return ""
        text = self._held + piece
        cut, found = cut_at_stop(text, self._stops)
        keep = self._holdback(text)
        if found and len(text) - keep >= len(cut):
            # No longer stop can still complete before this one: the answer ends here.
            self.stopped = True
            self._held = ""
            return cut
        # Held back: the start of a stop, or (with a match found) a longer stop that
        # begins earlier and may yet complete; the next piece or flush() settles it.
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """End of the answer: release what was held back, cut at a stop it holds (then
        :attr:`stopped` turns true)."""
        held, self._held = self._held, ""
        if self.stopped or not held:
            return ""
        cut, found = cut_at_stop(held, self._stops)
        self.stopped = found
        return cut

    @property
    def held(self) -> str:
        """Text held back, cut at a stop it already holds (a partial answer's end)."""
        return cut_at_stop(self._held, self._stops)[0]

    def _holdback(self, text: str) -> int:
        """Length of the longest suffix of ``text`` that is a proper prefix of a stop."""
        limit = min(len(text), self._longest - 1)
        for size in range(limit, 0, -1):
            tail = text[-size:]
            if any(stop.startswith(tail) for stop in self._stops):
                return size
        return 0


def apply_stops(
    completion: ChatCompletion, stops: Sequence[str], single_tool_call: bool = False
) -> ChatCompletion:
    """A whole answer cut at the earliest stop sequence: the server would have ended
    there, so nothing after it is kept (tool calls included), it finished by "stop" and
    ``stopped_by_client`` is set. ``single_tool_call`` keeps only the first tool call."""
    if not completion.choices:
        return completion
    message = completion.choices[0].message
    if single_tool_call and message.tool_calls and len(message.tool_calls) > 1:
        message.tool_calls = message.tool_calls[:1]
    if not stops:
        return completion
    text, hit = cut_at_stop(message.content or "", stops)
    if hit:
        message.content = text
        message.tool_calls = None
        completion.choices[0].finish_reason = "stop"
        completion.stopped_by_client = True
    return completion
