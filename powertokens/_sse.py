"""A sans-IO Server-Sent Events decoder: bytes in, events out.

Follows the WHATWG event-stream interpretation with the rules ``docs/wire.md`` insists on:

* lines end at CR, LF or CRLF only. ``str.splitlines()`` and ``httpx.iter_lines()``
  also split at U+2028, U+0085 and friends, which appear raw in model output;
* a CRLF may be split across two network reads;
* UTF-8 characters may be split across reads. Lines are cut at the byte level
  (0x0A and 0x0D never occur inside a multi-byte UTF-8 sequence) and decoded whole,
  so no incremental text decoder is needed;
* one UTF-8 byte order mark at the very start of the body is dropped (even when it
  is split across reads), as the standard says;
* comment lines (``: PING``) are ignored; ``data`` lines of one event are joined
  with LF; ``event``, ``id`` and ``retry`` are kept (a ``retry`` that is not a plain
  ASCII number of at most 18 digits is ignored, as the standard ignores non-digits);
* ``data: [DONE]`` ends the stream: that event is returned and nothing after it is
  decoded, in this read or a later one, so trailing bytes cannot fail a complete
  answer;
* memory and time are linear in the body: a line that spans many reads grows in one
  buffer, never re-copied, and no line, and no event's data, may exceed
  ``max_event_bytes`` (:data:`DEFAULT_MAX_EVENT_BYTES` unless set): past that the
  decoder raises :class:`~powertokens.StreamInterruptedError` (the events completed
  before are returned first, the error comes with the next call).

Why not httpx-sse: its line and event decoders are private and work on text that
an extra incremental UTF-8 decoder has to produce; cutting bytes is simpler and
does one less pass over every chunk.
"""

from __future__ import annotations

from typing import NamedTuple

from ._exceptions import StreamInterruptedError

__all__ = ["DEFAULT_MAX_EVENT_BYTES", "SSEDecoder", "ServerSentEvent"]

DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024
"""16 MiB. The service sends a few hundred bytes per event; the largest event it can
send is a whole answer in one chunk (a tool call sent whole): 128,000 output tokens,
at most about 4 MB of JSON even with every character escaped. 16 MiB leaves room
for that several times over, and still bounds what one stream can make the client hold."""


class ServerSentEvent(NamedTuple):
    """One dispatched event (a tuple: cheap to build, one per chunk)."""

    data: str
    event: str = "message"
    id: str | None = None
    retry: int | None = None


_event = ServerSentEvent._make  # no keyword handling: the per-event constructor

_BOM = b"\xef\xbb\xbf"

# What to do before the next read (0: nothing, the common case).
_START = 1  # the body's first bytes: drop a byte order mark
_SKIP_LF = 2  # the previous read ended in CR: a leading LF completes a CRLF
_ENDED = 3  # [DONE] arrived: nothing more is decoded
_FAILED = 4  # an event was too large: raise it


class SSEDecoder:
    """Feed it the bytes of a response as they arrive; it returns complete events.

    One decoder per response (a retried request gets a fresh one).
    ``max_event_bytes`` bounds one line and one event's data, in bytes.
    """

    __slots__ = (
        "_data",
        "_error",
        "_event",
        "_head",
        "_id",
        "_limit",
        "_pending",
        "_retry",
        "_size",
        "_state",
    )

    def __init__(self, max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES) -> None:
        self._limit = max_event_bytes
        self._state = _START
        self._head = b""  # the first bytes, while they may be the start of a BOM
        self._error: StreamInterruptedError | None = None
        self._pending: bytes | bytearray = b""  # the last, unterminated line
        self._data: list[bytes | bytearray] | None = None  # the event's data lines
        self._size = 0  # bytes of data held, once an event has several data lines
        self._event = ""
        self._id: str | None = None
        self._retry: int | None = None

    @property
    def ended(self) -> bool:
        """Whether ``data: [DONE]`` arrived (everything after it is ignored)."""
        return self._state == _ENDED

    def feed(self, chunk: bytes) -> list[ServerSentEvent]:
        """Decode one read; returns the events it completed (often none or one)."""
        if not chunk:
            return []
        if self._state:
            chunk = self._settle(chunk)
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
            and len(chunk) <= self._limit  # (a line of limit + 1 bytes: the loop decides)
        ):
            # The commonest read of all: exactly one single-line event (servers flush
            # after each one). One event, none of the line splitting below.
            text = chunk[6:-2].decode("utf-8", errors="replace")
            if text == "[DONE]":
                self._state = _ENDED
            return [_event((text, "message", self._id, None))]
        if b"\r" in chunk:
            # A CR at the very end may be the first half of a CRLF.
            if chunk[-1:] == b"\r":
                self._state = _SKIP_LF
            chunk = chunk.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
        lines: list[bytes | bytearray] = chunk.split(b"\n")  # type: ignore[assignment]
        last = lines.pop()
        pending = self._pending
        if pending:
            if not lines:
                # The line goes on: it grows in place, never re-copied (linear time).
                if type(pending) is bytes:
                    pending = self._pending = bytearray(pending)
                pending += last
                if len(pending) > self._limit:
                    return self._too_large(len(pending), [])
                return []
            lines[0] = pending + lines[0]
        self._pending = last
        over = 0
        if len(chunk) + len(pending) > self._limit:
            # A line this long may be over the limit: decode up to the first that is.
            limit = self._limit
            at = next((i for i, line in enumerate(lines) if len(line) > limit), -1)
            if at != -1 or len(last) > limit:
                over = len(lines[at]) if at != -1 else len(last)
                lines = lines[:at] if at != -1 else lines
                self._pending = b""
        events: list[ServerSentEvent] = []
        for line in lines:
            if not line:
                data = self._data
                if data is not None and len(data) == 1 and not self._event and self._retry is None:
                    # the common case, inlined: one data line, no event/retry field
                    self._data = None
                    text = data[0].decode("utf-8", errors="replace")
                    events.append(_event((text, "message", self._id, None)))
                    if text == "[DONE]":
                        return self._end(events)
                    continue
                event = self._dispatch()
                if event is not None:
                    events.append(event)
                    if event.data == "[DONE]":
                        return self._end(events)
            elif line.startswith(b"data: ") and self._data is None:
                # the common case, inlined: one data line per event
                self._data = [line[6:]]
            elif not self._line(line):
                return self._too_large(self._size, events)
        if over:
            return self._too_large(over, events)
        return events

    def flush(self) -> list[ServerSentEvent]:
        """End of the body: process the unterminated last line and any pending event.

        The standard drops an event that lacks its closing blank line; we dispatch
        it, since what we receive is treated leniently (``docs/wire.md``) and a broken
        payload fails JSON decoding downstream anyway.
        """
        events: list[ServerSentEvent] = []
        state = self._state
        if state:
            if state == _ENDED:
                return events
            if state == _FAILED and self._error is not None:
                raise self._error
            self._state = 0
            if state == _START and self._head:  # a body of a BOM's first byte or two
                self._pending, self._head = self._head, b""
        if self._pending:
            line, self._pending = self._pending, b""
            if not self._line(line):
                return self._too_large(self._size, events)
        event = self._dispatch()
        if event is not None:
            events.append(event)
        return events

    def _settle(self, chunk: bytes) -> bytes:
        """What is left of ``chunk`` to decode, in a state other than the usual one."""
        state = self._state
        if state == _SKIP_LF:
            self._state = 0
            return chunk[1:] if chunk[:1] == b"\n" else chunk
        if state == _START:
            head = self._head + chunk if self._head else chunk
            if len(head) < 3 and _BOM.startswith(head):
                self._head = head  # perhaps a BOM split across reads: wait for more
                return b""
            self._state = 0
            self._head = b""
            return head[3:] if head.startswith(_BOM) else head
        if state == _FAILED and self._error is not None:
            raise self._error
        return b""  # [DONE] arrived: the rest of the body is not decoded

    def _line(self, raw: bytes | bytearray) -> bool:
        """One line other than the common ones; False when the event grew too large."""
        if raw.startswith(b"data: "):
            value = raw[6:]
        elif raw[:1] == b":":
            return True  # a comment, e.g. the gateway's ": PING" keep-alive
        else:
            name, colon, value = raw.partition(b":")
            if colon and value[:1] == b" ":
                value = value[1:]
            if name != b"data":
                self._field(name, value)
                return True
        data = self._data
        if data is None:
            self._data = [value]
            return True
        size = (self._size if len(data) > 1 else len(data[0])) + 1 + len(value)
        self._size = size
        if size > self._limit:
            return False
        data.append(value)
        return True

    def _field(self, name: bytes | bytearray, value: bytes | bytearray) -> None:
        if name == b"event":
            self._event = value.decode("utf-8", errors="replace")
        elif name == b"id":
            if b"\0" not in value:
                self._id = value.decode("utf-8", errors="replace")
        elif name == b"retry" and value.isdigit() and len(value) <= 18:
            self._retry = int(value)  # bytes.isdigit(): ASCII digits only

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
        raw = data[0] if len(data) == 1 else b"\n".join(data)
        return ServerSentEvent(raw.decode("utf-8", errors="replace"), event, self._id, retry)

    def _end(self, events: list[ServerSentEvent]) -> list[ServerSentEvent]:
        """``[DONE]`` arrived: drop whatever else is held; later reads are ignored."""
        self._state = _ENDED
        self._pending = b""
        self._data = None
        return events

    def _too_large(self, size: int, events: list[ServerSentEvent]) -> list[ServerSentEvent]:
        """A line or an event's data is over the limit: the stream is broken. Raises
        now, or, when events completed before it in this read, returns them and the
        next call raises (raising now would lose them)."""
        error = StreamInterruptedError(
            f"a stream event exceeded max_event_bytes={self._limit}: {size} bytes of one "
            "line or event received (set max_event_bytes on the client to allow more)"
        )
        self._state = _FAILED
        self._error = error
        self._pending = b""
        self._data = None
        if events:
            return events
        raise error
