"""The helpers behind the pytest fixtures; none of them imports pytest.

See :mod:`powertokens.testing` for the fixtures that hand them out, and ``docs/testing.md``.
"""

from __future__ import annotations

import asyncio
import inspect
import threading
from collections.abc import Awaitable, Callable, Iterator
from typing import Any, Generic, Protocol, TypeVar

from powertokens import RetryPolicy
from powertokens.emulator import Emulator, RecordedRequest

__all__ = [
    "FAST_RETRIES",
    "FAULT_HEADER",
    "TEST_API_KEY",
    "EmulatorLike",
    "EmulatorPool",
    "FaultScript",
    "ModelFactory",
    "RequestLog",
    "close_in_thread",
]

TEST_API_KEY = "pt-test-SENTINEL-key-5c1e8a7d20b9f364"
"""The key every fixture uses and the fixtures' emulators require: a dummy, not a secret,
distinctive so a test can assert it leaked nowhere (``assert TEST_API_KEY not in text``)."""

FAST_RETRIES = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.002)
"""The core clients' retry policy in the fixtures: the default count, waits of a
millisecond or two, so a scripted 429 or 500 costs no time."""

FAULT_HEADER = "X-PowerTokens-Fault"
"""The request header that scripts a fault for that one request."""

T = TypeVar("T")


class EmulatorLike(Protocol):
    """What the fixtures need of an emulator: an in-process :class:`Emulator`, or a
    :class:`~powertokens.testing.RemoteEmulator` driving one in another process."""

    @property
    def url(self) -> str: ...

    def push_fault(self, spec: str, times: int = 1) -> object: ...

    @property
    def requests(self) -> list[RecordedRequest]: ...

    @property
    def request_count(self) -> int: ...

    def reset(self) -> None: ...


class FaultScript:
    """Faults for the requests of one test (the ``pt_faults`` fixture).

    ``push`` queues a fault for the next chat request(s) the emulator receives;
    ``header`` gives the header form, which hits only the request that carries it::

        pt_faults.push("429:1302", times=2)      # the next two requests are rate limited
        client.chat(msgs, extra_headers=pt_faults.header("cut:3"))

    The queue is emptied before each test, so a fault a test did not use up never
    reaches the next one.
    """

    def __init__(self, emulator: EmulatorLike) -> None:
        self._emulator = emulator

    def push(self, spec: str, times: int = 1) -> None:
        """Queue ``spec`` for the next ``times`` chat requests; an unknown spec raises
        ``powertokens.emulator.FaultSpecError`` at once."""
        self._emulator.push_fault(spec, times)

    @staticmethod
    def header(spec: str) -> dict[str, str]:
        """``{"X-PowerTokens-Fault": spec}``: pass it as a request's extra headers."""
        return {FAULT_HEADER: spec}


class RequestLog:
    """The chat requests the emulator received during this test (the ``pt_requests``
    fixture); the ``Authorization`` header reads ``[REDACTED]``."""

    def __init__(self, emulator: EmulatorLike) -> None:
        self._emulator = emulator

    @property
    def all(self) -> list[RecordedRequest]:
        """Every chat request since the test started, oldest first."""
        return self._emulator.requests

    def __len__(self) -> int:
        return self._emulator.request_count

    def __iter__(self) -> Iterator[RecordedRequest]:
        return iter(self.all)

    def __getitem__(self, index: int) -> RecordedRequest:
        return self.all[index]

    @property
    def last(self) -> RecordedRequest:
        """The latest chat request; AssertionError when there was none."""
        received = self.all
        assert received, "the emulator received no chat request in this test"
        return received[-1]

    @property
    def last_json(self) -> Any:
        """The JSON body of the latest chat request (None when it was not JSON)."""
        return self.last.json

    @property
    def bodies(self) -> list[Any]:
        """The JSON bodies of every chat request, oldest first."""
        return [request.json for request in self.all]


def _frozen(value: Any) -> Any:
    if isinstance(value, (set, frozenset, list, tuple)):
        return frozenset(value)
    return value


class EmulatorPool:
    """Emulators shared by option set: ``get(**options)`` starts one on first use and
    returns the same one for the same options afterwards; ``close()`` stops them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._running: dict[tuple[tuple[str, Any], ...], Emulator] = {}

    def get(self, group: str | None = None, **options: Any) -> Emulator:
        """The running emulator for ``options`` (``Emulator``'s keyword arguments).

        ``group`` names a server of its own, shared only by the callers giving that name
        (for tests that count the server's connections, which other tests' idle
        keep-alive connections would add to)."""
        if "api_keys" in options and options["api_keys"] is not None:
            options["api_keys"] = frozenset(options["api_keys"])
        key = tuple(sorted((name, _frozen(value)) for name, value in options.items()))
        key += (("group", group),)
        with self._lock:
            emulator = self._running.get(key)
            if emulator is None:
                emulator = self._running[key] = Emulator(**options).start()
            return emulator

    def close(self) -> None:
        """Stop every emulator started here."""
        with self._lock:
            running, self._running = list(self._running.values()), {}
        for emulator in running:
            emulator.stop()


class ModelFactory(Generic[T]):
    """Builds framework models pointed at the emulator and closes them after the test.

    ``factory(**fields)`` is ``cls(api_key=..., base_url=..., **fields)``; ``built`` lists
    what it made (append your own models to have them closed too)."""

    def __init__(self, cls: Callable[..., T], **defaults: Any) -> None:
        self.cls = cls
        self.defaults = defaults
        self.built: list[T] = []

    def __call__(self, **fields: Any) -> T:
        model = self.cls(**{**self.defaults, **fields})
        self.built.append(model)
        return model

    def close(self) -> None:
        """Close the connections of every model built (sync now, async on a helper loop)."""
        built, self.built = self.built, []
        for model in built:
            close = getattr(model, "close", None)
            if callable(close):
                close()
            aclose = getattr(model, "aclose", None)
            if callable(aclose):
                close_in_thread(aclose)


def close_in_thread(close: Callable[[], Awaitable[Any]]) -> None:
    """Run an async ``close()`` to its end on a private event loop in a helper thread.

    A fixture's teardown runs outside the test's event loop; the clients' async close
    hands other loops' pools to their own loop, so a fresh loop is enough, and a thread
    keeps the caller's current event loop untouched."""
    failure: list[BaseException] = []

    def run() -> None:
        try:
            result = close()
            if inspect.isawaitable(result):
                asyncio.run(_wait(result))
        except BaseException as exc:  # reported in the caller's thread
            failure.append(exc)

    thread = threading.Thread(target=run, name="powertokens-testing-close")
    thread.start()
    thread.join()
    if failure:
        raise failure[0]


async def _wait(result: Awaitable[Any]) -> None:
    await result
