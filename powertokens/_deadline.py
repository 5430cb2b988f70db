"""The deadline of one call, ``Timeout(total=...)``: pure arithmetic, no I/O.

A call starts its :class:`Deadline` at the first send; then, for every attempt, the
httpx timeouts are cut to the time left (:meth:`Deadline.timeouts`), reads check
:attr:`Deadline.end` between them, and a failure is either the deadline's
(:meth:`Deadline.check`) or retried only when its wait ends before the deadline
(:meth:`Deadline.wait`).
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx

from ._exceptions import APIError, APITimeoutError, DeadlineExceededError

__all__ = ["Deadline", "aread_by", "read_by"]

_SLACK = 0.005
"""A timeout that fired this close to the deadline (seconds) was the deadline's."""


class Deadline:
    """When the call must be over: ``end`` on the :func:`time.monotonic` clock."""

    __slots__ = ("_wake", "end", "total")

    def __init__(self, total: float) -> None:
        self.total = total
        self.end = time.monotonic() + total
        self._wake = 0.0

    def remaining(self) -> float:
        """Seconds left. A backoff wait counts in full even when the sleep was shorter
        than asked (a test's patched sleep): the deadline moves earlier by the rest."""
        now = time.monotonic()
        if self._wake:
            if self._wake > now:
                self.end -= self._wake - now
            self._wake = 0.0
        return self.end - now

    def exceeded(self, when: str, request_id: str | None = None) -> DeadlineExceededError:
        return DeadlineExceededError(
            f"the call ran past its deadline, timeout.total={self.total:g} s, {when}; "
            "raise Timeout(total=...) for longer calls",
            total=self.total,
            request_id=request_id,
        )

    def timeouts(self, timeout: httpx.Timeout) -> httpx.Timeout:
        """The attempt's httpx timeouts, each cut to the time left."""
        left = self.remaining()
        if left <= 0:
            raise self.exceeded("before the next attempt could start")
        return httpx.Timeout(
            connect=_cut(timeout.connect, left),
            read=_cut(timeout.read, left),
            write=_cut(timeout.write, left),
            pool=_cut(timeout.pool, left),
        )

    def check(self, error: APIError) -> None:
        """Raise when ``error`` is the deadline: raised by a read check, or a timeout
        that fired when the time was up (each wait is cut to the time left)."""
        if isinstance(error, DeadlineExceededError):
            raise error
        if isinstance(error, APITimeoutError) and self.remaining() <= _SLACK:
            raise self.exceeded(
                f"waiting for the service ({type(error).__name__})", error.request_id
            ) from error

    def wait(self, delay: float, error: APIError) -> None:
        """Raise now when waiting ``delay`` seconds before a retry would pass the
        deadline; otherwise note the wait (see :meth:`remaining`)."""
        left = self.remaining()
        if delay >= left:
            raise self.exceeded(
                f"and the retry after {type(error).__name__} would come {delay:.2f} s later "
                f"with {max(left, 0.0):.2f} s left",
                error.request_id,
            ) from error
        self._wake = time.monotonic() + delay


def _cut(seconds: float | None, left: float) -> float:
    return left if seconds is None or seconds > left else seconds


def read_by(chunks: Iterator[bytes], deadline: Deadline) -> bytes:
    """A whole body read chunk by chunk, the deadline checked between reads (a body
    that trickles in, each read within the read timeout, still ends)."""
    parts = []
    clock = time.monotonic
    for raw in chunks:
        parts.append(raw)
        if clock() >= deadline.end:
            raise deadline.exceeded("while the answer's body was still arriving")
    return b"".join(parts)


async def aread_by(chunks: AsyncIterator[bytes], deadline: Deadline) -> bytes:
    """:func:`read_by` for an async body."""
    parts = []
    clock = time.monotonic
    async for raw in chunks:
        parts.append(raw)
        if clock() >= deadline.end:
            raise deadline.exceeded("while the answer's body was still arriving")
    return b"".join(parts)
