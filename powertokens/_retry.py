"""The retry policy: pure functions, no I/O (``docs/wire.md``, "Retries").

* Retry connection errors, timeouts, 408, 409, 429 and 5xx, unless the business code
  says no: quota codes (1113, 1304, 1308...), the model not in the plan (1311), fair-use
  throttling (1313), a request with this id already running (1231, even as a 409), bad
  requests, auth, content filter. An overloaded model (1312) is retried, the same model:
  switching to the one its message suggests is the caller's choice.
* Never retry 400, 401, 403, 404 or 422 (whatever their code).
* Delay: ``min(0.5 * 2**n, 8)`` seconds minus up to 25 % jitter; a server delay
  (``retry-after-ms``, ``retry-after`` in seconds or as an HTTP date) wins when
  ``0 < d <= 60``; a longer server delay means "don't retry".
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from ._error_hints import server_delay
from ._error_map import is_known_code
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    PoolTimeoutError,
    PowerTokensError,
    RequestValidationError,
    StreamInterruptedError,
)

__all__ = ["RetryPolicy", "server_delay", "should_retry_status"]

# Business codes that are worth another try (``docs/wire.md``, "Errors"); any other known
# code is not, whatever the status.
_RETRY_CODES = frozenset(
    {"1120", "1230", "1234", "1302", "1303", "1305", "1312", "rate_limit_exceeded"}
)
_RETRY_STATUSES = frozenset({408, 409, 429})
_NEVER_RETRY_STATUSES = frozenset({400, 401, 403, 404, 422})

MAX_SERVER_DELAY = 60.0


def should_retry_status(status_code: int, code: str | None) -> bool:
    """Whether an error answer with this status and business code may be retried."""
    if status_code in _NEVER_RETRY_STATUSES:
        return False
    if code is not None:
        if code in _RETRY_CODES:
            return True
        if is_known_code(code):
            return False
    # An in-stream error (status 200) is only retryable by its code, handled above.
    return status_code in _RETRY_STATUSES or status_code >= 500


@dataclass(frozen=True)
class RetryPolicy:
    """When to retry and how long to wait; the clients ask it after each failure."""

    max_retries: int = 2
    initial_delay: float = 0.5
    max_delay: float = 8.0
    jitter: float = 0.25
    max_server_delay: float = MAX_SERVER_DELAY

    def __post_init__(self) -> None:
        if self.max_retries < 0:
            raise RequestValidationError("max_retries", "must be an integer >= 0", self.max_retries)

    def backoff(self, retries_done: int, rand: Callable[[], float] = random.random) -> float:
        """The delay before retry number ``retries_done + 1``, with jitter."""
        base = min(self.initial_delay * (2.0**retries_done), self.max_delay)
        return base * (1.0 - self.jitter * rand())

    def next_delay(
        self,
        error: PowerTokensError,
        retries_done: int,
        rand: Callable[[], float] = random.random,
    ) -> float | None:
        """Seconds to wait before retrying after ``error``, or None to give up."""
        if retries_done >= self.max_retries:
            return None
        if isinstance(error, APIStatusError):
            if not should_retry_status(error.status_code, error.code):
                return None
            asked = server_delay(error.headers)
            if asked is not None and asked > 0:
                if asked > self.max_server_delay:
                    return None
                return asked
        elif isinstance(error, PoolTimeoutError) or not isinstance(
            error, (APIConnectionError, StreamInterruptedError)
        ):
            # A stream broken before anything was delivered is a transport failure;
            # after delivery the clients never ask (nothing is re-sent and spliced).
            return None
        return self.backoff(retries_done, rand)
