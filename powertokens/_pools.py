"""Connection pools and the concurrency limit: the resources a client owns.

Each client owns its pools (unless you inject an ``httpx`` client, which stays yours):

* :class:`SyncPool`: one ``httpx.Client``, made on first use;
* :class:`AsyncPools`: one ``httpx.AsyncClient`` per running event loop. An async
  pool's connections belong to the loop that opened them, so ``asyncio.run`` twice, a
  test runner's loop per test, or two threads each running a loop, each get their own.
  A pool is closed when its loop shuts down (``asyncio.run`` and other runners call
  ``loop.shutdown_asyncgens()``; a guard async generator registered with the loop
  closes the pool then), so a finished loop leaves no sockets behind, garbage
  collector or not;
* :class:`ConcurrencyLimit`: at most N requests in flight across threads and event
  loops (a slot is handed straight to the next waiter, on its own loop), with a
  timeout on the wait.

Pools are re-made on the next use after :meth:`close`: closing means "release every
connection now", so a closed client (or a framework model that closed it) keeps working.
When the last client sharing a pool is garbage, the pool is closed at once
(``weakref.finalize``): httpx clients sit in reference cycles and would otherwise keep
their sockets open until a cyclic collection.
"""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import threading
import weakref
from collections import deque
from collections.abc import AsyncGenerator
from typing import Any

import httpx

from ._exceptions import RequestValidationError

__all__ = ["AsyncPools", "ConcurrencyLimit", "SyncPool", "shared_ssl_context"]

# At most 20 idle connections kept: enough for sequential calls and moderate concurrency to
# skip a TLS handshake, while httpcore 1.0.9's pool, which polls every idle socket and
# re-counts its connections for each idle one on every request and release
# (encode/httpcore#1035), stays cheap after a burst of a thousand streams.
DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=20)

_ssl_lock = threading.Lock()
_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every pool we make: loading the CA bundle costs ~60 ms."""
    global _ssl_context
    if _ssl_context is None:
        with _ssl_lock:
            if _ssl_context is None:
                _ssl_context = httpx.create_ssl_context()
    return _ssl_context


# --- the concurrency limit -----------------------------------------------------------


class _Waiter:
    __slots__ = ("event", "future", "granted", "loop")

    def __init__(
        self,
        event: threading.Event | None = None,
        loop: asyncio.AbstractEventLoop | None = None,
        future: asyncio.Future[None] | None = None,
    ) -> None:
        self.event = event
        self.loop = loop
        self.future = future
        self.granted = False

    def wake(self) -> bool:
        """Hand this waiter a slot (called with the limit's lock held)."""
        if self.event is not None:
            self.granted = True
            self.event.set()
            return True
        assert self.loop is not None
        assert self.future is not None
        try:
            self.loop.call_soon_threadsafe(_resolve, self.future)
        except RuntimeError:  # its loop is closed: the waiter is gone
            return False
        self.granted = True
        return True


def _resolve(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class ConcurrencyLimit:
    """At most ``slots`` requests in flight, shared by threads and event loops.

    A client made with ``max_concurrent_requests=N`` makes one; pass the same
    instance to several clients (sync and async alike) to share one limit. Waiters
    are served first come, first served; a wait longer than the client's pool timeout
    raises :class:`~powertokens.PoolTimeoutError`.
    """

    __slots__ = ("__weakref__", "_free", "_lock", "_waiters", "slots")

    def __init__(self, slots: int) -> None:
        if isinstance(slots, bool) or not isinstance(slots, int) or slots < 1:
            raise RequestValidationError(
                "max_concurrent_requests", "must be an integer >= 1 or None", slots
            )
        self.slots = slots
        self._free = slots
        self._lock = threading.Lock()
        self._waiters: deque[_Waiter] = deque()

    def __repr__(self) -> str:
        return f"ConcurrencyLimit(slots={self.slots}, in_use={self.in_use})"

    @property
    def in_use(self) -> int:
        """Slots taken right now."""
        return self.slots - self._free

    def acquire(self, timeout: float | None) -> bool:
        """Take a slot, waiting up to ``timeout`` seconds; False when none came free."""
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            waiter = _Waiter(event=threading.Event())
            self._waiters.append(waiter)
        if waiter.event.wait(timeout):  # type: ignore[union-attr]
            return True
        with self._lock:
            if waiter.granted:  # handed over just as the wait ended
                return True
            self._waiters.remove(waiter)
        return False

    async def acquire_async(self, timeout: float | None) -> bool:
        """:meth:`acquire` for a coroutine: waits without blocking its event loop."""
        with self._lock:
            if self._free and not self._waiters:
                self._free -= 1
                return True
            loop = asyncio.get_running_loop()
            future: asyncio.Future[None] = loop.create_future()
            waiter = _Waiter(loop=loop, future=future)
            self._waiters.append(waiter)
        try:
            await asyncio.wait_for(future, timeout)
        except BaseException as exc:
            with self._lock:
                granted = waiter.granted
                if not granted:
                    self._waiters.remove(waiter)
            if granted:
                if isinstance(exc, asyncio.TimeoutError):
                    return True  # the slot arrived with the deadline: take it
                self.release()  # cancelled after the hand-over: pass the slot on
            if isinstance(exc, asyncio.TimeoutError):
                return False
            raise
        return True

    def release(self) -> None:
        """Give a slot back: to the longest waiter, else to the pool of free slots."""
        with self._lock:
            while self._waiters:
                if self._waiters.popleft().wake():
                    return
            self._free += 1


class _NoLimit:
    """The limit of a client without ``max_concurrent_requests``: nothing to wait for."""

    __slots__ = ()
    slots = None

    def acquire(self, timeout: float | None) -> bool:
        return True

    async def acquire_async(self, timeout: float | None) -> bool:
        return True

    def release(self) -> None:
        pass


NO_LIMIT = _NoLimit()


def make_limit(value: int | ConcurrencyLimit | _NoLimit | None) -> ConcurrencyLimit | _NoLimit:
    if value is None:
        return NO_LIMIT
    if isinstance(value, (ConcurrencyLimit, _NoLimit)):
        return value
    return ConcurrencyLimit(value)


# --- pools ---------------------------------------------------------------------------


def _new_sync() -> httpx.Client:
    return httpx.Client(limits=DEFAULT_LIMITS, verify=shared_ssl_context())


def _new_async() -> httpx.AsyncClient:
    return httpx.AsyncClient(limits=DEFAULT_LIMITS, verify=shared_ssl_context())


class _Owned:
    """The pools themselves, apart from their owner, so that a finalizer may hold them."""

    __slots__ = ("asyncs", "sync")

    def __init__(self) -> None:
        self.sync: httpx.Client | None = None
        self.asyncs: dict[asyncio.AbstractEventLoop, _LoopPool] = {}


def _close_sync_at_exit(owned: _Owned) -> None:
    http, owned.sync = owned.sync, None
    if http is not None:
        http.close()


class SyncPool:
    """The connection pool of a sync client: made on first use, closed by :meth:`close`
    or when the last client using it is garbage. An injected client is never closed."""

    __slots__ = ("__weakref__", "_injected", "_lock", "_owned")

    def __init__(self, injected: httpx.Client | None = None) -> None:
        self._injected = injected
        self._owned = _Owned()
        self._lock = threading.Lock()
        if injected is None:
            weakref.finalize(self, _close_sync_at_exit, self._owned)

    def get(self) -> httpx.Client:
        http = self._injected or self._owned.sync
        if http is None:
            with self._lock:
                http = self._owned.sync
                if http is None:
                    http = self._owned.sync = _new_sync()
        return http

    def close(self) -> None:
        if self._injected is None:
            _close_sync_at_exit(self._owned)


class _LoopPool:
    __slots__ = ("guard", "http", "open")

    def __init__(self, http: httpx.AsyncClient) -> None:
        self.http = http
        self.open = True
        self.guard: AsyncGenerator[None, None] | None = None


async def _close_with_loop(
    owned: _Owned, loop: Any, entry: _LoopPool
) -> AsyncGenerator[None, None]:
    """Parked on its loop until ``shutdown_asyncgens()``, then closes the loop's pool."""
    try:
        yield
    finally:
        if owned.asyncs.get(loop) is entry:
            del owned.asyncs[loop]
        if entry.open:
            entry.open = False
            await entry.http.aclose()


def _finish(entry: _LoopPool) -> None:
    """End a guard without its loop (its pool is already closed or handed off)."""
    entry.open = False
    guard, entry.guard = entry.guard, None
    if guard is None:
        return
    step = guard.aclose()
    try:
        step.send(None)
    except StopIteration:
        pass
    except RuntimeError:  # it was already running its finally on its own loop
        step.close()


def _drop_async_at_exit(owned: _Owned) -> None:
    # Garbage or interpreter exit: pools of loops still alive are closed on their own
    # loop; those of finished loops were closed by their guard already.
    for loop, entry in list(owned.asyncs.items()):
        _handoff(loop, entry)
    owned.asyncs.clear()


def _handoff(loop: asyncio.AbstractEventLoop, entry: _LoopPool) -> None:
    """Close ``entry``'s pool on its own loop (from any thread), or drop it with a
    finished loop; never waits."""
    if entry.open and not loop.is_closed():
        with contextlib.suppress(RuntimeError):  # closed meanwhile
            asyncio.run_coroutine_threadsafe(entry.http.aclose(), loop)
    _finish(entry)


class AsyncPools:
    """The connection pools of an async client, one per event loop (see the module
    docstring). An injected ``httpx.AsyncClient`` is used on every loop and never closed."""

    __slots__ = ("__weakref__", "_injected", "_last", "_lock", "_owned")

    def __init__(self, injected: httpx.AsyncClient | None = None) -> None:
        self._injected = injected
        self._owned = _Owned()
        self._lock = threading.Lock()
        self._last: tuple[Any, _LoopPool] | None = None  # (loop, its pool): the fast path
        if injected is None:
            weakref.finalize(self, _drop_async_at_exit, self._owned)

    def get(self) -> httpx.AsyncClient:
        """The pool of the running loop (call from a coroutine)."""
        if self._injected is not None:
            return self._injected
        loop = asyncio.get_running_loop()
        last = self._last
        if last is not None and last[0] is loop and last[1].open:
            return last[1].http
        with self._lock:
            pools = self._owned.asyncs
            entry = pools.get(loop)
            if entry is None or not entry.open:
                for other, stale in list(pools.items()):
                    if other.is_closed():  # closed without shutdown_asyncgens()
                        del pools[other]
                        _finish(stale)  # nothing can run on it: its sockets go with GC
                entry = pools[loop] = _LoopPool(_new_async())
                guard = _close_with_loop(self._owned, loop, entry)
                try:
                    guard.__anext__().send(None)  # registers it with the loop: parked
                except StopIteration:
                    entry.guard = guard
            self._last = (loop, entry)
        return entry.http

    async def aclose(self) -> None:
        """Close every pool: the running loop's now, others on their own loops."""
        if self._injected is not None:
            return
        current = asyncio.get_running_loop()
        with self._lock:
            entries = list(self._owned.asyncs.items())
            self._owned.asyncs.clear()
            self._last = None
        for loop, entry in entries:
            if loop is current:
                was_open, entry.open = entry.open, False
                _finish(entry)
                if was_open:
                    await entry.http.aclose()
            else:
                _handoff(loop, entry)
