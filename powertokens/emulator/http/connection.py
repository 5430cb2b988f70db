"""One HTTP/1.1 connection: h11 for parsing and framing, asyncio streams for the bytes.

Requests are served one after another on a keep-alive connection. While a handler runs,
the socket is still read: end-of-file means the client went away, so the handler is
cancelled (a stream stops generating) and ``on_disconnect`` is told when the response
was a stream that had not finished. Bytes of a pipelined next request are kept for h11.
Responses without a Content-Length (the SSE streams) use chunked transfer encoding.

A connection that sends nothing for ``idle_timeout`` seconds while we wait for a request
is closed: with a ``408 Request Timeout`` when part of a request had arrived (a
"slowloris" client), silently when it was idle between keep-alive requests. CPU-heavy
work on a large body runs on a worker thread (:func:`off_loop`), so it does not hold up
other connections.
"""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import logging
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from email.utils import formatdate
from http import HTTPStatus
from typing import Any, TypeVar, cast

import h11

from powertokens.emulator.state import new_request_id

__all__ = [
    "OFF_LOOP_BYTES",
    "ClientGone",
    "Handler",
    "HttpConnection",
    "HttpRequest",
    "Responder",
    "off_loop",
    "release_memory",
]

_log = logging.getLogger(__name__)
_READ_SIZE = 65536
MAX_BODY = 64 * 1024 * 1024
_MAX_PIPELINED = 1024 * 1024
OFF_LOOP_BYTES = 64 * 1024
"""Bodies larger than this are decoded and answered on a worker thread."""
_T = TypeVar("_T")


async def off_loop(size: int, func: Callable[..., _T], *args: Any) -> _T:
    """``func(*args)`` on a worker thread when ``size`` (a body's bytes) is large, else here.

    Small requests stay on the loop (a thread hop costs more than their work); a large
    one's decoding, counting and answering would otherwise stall every other connection.
    """
    if size > OFF_LOOP_BYTES:
        return await asyncio.to_thread(func, *args)
    return func(*args)


_TRIM_BYTES = 1024 * 1024


def _load_malloc_trim() -> Callable[[int], int] | None:
    if not sys.platform.startswith("linux"):
        return None
    try:
        trim = ctypes.CDLL(None).malloc_trim  # glibc only (not musl)
    except (OSError, AttributeError):
        return None
    trim.argtypes = [ctypes.c_size_t]
    trim.restype = ctypes.c_int
    return cast("Callable[[int], int]", trim)


_malloc_trim = _load_malloc_trim()


def release_memory() -> None:
    """Give freed heap memory back to the system (glibc's ``malloc_trim``; elsewhere a no-op).

    Called after a body over 1 MiB: glibc keeps blocks of up to 32 MiB in its heaps once
    freed (one heap per worker thread), so without it eight 31 MB requests leave the
    process hundreds of MiB larger although nothing holds them.
    """
    if _malloc_trim is not None:
        _malloc_trim(0)


class _IdleTimeout(Exception):
    """The client sent nothing for ``idle_timeout`` seconds while a request was awaited."""


class ClientGone(Exception):
    """The client closed the connection while we were writing."""


@dataclass(frozen=True)
class HttpRequest:
    """A received request with its whole body."""

    method: str
    target: str
    headers: list[tuple[str, str]]
    """Lower-case names, in order."""
    body: bytes

    @property
    def path(self) -> str:
        """The target without its query string."""
        return self.target.split("?", 1)[0]

    def header(self, name: str) -> str | None:
        """The first value of header ``name`` (case-insensitive), or None."""
        name = name.lower()
        return next((v for k, v in self.headers if k == name), None)


def _reason(status: int) -> bytes:
    try:
        return HTTPStatus(status).phrase.encode()
    except ValueError:
        return b""


class Responder:
    """What a handler uses to answer: a whole body, or a stream of writes."""

    def __init__(self, conn: h11.Connection, writer: asyncio.StreamWriter) -> None:
        self._conn = conn
        self._writer = writer
        self.status: int | None = None
        self.stream_request = False
        """Set by the handler: a client leaving before :attr:`complete` is a disconnect."""
        self.complete = False
        self.cut = False
        self.on_status: Callable[[int], None] | None = None
        """Called with the status just before the headers go out."""

    async def _send(self, *events: h11.Event) -> None:
        """Frame ``events`` with h11 and write them in one go."""
        if self._writer.is_closing():
            raise ClientGone
        try:
            data = b"".join(self._conn.send(event) or b"" for event in events)
            if data:
                self._writer.write(data)
                await self._writer.drain()
        except (ConnectionError, OSError) as exc:
            raise ClientGone from exc

    def _head(self, status: int, headers: list[tuple[str, str]]) -> h11.Response:
        self.status = status
        if self.on_status is not None:
            self.on_status(status)
        headers = [*headers, ("Date", formatdate(usegmt=True))]
        return h11.Response(status_code=status, headers=headers, reason=_reason(status))

    async def start(self, status: int, headers: list[tuple[str, str]]) -> None:
        """Send the status line and headers (the body follows with :meth:`write`)."""
        await self._send(self._head(status, headers))

    async def write(self, data: bytes) -> None:
        """Send part of the body (one chunk when chunked)."""
        await self._send(h11.Data(data=data))

    async def end(self) -> None:
        """Finish the body."""
        await self._send(h11.EndOfMessage())
        self.complete = True

    async def send(self, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        """Send a whole response with a Content-Length, in one write."""
        head = self._head(status, [*headers, ("Content-Length", str(len(body)))])
        events: list[h11.Event] = [head, h11.Data(data=body)] if body else [head]
        await self._send(*events, h11.EndOfMessage())
        self.complete = True

    def cut_connection(self) -> None:
        """Close the connection now, without finishing the response (bytes sent so far flush)."""
        self.cut = True
        self._writer.close()


Handler = Callable[[HttpRequest, Responder], Awaitable[None]]


class HttpConnection:
    """Serve HTTP/1.1 requests on one accepted socket until it closes."""

    def __init__(
        self,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        handler: Handler,
        on_disconnect: Callable[[], None],
        idle_timeout: float | None = None,
    ) -> None:
        self._idle_timeout = idle_timeout
        self._reader = reader
        self._writer = writer
        self._handler = handler
        self._on_disconnect = on_disconnect
        self._conn = h11.Connection(h11.SERVER)

    async def run(self) -> None:
        """The request loop; always closes the socket at the end."""
        graceful = False
        try:
            while True:
                request = await self._next_request()
                if request is None:
                    graceful = True
                    return
                large = len(request.body) > _TRIM_BYTES
                keep = await self._respond(request)
                del request  # a large body is not kept while the connection idles
                if large:
                    release_memory()
                if not keep:
                    graceful = True
                    return
        except h11.RemoteProtocolError as exc:
            await self._bad_request(exc)
            graceful = True
        except _IdleTimeout:
            if self._conn.their_state is not h11.IDLE or self._conn.trailing_data[0]:
                await self._simple(408, b"Request timed out: the client sent nothing\n")
            graceful = True
        except (ConnectionError, OSError, ClientGone):
            pass
        finally:
            if graceful:
                self._writer.close()
            else:
                self._writer.transport.abort()

    async def _read(self) -> None:
        if self._conn.they_are_waiting_for_100_continue:
            go_on = h11.InformationalResponse(status_code=100, headers=[], reason=b"Continue")
            self._writer.write(self._conn.send(go_on) or b"")
        if self._idle_timeout is None:
            data = await self._reader.read(_READ_SIZE)
        else:
            try:
                data = await asyncio.wait_for(self._reader.read(_READ_SIZE), self._idle_timeout)
            except asyncio.TimeoutError:
                raise _IdleTimeout from None
        self._conn.receive_data(data)

    async def _next_request(self) -> HttpRequest | None:
        request: h11.Request | None = None
        body = bytearray()
        while True:
            event = self._conn.next_event()
            if event is h11.NEED_DATA:
                await self._read()
            elif isinstance(event, h11.Request):
                request = event
            elif isinstance(event, h11.Data):
                body += event.data
                if len(body) > MAX_BODY:
                    await self._too_large()
                    return None
            elif isinstance(event, h11.EndOfMessage) and request is not None:
                headers = [(k.decode("latin-1"), v.decode("latin-1")) for k, v in request.headers]
                return HttpRequest(
                    request.method.decode("ascii"),
                    request.target.decode("latin-1"),
                    headers,
                    bytes(body),
                )
            else:  # ConnectionClosed, PAUSED or an unexpected event: stop serving
                return None

    async def _simple(self, status: int, body: bytes) -> None:
        headers = [
            ("X-Oneapi-Request-Id", new_request_id()),
            ("Content-Type", "text/plain; charset=utf-8"),
            ("Content-Length", str(len(body))),
            ("Connection", "close"),
        ]
        with contextlib.suppress(h11.LocalProtocolError, ConnectionError, OSError):
            response = h11.Response(status_code=status, headers=headers, reason=_reason(status))
            self._writer.write(self._conn.send(response))
            self._writer.write(self._conn.send(h11.Data(data=body)))
            self._writer.write(self._conn.send(h11.EndOfMessage()))
            await self._writer.drain()

    async def _bad_request(self, exc: h11.RemoteProtocolError) -> None:
        if self._conn.our_state in (h11.IDLE, h11.SEND_RESPONSE):
            await self._simple(exc.error_status_hint, f"Bad request: {exc}\n".encode())

    async def _too_large(self) -> None:
        await self._simple(413, f"Request body larger than {MAX_BODY} bytes\n".encode())

    async def _respond(self, request: HttpRequest) -> bool:
        """Run the handler for ``request``; True when the connection can serve another."""
        out = Responder(self._conn, self._writer)
        task = asyncio.ensure_future(self._handler(request, out))
        try:
            gone = await self._watch(task)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
            out.on_status = None  # the handler's callback holds the request: no cycle
        if not gone and not task.cancelled():
            error = task.exception()
            if isinstance(error, ClientGone):
                gone = True
            elif error is not None:
                _log.error("emulator handler failed", exc_info=error)
                if out.status is None:
                    await self._simple(500, b"Internal emulator error\n")
                return False
        if gone:
            if out.stream_request and not out.complete and not out.cut:
                self._on_disconnect()
            return False
        if out.cut or not out.complete:
            return False
        if self._conn.our_state is h11.DONE and self._conn.their_state is h11.DONE:
            self._conn.start_next_cycle()
            return True
        return False

    async def _watch(self, task: asyncio.Future[None]) -> bool:
        """Wait for ``task``; True when the client closed the connection first."""
        pipelined = 0
        reading: asyncio.Future[bytes] | None = asyncio.ensure_future(self._reader.read(_READ_SIZE))
        try:
            while reading is not None:
                waiting: list[asyncio.Future[Any]] = [task, reading]
                done, _ = await asyncio.wait(waiting, return_when=asyncio.FIRST_COMPLETED)
                if reading in done:
                    try:
                        data = reading.result()
                    except (ConnectionError, OSError):
                        data = b""
                    reading = None
                    if not data and task not in done:
                        return True
                    if data:
                        # A pipelined next request: keep it for h11; stop reading past a limit.
                        self._conn.receive_data(data)
                        pipelined += len(data)
                        if pipelined < _MAX_PIPELINED:
                            reading = asyncio.ensure_future(self._reader.read(_READ_SIZE))
                if task in done:
                    return False
            await asyncio.wait({task})
            return False
        finally:
            if reading is not None and not reading.done():
                reading.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await reading
