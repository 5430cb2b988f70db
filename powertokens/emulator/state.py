"""Shared, thread-safe emulator state: settings, the fault queue, the request log, counters.

The event loop thread writes it; the test thread reads it and pushes faults, so every
access holds one lock.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

from .cache import PromptCache
from .faults import Fault, parse_fault

__all__ = ["REDACTED", "EmulatorState", "RecordedRequest", "new_request_id"]

REDACTED = "[REDACTED]"
_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})
_LOG_LIMIT = 10_000
_ids = itertools.count(1)


def new_request_id() -> str:
    """A gateway-style request id: local time (14 digits) and 8 digits of a counter."""
    return time.strftime("%Y%m%d%H%M%S") + f"{next(_ids) % 100_000_000:08d}"


@dataclass
class RecordedRequest:
    """One received chat request. Also readable like a dict: ``record["json"]``."""

    method: str
    path: str
    headers: dict[str, str]
    """Lower-case names; secrets (``Authorization`` ...) replaced by ``[REDACTED]``."""
    json: Any
    """The decoded body, or None when it was not JSON."""
    request_id: str = ""
    fault: str | None = None
    """The fault spec applied to this request, if any."""
    status: int | None = None
    """The response status, once sent (None when the connection was cut first)."""
    stream: bool = False

    def __getitem__(self, key: str) -> Any:
        if key not in {f.name for f in fields(self)}:
            raise KeyError(key)
        return getattr(self, key)

    def get(self, key: str, default: Any = None) -> Any:
        """Dict-style access with a default."""
        try:
            return self[key]
        except KeyError:
            return default

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready copy."""
        return asdict(self)

    @staticmethod
    def redact(headers: Iterable[tuple[str, str]]) -> dict[str, str]:
        """Header dict with secret values replaced."""
        return {k: (REDACTED if k in _SECRET_HEADERS else v) for k, v in headers}


@dataclass
class _Counters:
    request_count: int = 0
    disconnects: int = 0
    open_connections: int = 0
    in_flight: int = 0


class EmulatorState:
    """Settings and mutable state shared by the server and the :class:`Emulator` handle."""

    def __init__(
        self,
        *,
        api_keys: Iterable[str] | None = None,
        max_concurrency: int | None = None,
        tool_stream: bool = False,
        seed: int = 0,
        chunk_delay: float = 0.0,
    ) -> None:
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.max_concurrency = max_concurrency
        self.tool_stream = tool_stream
        self.seed = seed
        self.chunk_delay = chunk_delay
        self.cache = PromptCache()
        # Re-entrant, so wait_until's predicate can read counters while the lock is held.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._faults: deque[Fault] = deque()
        self._log: deque[RecordedRequest] = deque(maxlen=_LOG_LIMIT)
        self._counters = _Counters()

    # faults
    def push_fault(self, spec: str, times: int = 1) -> Fault:
        """Queue ``spec`` for the next ``times`` chat requests; raises FaultSpecError."""
        fault = parse_fault(spec)
        if times < 1:
            raise ValueError(f"times must be >= 1, got {times}")
        with self._lock:
            self._faults.extend([fault] * times)
        return fault

    def pop_fault(self, model: object = None) -> Fault | None:
        """Take the next queued fault for a request for ``model``, if any: a fault
        limited to another model (``model=<name>``) stays queued for that one."""
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.applies_to(model):
                    del self._faults[index]
                    return fault
            return None

    # log
    def record(self, request: RecordedRequest) -> None:
        """Log a chat request and count it."""
        with self._lock:
            self._log.append(request)
            self._counters.request_count += 1
            self._changed.notify_all()

    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, oldest first (the last 10,000)."""
        with self._lock:
            return list(self._log)

    # counters
    def counter(self, name: str) -> int:
        """Read one of request_count, disconnects, open_connections, in_flight."""
        with self._lock:
            value: int = getattr(self._counters, name)
            return value

    def bump(self, name: str, delta: int = 1) -> None:
        """Add ``delta`` to a counter."""
        with self._lock:
            setattr(self._counters, name, getattr(self._counters, name) + delta)
            self._changed.notify_all()

    def try_acquire(self) -> bool:
        """Take a concurrency slot; False when ``max_concurrency`` are in flight."""
        with self._lock:
            limit = self.max_concurrency
            if limit is not None and self._counters.in_flight >= limit:
                return False
            self._counters.in_flight += 1
            self._changed.notify_all()
            return True

    def release(self) -> None:
        """Give a concurrency slot back."""
        self.bump("in_flight", -1)

    def reset(self) -> None:
        """Clear the fault queue, the request log, the prompt cache and the counters.

        Live values (open connections, requests in flight) are kept.
        """
        with self._lock:
            self._faults.clear()
            self._log.clear()
            self.cache.clear()
            self._counters.request_count = 0
            self._counters.disconnects = 0
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds (re-checked on every change); False on timeout."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)
