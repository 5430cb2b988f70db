"""``Timeout``'s fields and the deadline arithmetic: pure code, no sockets."""

from __future__ import annotations

import math
import time
from typing import Any

import httpx
import pytest

from powertokens import APITimeoutError, InternalServerError, RequestValidationError, Timeout
from powertokens._deadline import Deadline
from powertokens._exceptions import DeadlineExceededError

PHASES = ("connect", "read", "stream_idle", "write", "pool", "total")


@pytest.mark.parametrize("phase", PHASES)
@pytest.mark.parametrize("value", [math.nan, -1.0, 0, 0.0, True, "5", -math.inf])
def test_each_field_refuses_what_is_not_a_positive_number(phase: str, value: Any) -> None:
    with pytest.raises(RequestValidationError) as caught:
        Timeout(**{phase: value})
    assert caught.value.field == f"timeout.{phase}"
    assert "positive number of seconds" in str(caught.value)


@pytest.mark.parametrize("value", [math.nan, -1.0, 0, True, "5"])
def test_coerce_refuses_a_bad_bare_number(value: Any) -> None:
    with pytest.raises(RequestValidationError) as caught:
        Timeout.coerce(value)
    assert caught.value.field == "timeout"


def test_inf_means_no_limit() -> None:
    timeout = Timeout.coerce(math.inf)
    assert timeout.for_request(stream=False) == httpx.Timeout(None)
    assert timeout.for_request(stream=True) == httpx.Timeout(None)
    assert timeout.total is None  # a bare number sets the phases only
    assert Timeout(total=math.inf).deadline is None
    assert Timeout(read=math.inf).for_request(stream=False).read is None


def test_total_defaults_to_none_and_coerce_can_set_it() -> None:
    assert Timeout().total is None
    assert Timeout.coerce(30).total is None
    assert Timeout.coerce(30, total=5).total == 5
    assert Timeout.coerce(30, total=5).read == 30
    assert Timeout.coerce(None, total=2.5).deadline == 2.5
    with pytest.raises(RequestValidationError, match=r"^timeout\.total"):
        Timeout.coerce(None, total=-1)


def test_a_deadline_cuts_every_phase_to_the_time_left() -> None:
    deadline = Deadline(1.0)
    cut = deadline.timeouts(httpx.Timeout(10.0, pool=None))
    assert all(0 < v <= 1.0 for v in (cut.connect, cut.read, cut.write, cut.pool))  # type: ignore[operator]
    short = deadline.timeouts(httpx.Timeout(0.1))
    assert short.read == 0.1


def test_a_wait_counts_in_full_even_when_the_sleep_was_shorter() -> None:
    deadline = Deadline(10.0)
    error = InternalServerError("x", status_code=500)
    deadline.wait(4.0, error)  # not slept: the next look at the clock counts it anyway
    assert deadline.remaining() <= 6.0
    deadline.wait(4.0, error)
    with pytest.raises(DeadlineExceededError, match=r"timeout\.total=10 s") as caught:
        deadline.wait(4.0, error)
    assert caught.value.__cause__ is error
    assert caught.value.total == 10.0


def test_a_timeout_at_the_deadline_is_the_deadline() -> None:
    deadline = Deadline(1.0)
    deadline.end = time.monotonic() - 0.001  # the time is up
    with pytest.raises(DeadlineExceededError):
        deadline.check(APITimeoutError("read timed out"))
    Deadline(10.0).check(APITimeoutError("read timed out"))  # time left: not the deadline
    with pytest.raises(DeadlineExceededError):
        deadline.timeouts(httpx.Timeout(1.0))
