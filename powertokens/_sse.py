"""A sans-IO Server-Sent Events decoder: bytes in, events out.

Follows the WHATWG event-stream interpretation with the rules WIRE.md insists on:

* lines end at CR, LF or CRLF only. ``str.splitlines()`` and ``httpx.iter_lines()``
  also split at U+2028, U+0085 and friends, which appear raw in model output;
* a CRLF may be split across two network reads;
* UTF-8 characters may be split across reads. Lines are cut at the byte level
  (0x0A and 0x0D never occur inside a multi-byte UTF-8 sequence) and decoded whole,
  so no incremental text decoder is needed;
* comment lines (``: PING``) are ignored; ``data`` lines of one event are joined
  with LF; ``event``, ``id`` and ``retry`` are kept.

Why not httpx-sse: its line and event decoders are private and work on text that
an extra incremental UTF-8 decoder has to produce; cutting bytes is simpler and
does one less pass over every chunk.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["SSEDecoder", "ServerSentEvent"]


class ServerSentEvent(NamedTuple):
    """One dispatched event (a tuple: cheap to build, one per chunk)."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


_event = ServerSentEvent._make  # no keyword handling: the per-event constructor


class SSEDecoder:
    """Feed it the bytes of a response as they arrive; it returns complete events.

    One decoder per response (a retried request gets a fresh one).
    """

    __slots__ = ("_data", "_event", "_id", "_pending", "_retry", "_skip_lf")

    def __init__(self) -> None:
        self._pending = b""  # the last, unterminated line
        self._skip_lf = False  # the previous read ended in CR: a leading LF completes a CRLF
        self._data: list[str] | None = None
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode one read; returns the events it completed (often none or one)."""
        if not chunk:
            return []
        if self._skip_lf:
            self._skip_lf = False
            if chunk[:1] == b"\n":
                chunk = chunk[1:]
                if not chunk:
                    return []
        if (
            chunk[-2:] == b"\n\n"
            and chunk.startswith(b"data: ")
            and chunk.find(b"\n") == len(chunk) - 2
            and not self._pending
            and self._data is None
            and not self._event
            and self._retry is None
            and b"\r" not in chunk
        ):
            # The commonest read of all: exactly one single-line event (servers flush
            # after each one). One event, none of the line splitting below.
            return [
                _event((chunk[6:-2].decode("utf-8", errors="replace"), "message", self._id, None))
            ]
        if b"\r" in chunk:
            # A CR at the very end may be the first half of a CRLF.
            self._skip_lf = chunk[-1:] == b"\r"
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines = chunk.split(b"\n")
        if self._pending:
            lines[0] = self._pending + lines[0]
        self._pending = lines.pop()
        events: list[ServerSentEvent] = []
        for line in lines:
            if not line:
                data = self._data
                if data is not None and len(data) == 1 and not self._event and self._retry is None:
                    # the common case, inlined: one data line, no event/retry field
                    self._data = None
                    events.append(_event((data[0], "message", self._id, None)))
                    continue
                event = self._dispatch()
                if event is not None:
                    events.append(event)
            elif line.startswith(b"data: ") and self._data is None:
                # the common case, inlined: one data line per event
                self._data = [line[6:].decode("utf-8", errors="replace")]
            else:
                self._line(line)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of the body: process the unterminated last line and any pending event.

        The standard drops an event that lacks its closing blank line; we dispatch
        it, since what we receive is treated leniently (WIRE.md) and a broken
        payload fails JSON decoding downstream anyway.
        """
        events: list[ServerSentEvent] = []
        if self._pending:
            line, self._pending = self._pending, b""
            event = self._line(line)
            if event is not None:
                events.append(event)
        event = self._line(b"")
        if event is not None:
            events.append(event)
        return events

    def _line(self, raw: bytes) -> ServerSentEvent | None:
        if not raw:
            return self._dispatch()
        if raw.startswith(b"data: "):  # the common case, first
            value = raw[6:].decode("utf-8", errors="replace")
            if self._data is None:
                self._data = [value]
            else:
                self._data.append(value)
            return None
        if raw[:1] == b":":
            return None  # a comment, e.g. the gateway's ": PING" keep-alive
        line = raw.decode("utf-8", errors="replace")
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            if self._data is None:
                self._data = [value]
            else:
                self._data.append(value)
        elif name == "event":
            self._event = value
        elif name == "id":
            if "\0" not in value:
                self._id = value
        elif name == "retry" and value.isdigit():
            self._retry = int(value)
        return None

    def _dispatch(self) -> ServerSentEvent | None:
        data = self._data
        if data is None:
            self._event = ""
            self._retry = None
            return None
        self._data = None
        if self._event or self._retry is not None:
            event, self._event = self._event or "message", ""
            retry, self._retry = self._retry, None
        else:
            event, retry = "message", None
        text = data[0] if len(data) == 1 else "\n".join(data)
        return ServerSentEvent(text, event, self._id, retry)
