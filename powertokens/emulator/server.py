"""The :class:`Emulator` handle: an asyncio server on a daemon thread, plus its state.

``start()`` binds the listening socket in the calling thread, so the port is known and
connections queue in the kernel before it returns; the event loop thread then serves
them. ``stop()`` closes the listener, cancels every connection (stalled streams too) and
joins the thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import threading
from collections.abc import Callable, Iterable
from types import TracebackType

from .faults import Fault
from .http.connection import HttpConnection
from .http.routes import Router
from .state import LOG_BUDGET, EmulatorState, RecordedRequest

__all__ = ["IDLE_TIMEOUT", "Emulator"]

_BACKLOG = 4096
_JOIN_TIMEOUT = 10.0
IDLE_TIMEOUT = 30.0


class _Server:
    """Accepts connections and tracks them so they can all be closed."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state
        self._router = Router(state)
        self._tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.base_events.Server | None = None

    async def start(self, sock: socket.socket) -> None:
        self._server = await asyncio.start_server(self._accept, sock=sock, backlog=_BACKLOG)

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        sock = writer.get_extra_info("socket")
        if sock is not None:
            # asyncio skips TCP_NODELAY when the listening socket was made with proto 0;
            # without it, a small write after the headers waits ~40 ms for a delayed ACK.
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self._tasks.add(task)
        self._state.bump("open_connections")
        try:
            connection = HttpConnection(
                reader, writer, self._router, self._disconnected, self._state.idle_timeout
            )
            await connection.run()
        except asyncio.CancelledError:
            # stop() cancels connections. End the task normally: asyncio 3.10/3.11 log a
            # cancelled client_connected_cb task as an "unhandled exception".
            pass
        finally:
            self._tasks.discard(task)
            self._state.bump("open_connections", -1)

    def _disconnected(self) -> None:
        self._state.bump("disconnects")

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()


class Emulator:
    """A local PowerTokens service for tests, demos and CI (see the package docstring).

    Hardened for running unattended in CI, with bounded memory and no stalls:

    - **Memory bounded by size.** The request log (``requests``) keeps the last 10,000
      chat requests and at most ``log_budget`` bytes of their bodies (64 MiB by default,
      counted as received; ``log_bytes`` is the running total), dropping the oldest
      first. A body over a quarter of the budget is logged shortened: each string over
      1,024 characters keeps its start and ends in ``...[truncated N of M characters]``,
      and the record has ``truncated=True`` and ``body_size`` (bytes received). A body
      over 64 MiB is refused with 413. Nothing else keeps a body once it is answered, and
      after one over 1 MiB freed memory is handed back to the system (glibc's
      ``malloc_trim``), so eight 31 MB requests leave the process about as large as before.
    - **A large body does not block other connections.** Decoding, checking and answering
      a body over 64 KiB run on a worker thread, so a health check or another client is
      answered meanwhile.
    - **Idle timeout.** A connection that sends nothing for ``idle_timeout`` seconds
      (30 by default; None turns it off) while a request is awaited is closed: with a 408
      when part of a request had arrived (a slowloris client), silently when idle between
      keep-alive requests. A client waiting for a response is never timed out.
    - **Malformed bodies get the service's 400.** Invalid UTF-8 or JSON (``NaN`` too), a
      JSON value that is not an object, nesting deeper than 128 levels, more than 500,000
      objects and arrays, or an integer of more than 4,300 digits: gateway 400
      ``invalid_request`` (never a 500, which clients retry). A lone surrogate escape
      (``"\\ud800"``) becomes U+FFFD. Out-of-range fields (``"max_tokens": 1e400``) get
      ``1214`` like any bad value.
    - **Prompt size counted.** A prompt over the model's context window gets 400 ``1261``.
      Besides the model's own count (``usage.prompt_tokens``), the prompt is counted by size:
      at least one token per 12 characters, and one per started 8 characters of a run of
      more than 12 non-space characters, so a 50 MB one-word prompt is over every window.

    Raises ValueError for an ``idle_timeout`` that is not a positive number or None, or a
    negative ``log_budget``.
    """

    def __init__(
        self,
        host: str = "127.0.0.1",
        port: int = 0,
        api_keys: Iterable[str] | None = None,
        max_concurrency: int | None = None,
        tool_stream: bool = False,
        seed: int = 0,
        *,
        chunk_delay: float = 0.0,
        idle_timeout: float | None = IDLE_TIMEOUT,
        log_budget: int = LOG_BUDGET,
    ) -> None:
        if idle_timeout is not None and not idle_timeout > 0:
            raise ValueError(f"idle_timeout must be > 0 seconds or None, got {idle_timeout!r}")
        if log_budget < 0:
            raise ValueError(f"log_budget must be >= 0 bytes, got {log_budget!r}")
        self.host = host
        self._port = port
        self._state = EmulatorState(
            api_keys=api_keys,
            max_concurrency=max_concurrency,
            tool_stream=tool_stream,
            seed=seed,
            chunk_delay=chunk_delay,
            idle_timeout=idle_timeout,
            log_budget=log_budget,
        )
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None

    # lifecycle
    def start(self) -> Emulator:
        """Bind, start serving on a daemon thread, return self. Idempotent."""
        with self._lock:
            if self._thread is not None:
                return self
            sock = socket.create_server((self.host, self._port), backlog=_BACKLOG)
            sock.setblocking(False)
            self._port = sock.getsockname()[1]
            ready = threading.Event()
            failure: list[BaseException] = []
            thread = threading.Thread(
                target=self._run,
                args=(sock, ready, failure),
                name=f"powertokens-emulator-{self._port}",
                daemon=True,
            )
            thread.start()
            ready.wait()
            if failure:
                thread.join(_JOIN_TIMEOUT)
                sock.close()
                raise RuntimeError("the emulator failed to start") from failure[0]
            self._thread = thread
            return self

    def _run(
        self, sock: socket.socket, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self._serve(sock, ready, failure))
        finally:
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    async def _serve(
        self, sock: socket.socket, ready: threading.Event, failure: list[BaseException]
    ) -> None:
        server = _Server(self._state)
        try:
            await server.start(sock)
            self._stopping = asyncio.Event()
        except BaseException as exc:
            failure.append(exc)
            ready.set()
            return
        ready.set()
        await self._stopping.wait()
        await server.close()

    def stop(self) -> None:
        """Close the listener and every connection, join the thread. Idempotent."""
        with self._lock:
            thread, loop, stopping = self._thread, self._loop, self._stopping
            self._thread = None
            if thread is None or loop is None or stopping is None:
                return
            with contextlib.suppress(RuntimeError):  # the loop already closed
                loop.call_soon_threadsafe(stopping.set)
            thread.join(_JOIN_TIMEOUT)

    def __enter__(self) -> Emulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        running = "running" if self._thread is not None else "stopped"
        return f"<Emulator {self.url} {running}>"

    # addresses
    @property
    def port(self) -> int:
        """The bound port (after ``start()``; the requested one before)."""
        return self._port

    @property
    def url(self) -> str:
        """The base URL clients use, e.g. ``http://127.0.0.1:8787/v1``."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self._port}/v1"

    # scripting and inspection
    def push_fault(self, spec: str, times: int = 1) -> Fault:
        """Queue a fault for the next ``times`` chat requests (FIFO); raises on an unknown spec."""
        return self._state.push_fault(spec, times)

    @property
    def requests(self) -> list[RecordedRequest]:
        """The chat requests received since the last reset (a copy)."""
        return self._state.requests()

    @property
    def log_bytes(self) -> int:
        """Bytes the request log holds: bodies as received (shortened ones as kept), plus
        a little per record; at most about ``log_budget``."""
        return self._state.log_bytes()

    @property
    def request_count(self) -> int:
        """``POST /v1/chat/completions`` requests received, faulted and rejected ones too."""
        return self._state.counter("request_count")

    @property
    def disconnects(self) -> int:
        """Streams whose client went away before the stream finished."""
        return self._state.counter("disconnects")

    @property
    def open_connections(self) -> int:
        """TCP connections open right now."""
        return self._state.counter("open_connections")

    @property
    def in_flight(self) -> int:
        """Chat requests being answered right now (what ``max_concurrency`` limits)."""
        return self._state.counter("in_flight")

    def reset(self) -> None:
        """Clear the fault queue, the request log, the prompt cache and the counters."""
        self._state.reset()

    def wait_until(self, predicate: Callable[[Emulator], bool], timeout: float = 5.0) -> bool:
        """Block until ``predicate(emu)`` is true; False after ``timeout`` seconds.

        Woken by every change of the log and counters, so tests wait for the server
        (``emu.wait_until(lambda e: e.disconnects == 1)``) without sleeping. From async
        code run it in a thread (``asyncio.to_thread``).
        """
        return self._state.wait_until(lambda: predicate(self), timeout)
