"""Shared, thread-safe emulator state: settings, the fault queue, the request log, counters.

The event loop thread writes it; the test thread reads it and pushes faults, so every
access holds one lock.

The request log is bounded by size: it keeps the last 10,000 requests and at most
:data:`LOG_BUDGET` bytes of their bodies (counted as received), dropping the oldest
first. A body larger than a quarter of the budget is logged shortened (its long strings
cut, see :func:`shorten`) with ``truncated=True``.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, fields
from typing import Any

from .faults import Fault, parse_fault
from .model.cache import PromptCache

__all__ = [
    "LOG_BUDGET",
    "REDACTED",
    "EmulatorState",
    "RecordedRequest",
    "new_request_id",
    "shorten",
]

REDACTED = "[REDACTED]"
_SECRET_HEADERS = frozenset({"authorization", "api-key", "x-api-key", "proxy-authorization"})
_LOG_LIMIT = 10_000
LOG_BUDGET = 64 * 1024 * 1024
"""Bytes of request bodies the request log keeps, by default."""
_KEPT_CHARS = 1024
_ITEM_BYTES = 16
_RECORD_BYTES = 512
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
    body_size: int = 0
    """Bytes of the request body as received."""
    truncated: bool = False
    """True when :attr:`json` was shortened to keep the log within its byte budget: each
    string over 1,024 characters keeps its start and ends in ``...[truncated N of M
    characters]`` (``json`` is None when even that is too large)."""

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


def _cut(text: str) -> str:
    if len(text) <= _KEPT_CHARS:
        return text
    cut = len(text) - _KEPT_CHARS
    return f"{text[:_KEPT_CHARS]}...[truncated {cut} of {len(text)} characters]"


def shorten(value: Any) -> tuple[Any, int]:
    """A copy of a decoded JSON ``value`` with every string cut to 1,024 characters (and a
    marker saying how much was cut), and the approximate bytes the copy holds."""
    size = 0

    def walk(node: Any) -> Any:
        nonlocal size
        size += _ITEM_BYTES
        if isinstance(node, str):
            node = _cut(node)
            size += len(node)
            return node
        if isinstance(node, dict):
            return {_cut(k): walk(v) for k, v in node.items()}
        if isinstance(node, list):
            return [walk(v) for v in node]
        return node

    return walk(value), size


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
        idle_timeout: float | None = None,
        log_budget: int = LOG_BUDGET,
    ) -> None:
        self.api_keys = frozenset(api_keys) if api_keys is not None else None
        self.idle_timeout = idle_timeout
        self.log_budget = log_budget
        self.max_concurrency = max_concurrency
        self.tool_stream = tool_stream
        self.seed = seed
        self.chunk_delay = chunk_delay
        self.cache = PromptCache()
        # Re-entrant, so wait_until's predicate can read counters while the lock is held.
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._faults: deque[Fault] = deque()
        self._log: deque[tuple[RecordedRequest, int]] = deque()
        self._log_bytes = 0
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
        """Log a chat request and count it, within the log's byte budget.

        A body over a quarter of the budget is logged shortened (CPU work proportional to
        its objects: call it off the event loop for a large body).
        """
        size = request.body_size if request.json is not None else 0
        if size > self.log_budget // 4:
            request.json, size = shorten(request.json)
            request.truncated = True
            if size > self.log_budget // 4:
                request.json, size = None, 0
        size += _RECORD_BYTES
        with self._lock:
            self._log.append((request, size))
            self._log_bytes += size
            while len(self._log) > _LOG_LIMIT or (
                self._log_bytes > self.log_budget and len(self._log) > 1
            ):
                self._log_bytes -= self._log.popleft()[1]
            self._counters.request_count += 1
            self._changed.notify_all()

    def requests(self) -> list[RecordedRequest]:
        """A copy of the request log, oldest first (see the module docstring for its bounds)."""
        with self._lock:
            return [request for request, _ in self._log]

    def log_bytes(self) -> int:
        """The bytes the request log accounts for (bodies as received, plus a little per record)."""
        with self._lock:
            return self._log_bytes

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
            self._log_bytes = 0
            self.cache.clear()
            self._counters.request_count = 0
            self._counters.disconnects = 0
            self._changed.notify_all()

    def wait_until(self, predicate: Callable[[], bool], timeout: float) -> bool:
        """Block until ``predicate()`` holds (re-checked on every change); False on timeout."""
        with self._changed:
            return self._changed.wait_for(predicate, timeout)
