"""Several stop sequences on an API that takes one (seed: "Only a single stop sequence
is currently supported").

The first sequence goes to the server; every sequence is enforced here, on whole
answers and on streams alike, so the output never contains text past any of them.
Shared by both framework adapters.
"""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["StopFilter", "cut_at_stop", "split_stop"]


def split_stop(stop: str | Sequence[str] | None) -> tuple[list[str] | None, list[str]]:
    """(what to send to the server, every sequence to enforce locally)."""
    if stop is None:
        return None, []
    sequences = [stop] if isinstance(stop, str) else [s for s in stop if s]
    if not sequences:
        return None, []
    return sequences[:1], sequences


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
    """Streamed text in, text safe to show out.

    A piece that might be the start of a stop sequence is held back until the next
    piece settles it; once a sequence is complete, everything after it is dropped
    and :attr:`stopped` turns true.
    """

    __slots__ = ("_held", "_longest", "_stops", "stopped")

    def __init__(self, stops: Sequence[str]) -> None:
        self._stops = [s for s in stops if s]
        self._longest = max((len(s) for s in self._stops), default=0)
        self._held = ""
        self.stopped = False

    @property
    def active(self) -> bool:
        return bool(self._stops)

    def feed(self, piece: str) -> str:
        """Return the part of ``held + piece`` that can no longer be a stop's start."""
        if self.stopped:
            return ""
        if not self._stops:
            return piece
        text = self._held + piece
        cut, found = cut_at_stop(text, self._stops)
        if found:
            self.stopped = True
            self._held = ""
            return cut
        keep = self._holdback(text)
        self._held = text[len(text) - keep :] if keep else ""
        return text[: len(text) - keep]

    def flush(self) -> str:
        """End of stream: release what was held back (it never became a stop)."""
        held, self._held = self._held, ""
        return "" if self.stopped else held

    def _holdback(self, text: str) -> int:
        """Length of the longest suffix of ``text`` that is a proper prefix of a stop."""
        limit = min(len(text), self._longest - 1)
        for size in range(limit, 0, -1):
            tail = text[-size:]
            if any(stop.startswith(tail) for stop in self._stops):
                return size
        return 0
