"""A small hostile HTTP server for tests: raw asyncio sockets on loopback, scripted bytes.

The emulator is faithful to the service; this one is not meant to be. Each request is
answered by the next script in the queue (the last one repeats), written step by step:

* ``bytes``: written as they are and flushed (one read on the client, usually);
* a ``float``: a pause in seconds, the server being slow on purpose (never used by a
  test to wait for something);
* :data:`CLOSE`: the connection is closed at once (nothing more is written).

A script ends by closing the connection unless it ends with :data:`KEEP`. Helpers build
the usual answers: :func:`response` (a whole HTTP answer), :func:`stream_head` and
:func:`chunk` (a chunked body written piece by piece), :func:`sse` (one event's bytes).

    with HostileServer() as server:
        server.script(response(200, b"[]"))
        client = PowerTokens(api_key="k", base_url=server.url, max_retries=0)
        ...
        assert len(server.requests) == 1
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any

__all__ = [
    "CLOSE",
    "KEEP",
    "HostileServer",
    "Received",
    "chunk",
    "json_response",
    "response",
    "sse",
    "sse_stream",
    "stream_head",
]


class _Marker:
    def __init__(self, name: str) -> None:
        self.name = name

    def __repr__(self) -> str:
        return self.name


CLOSE = _Marker("CLOSE")
KEEP = _Marker("KEEP")
Step = bytes | float | _Marker


@dataclass
class Received:
    """One request as the server read it."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


def response(
    status: int,
    body: bytes = b"",
    *,
    content_type: str = "application/json",
    headers: dict[str, str] | None = None,
) -> bytes:
    """A whole HTTP/1.1 answer with a Content-Length."""
    head = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", f"Content-Length: {len(body)}"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body


def json_response(status: int, value: Any, **kwargs: Any) -> bytes:
    return response(status, json.dumps(value).encode(), **kwargs)


def stream_head(
    status: int = 200,
    *,
    content_type: str = "text/event-stream",
    headers: dict[str, str] | None = None,
) -> bytes:
    """The head of a chunked answer; follow it with :func:`chunk` steps and ``chunk(b"")``."""
    head = [f"HTTP/1.1 {status} X", f"Content-Type: {content_type}", "Transfer-Encoding: chunked"]
    head += [f"{k}: {v}" for k, v in (headers or {}).items()]
    return ("\r\n".join(head) + "\r\n\r\n").encode("latin-1")


def chunk(data: bytes) -> bytes:
    """One chunk of a chunked body (``chunk(b"")`` ends the body)."""
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def sse(data: Any) -> bytes:
    """One ``data:`` event: a str or bytes as it is, anything else as JSON."""
    if isinstance(data, bytes):
        return b"data: " + data + b"\n\n"
    if isinstance(data, str):
        return f"data: {data}\n\n".encode()
    return b"data: " + json.dumps(data).encode() + b"\n\n"


def completion_chunk(
    content: str | None = None, finish: str | None = None, **delta: Any
) -> dict[str, Any]:
    """A chat.completion.chunk with one choice."""
    if content is not None:
        delta["content"] = content
    return {
        "id": "hostile-1",
        "object": "chat.completion.chunk",
        "created": 1,
        "model": "glm-4.7",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def completion(content: str = "ok", finish: str = "stop", **extra: Any) -> dict[str, Any]:
    """A whole chat.completion with one choice."""
    return {
        "id": "hostile-1",
        "object": "chat.completion",
        "created": 1,
        "model": "glm-4.7",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content},
                "finish_reason": finish,
            }
        ],
        "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
        **extra,
    }


def sse_stream(*events: Any, done: bool = True) -> list[Step]:
    """A whole streamed answer, one chunk per event, then ``[DONE]`` and the end."""
    steps: list[Step] = [stream_head()]
    steps += [chunk(sse(event)) for event in events]
    if done:
        steps.append(chunk(sse("[DONE]")))
    steps.append(chunk(b""))
    return steps


@dataclass
class _Queue:
    scripts: list[list[Step]] = field(default_factory=list)
    last: list[Step] | None = None

    def next(self) -> list[Step]:
        if self.scripts:
            self.last = self.scripts.pop(0)
        if self.last is None:
            return [response(500, b'{"error": {"message": "no script"}}')]
        return self.last


class HostileServer:
    """A loopback server in a background thread; see the module docstring."""

    def __init__(self) -> None:
        self.requests: list[Received] = []
        self.connections = 0
        self._queue = _Queue()
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._server: asyncio.base_events.Server | None = None
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(
            asyncio.start_server(self._serve, "127.0.0.1", 0), self._loop
        ).result(10)
        self.port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}/v1"

    def script(self, *scripts: Step | Iterable[Step]) -> None:
        """Queue answers: each argument is one answer (a step, or a list of steps)."""
        with self._lock:
            for s in scripts:
                steps = [s] if isinstance(s, (bytes, float, int, _Marker)) else list(s)
                self._queue.scripts.append(steps)  # type: ignore[arg-type]

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                received = await self._read_request(reader)
                if received is None:
                    return
                with self._lock:
                    self.requests.append(received)
                    steps = self._queue.next()
                keep = KEEP in steps
                if not keep:
                    steps = _closing(steps)
                for step in steps:
                    if step is CLOSE:
                        return
                    if step is KEEP:
                        keep = True
                    elif isinstance(step, (int, float)):
                        await asyncio.sleep(step)
                    else:
                        writer.write(step)
                        await writer.drain()
                if not keep:
                    return
        except (ConnectionError, asyncio.IncompleteReadError):
            return
        finally:
            writer.close()

    @staticmethod
    async def _read_request(reader: asyncio.StreamReader) -> Received | None:
        try:
            head = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, asyncio.LimitOverrunError):
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        length = int(headers.get("content-length", "0"))
        body = await reader.readexactly(length) if length else b""
        return Received(method, path, headers, body)

    def close(self) -> None:
        async def stop() -> None:
            if self._server is not None:
                self._server.close()
            for task in asyncio.all_tasks():
                if task is not asyncio.current_task():
                    task.cancel()

        asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()

    def __enter__(self) -> HostileServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _closing(steps: list[Step]) -> list[Step]:
    """The steps with ``Connection: close`` added to the answer's head, so that the client
    does not reuse the connection this server is about to close (a race it could lose)."""
    out = list(steps)
    for i, step in enumerate(out):
        if isinstance(step, bytes) and step.startswith(b"HTTP/1.1 ") and b"\r\n" in step:
            line, rest = step.split(b"\r\n", 1)
            if b"\nconnection:" not in step.lower():
                out[i] = line + b"\r\nConnection: close\r\n" + rest
            break
    return out


def hostile() -> Iterator[HostileServer]:
    """A fixture body: ``server = pytest.fixture(hostile)``."""
    with HostileServer() as server:
        yield server
