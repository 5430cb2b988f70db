"""Every docs/wire.md fault through the core, ChatPowerTokens and the LlamaIndex LLM: sync and
async, streamed and not, with the outcome asserted, attempts counted at the emulator and
the retry delays checked (recorded, not slept).

One table drives it. Combinations that ``tests/client``, ``tests/langchain`` and
``tests/llama_index`` already assert the same way are left out (see ``COVERED``).
"""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from langchain_core.exceptions import ModelError

from llama_index_powertokens._convert import FILTERED_TEXT
from powertokens import (
    APIConnectionError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentFilterError,
    ContextOverflowError,
    FairUseThrottleError,
    InternalServerError,
    InvalidResponseError,
    ModelOverloadedError,
    NotFoundError,
    PermissionDeniedError,
    PowerTokens,
    QuotaExceededError,
    RateLimitError,
    RetryPolicy,
    StreamInterruptedError,
)
from powertokens.emulator import Emulator

from .conftest import Sleeps
from .scan import assert_error_has_no_key
from .stacks import FACES, KEY, PROMPT, Face

# What a call does with a fault, per kind of expectation:
OK = "ok"  # the answer arrives (after retries, if any)
RAISE = "raise"  # an error before any output
BROKEN = "broken"  # output delivered, then an error carrying it; never re-sent

BOTH, CALL, STREAM = "both", "call", "stream"
TIMEOUT = 0.3  # seconds, every phase, for the timeout faults


@dataclass(frozen=True)
class Case:
    id: str
    spec: str
    times: int
    """How many requests in a row get the fault."""
    expect: str
    attempts: int
    """Requests the emulator must see."""
    error: type[BaseException] | None = None
    where: str = BOTH
    server_delay: float | None = None
    """The delay the server asked for (Retry-After); None: the client's backoff."""
    timeout: float | None = None
    finish: str | None = None
    check: Callable[[Any], None] | None = None


def _code(code: str) -> Callable[[Any], None]:
    def check(error: Any) -> None:
        assert error.code == code
        assert error.request_id  # kept for support (docs/wire.md)

    return check


def _quota_resets(error: Any) -> None:
    assert error.code in ("1308", "1310")
    assert error.resets_at is not None  # "Your limit will reset at <time>"
    assert not error.is_retryable


def _overloaded(error: Any) -> None:
    assert error.code == "1312"
    assert error.is_retryable
    # The message names another model; the client never switches to it on its own.
    assert error.suggested_model == "glm-4.7"


def _not_retryable(code: str) -> Callable[[Any], None]:
    def check(error: Any) -> None:
        assert error.code == code
        assert not error.is_retryable

    return check


def _retry_after_3600(error: Any) -> None:
    assert error.retry_after == 3600.0  # raised with the delay, not waited for


def _status(status: int) -> Callable[[Any], None]:
    def check(error: Any) -> None:
        assert error.status_code == status

    return check


def _in_stream(code: str) -> Callable[[Any], None]:
    def check(error: Any) -> None:
        assert error.status_code == 200  # the error event came inside a 200 stream
        assert error.code == code

    return check


def _idle_timeout(error: Any) -> None:
    assert isinstance(error.__cause__, APITimeoutError)  # the stream-idle timeout fired


CASES = [
    # -- retried, then the answer: max_retries=2 means exactly three attempts -------------
    *(
        Case(f"retried-{spec}", spec, 2, OK, 3)
        for spec in (
            "429:1302",
            "429:1305",
            "429:rate_limit_exceeded",
            "500:1234",
            "html:500",
            "html:502",
            "empty:503",
            "stream-error:1305",  # the first event of a 200 stream (an HTTP 429 if not streamed)
            "cut:0",  # the connection closes before any output
            "429:1312",  # this model is overloaded: retried, the same model
            "stream-error:1312",
        )
    ),
    Case("retried-retry-after", "429:1302:retry-after=2", 2, OK, 3, server_delay=2.0),
    Case("retried-retry-after-ms", "429:1305:retry-after-ms=1500", 2, OK, 3, server_delay=1.5),
    Case("retried-read-timeout", "delay:3000", 1, OK, 2, timeout=TIMEOUT),
    Case("retried-stall-before-output", "stall:0:30", 1, OK, 2, timeout=TIMEOUT),
    Case("no-finish-ignored-unstreamed", "done-no-finish:5", 1, OK, 1, where=CALL),
    Case("usage-sent-twice", "usage-chunk", 1, OK, 1),
    # -- retried until max_retries, then raised -----------------------------------------------
    Case("exhausted-1302", "429:1302", 3, RAISE, 3, RateLimitError, check=_code("1302")),
    Case("exhausted-html-502", "html:502", 3, RAISE, 3, InternalServerError, check=_status(502)),
    Case("exhausted-empty-503", "empty:503", 3, RAISE, 3, InternalServerError, check=_status(503)),
    Case("exhausted-cut", "cut:0", 3, RAISE, 3, APIConnectionError),
    Case("exhausted-1312", "429:1312", 3, RAISE, 3, ModelOverloadedError, check=_overloaded),
    Case(
        "exhausted-1312-zh",
        "429:1312:lang=zh",
        3,
        RAISE,
        3,
        ModelOverloadedError,
        check=_overloaded,
    ),
    Case(
        "exhausted-in-stream-1312",
        "stream-error:1312",
        3,
        RAISE,
        3,
        ModelOverloadedError,
        where=STREAM,
        check=_overloaded,
    ),
    Case(
        "exhausted-in-stream-1305",
        "stream-error:1305",
        3,
        RAISE,
        3,
        RateLimitError,
        where=STREAM,
        check=_in_stream("1305"),
    ),
    # -- not retried: raised at once --------------------------------------------------------
    *(
        Case(f"quota-{code}", f"quota:{code}", 3, RAISE, 1, QuotaExceededError, check=_code(code))
        for code in ("1113", "1304")
    ),
    *(
        Case(f"quota-{code}", f"quota:{code}", 3, RAISE, 1, QuotaExceededError, check=_quota_resets)
        for code in ("1308", "1310")
    ),
    Case(
        "quota-1310-zh", "quota:1310:lang=zh", 3, RAISE, 1, QuotaExceededError, check=_quota_resets
    ),
    # plan codes: the code decides, not the (retryable) status
    Case("plan-1311", "429:1311", 3, RAISE, 1, PermissionDeniedError, check=_not_retryable("1311")),
    Case(
        "fair-use-1313", "429:1313", 3, RAISE, 1, FairUseThrottleError, check=_not_retryable("1313")
    ),
    Case("conflict-1231", "409:1231", 3, RAISE, 1, ConflictError, check=_not_retryable("1231")),
    Case("context-1261", "400:1261", 3, RAISE, 1, ContextOverflowError, check=_code("1261")),
    Case("filter-1301", "400:1301", 3, RAISE, 1, ContentFilterError, check=_code("1301")),
    Case("bad-request-1214", "400:1214", 3, RAISE, 1, BadRequestError, check=_code("1214")),
    Case("auth-1001", "401:1001", 3, RAISE, 1, AuthenticationError, check=_status(401)),
    Case("account-1110", "403:1110", 3, RAISE, 1, PermissionDeniedError, check=_code("1110")),
    Case("no-channel", "503:model_not_found", 3, RAISE, 1, NotFoundError),
    Case(
        "retry-after-too-long",
        "429:1302:retry-after=3600",
        3,
        RAISE,
        1,
        RateLimitError,
        check=_retry_after_3600,
    ),
    Case("malformed-body", "malformed:5", 3, RAISE, 1, InvalidResponseError, where=CALL),
    # -- broken after output was delivered: raised with the partial text, never re-sent -------
    Case("cut-mid-stream", "cut:5", 3, BROKEN, 1, StreamInterruptedError, where=STREAM),
    Case("malformed-mid-stream", "malformed:5", 3, BROKEN, 1, StreamInterruptedError, STREAM),
    Case("done-without-finish", "done-no-finish:5", 3, BROKEN, 1, StreamInterruptedError, STREAM),
    Case(
        "in-stream-error-later",
        "stream-error:1305:after=5",
        3,
        BROKEN,
        1,
        RateLimitError,
        where=STREAM,
        check=_in_stream("1305"),
    ),
    Case(
        "in-stream-server-error-later",
        "stream-error:1234:after=5",
        3,
        BROKEN,
        1,
        InternalServerError,
        where=STREAM,
        check=_in_stream("1234"),
    ),
    Case(
        "stall-mid-stream",
        "stall:5:30",
        1,
        BROKEN,
        1,
        StreamInterruptedError,
        where=STREAM,
        timeout=TIMEOUT,
        check=_idle_timeout,
    ),
    # -- finish reasons: surfaced, the same streamed or not ----------------------------------
    *(
        Case(f"finish-{reason}", f"finish:{reason}", 1, OK, 1, finish=reason)
        for reason in ("sensitive", "network_error", "length", "model_context_window_exceeded")
    ),
]

# Asserted the same way by tests/client, tests/langchain or tests/llama_index already.
_CORE_CALL = {
    *(f"retried-{s}" for s in ("429:1302", "429:1305", "429:rate_limit_exceeded")),
    *(f"retried-{s}" for s in ("500:1234", "html:500", "html:502", "empty:503", "cut:0")),
    "exhausted-1302",
    "exhausted-html-502",
    "quota-1113",
    "quota-1304",
    "quota-1308",
    "context-1261",
    "filter-1301",
    "retry-after-too-long",
    *(f"finish-{r}" for r in ("sensitive", "network_error", "length")),
    "finish-model_context_window_exceeded",
}
_CORE_STREAM = {
    "cut-mid-stream",
    "malformed-mid-stream",
    "done-without-finish",
    "in-stream-error-later",
    "stall-mid-stream",
    "usage-sent-twice",
    *(f"finish-{r}" for r in ("sensitive", "network_error", "length")),
    "finish-model_context_window_exceeded",
}
_LANGCHAIN_STREAM = {
    "cut-mid-stream",
    "malformed-mid-stream",
    "done-without-finish",
    "in-stream-error-later",
}
COVERED: set[tuple[str, bool, str]] = {
    *(("core", False, case) for case in _CORE_CALL),
    *(("core", True, case) for case in _CORE_STREAM),
    *(("langchain", True, case) for case in _LANGCHAIN_STREAM),
    ("llama_index", True, "in-stream-error-later"),
}


def _params() -> Iterator[Any]:
    for case in CASES:
        for face in FACES:
            if (case.where == CALL and face.stream) or (case.where == STREAM and not face.stream):
                continue
            if (face.stack, face.stream, case.id) in COVERED:
                continue
            # A case that waits for a timeout to fire is slow: the fast loop leaves it out.
            marks = [pytest.mark.slow] if case.timeout is not None else []
            yield pytest.param(face, case, id=f"{face.id}-{case.id}", marks=marks)


_REFERENCES: dict[str | None, tuple[str, str | None]] = {}


def reference(emu: Emulator, spec: str | None = None) -> tuple[str, str | None]:
    """The full answer (and finish reason) to PROMPT, with ``spec`` applied: the emulator
    is deterministic, so every stack must produce exactly this text."""
    if spec not in _REFERENCES:
        with PowerTokens(api_key=KEY, base_url=emu.url) as client:
            answer = client.chat(
                [{"role": "user", "content": PROMPT}],
                thinking=False,
                extra_headers={"X-PowerTokens-Fault": spec} if spec else None,
            )
        _REFERENCES[spec] = (answer.content, answer.finish_reason)
    return _REFERENCES[spec]


def backoff_bound(retries: int, policy: RetryPolicy | None = None) -> list[float]:
    """The most the client may wait before each retry (jitter only shortens it)."""
    policy = policy or RetryPolicy()
    return [min(policy.initial_delay * 2**n, policy.max_delay) for n in range(retries)]


def check_delays(sleeps: Sleeps, retries: int, server_delay: float | None = None) -> None:
    """One wait per retry, each within the policy; the total bounded by the policy's sum."""
    assert len(sleeps.delays) == retries
    if server_delay is not None:
        assert sleeps.delays == [server_delay] * retries  # the server's Retry-After wins
        return
    bounds = backoff_bound(retries)
    for delay, bound in zip(sleeps.delays, bounds, strict=True):
        assert bound * 0.75 <= delay <= bound  # at most 25 % jitter
    assert sleeps.total <= sum(bounds)


@pytest.mark.parametrize(("face", "case"), list(_params()))
async def test_fault(face: Face, case: Case, emu: Emulator, sleeps: Sleeps) -> None:
    full, _ = reference(emu, f"finish:{case.finish}" if case.finish else None)
    emu.reset()
    emu.push_fault(case.spec, times=case.times)
    target = face.build(emu.url, timeout=case.timeout)
    try:
        out = await face.run(target)
    finally:
        await face.close(target)

    assert emu.request_count == case.attempts
    check_delays(sleeps, case.attempts - 1, case.server_delay)
    if case.expect == OK:
        assert out.error is None, repr(out.error)
        if face.stack == "llama_index" and case.finish == "sensitive" and not full:
            full = FILTERED_TEXT  # documented: an empty filtered answer says why, not ""
        assert out.text == full
        if face.stream:
            assert out.delivered == full  # token for token, nothing lost or doubled
            assert out.usage_reports == 1
        if case.finish:
            assert out.finish_reason == case.finish
        else:
            assert out.finish_reason == "stop"
        return

    error = out.error
    assert error is not None, "the call should have failed"
    assert isinstance(error, case.error or Exception), repr(error)
    if face.stack == "langchain":
        assert isinstance(error, ModelError)  # also langchain-core's taxonomy
    if case.check is not None:
        case.check(error)
    assert_error_has_no_key(error)
    if case.expect == RAISE:
        assert out.delivered == ""
        assert getattr(error, "partial", None) is None
    else:  # BROKEN: the output so far went out, and is carried by the error
        assert out.delivered
        assert full.startswith(out.delivered)  # a prefix: nothing duplicated
        assert error.partial_text == out.delivered  # type: ignore[attr-defined]


@pytest.mark.parametrize("max_retries", [0, 1, 3])
@pytest.mark.parametrize(
    "face", [f for f in FACES if f.stack != "core" or f.stream], ids=lambda f: f.id
)
async def test_max_retries_is_exact(
    face: Face, max_retries: int, emu: Emulator, sleeps: Sleeps
) -> None:
    emu.push_fault("429:1302", times=10)
    target = face.build(emu.url, max_retries=max_retries)
    out = await face.run(target)
    await face.close(target)
    assert isinstance(out.error, RateLimitError)
    assert emu.request_count == max_retries + 1
    check_delays(sleeps, max_retries)


# -- no server: connection refused, connect timeout ----------------------------------------


@pytest.fixture(scope="module")
def refused_url() -> str:
    with Emulator() as gone:
        return gone.url  # a port that was free a moment ago, now closed


@pytest.fixture(scope="module")
def unanswered_url() -> Iterator[str]:
    """A listener whose accept queue is full: a connect gets no answer, and times out."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(4):
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    yield f"http://127.0.0.1:{port}/v1"
    for filler in fillers:
        filler.close()
    server.close()


@pytest.mark.parametrize(
    "face", [f for f in FACES if f.stack != "core"], ids=lambda f: f.id
)  # the core's refused connections: tests/client
async def test_connection_refused_is_retried_then_raised(
    face: Face, refused_url: str, sleeps: Sleeps
) -> None:
    target = face.build(refused_url)
    out = await face.run(target)
    await face.close(target)
    assert isinstance(out.error, APIConnectionError)
    assert not isinstance(out.error, APITimeoutError)
    check_delays(sleeps, 2)  # three attempts
    assert_error_has_no_key(out.error)


@pytest.mark.parametrize("face", FACES, ids=lambda f: f.id)
async def test_connect_timeout_is_retried_then_raised(
    face: Face, unanswered_url: str, sleeps: Sleeps
) -> None:
    target = face.build(unanswered_url, timeout=0.1, max_retries=1)
    out = await face.run(target)
    await face.close(target)
    assert isinstance(out.error, APITimeoutError), repr(out.error)
    assert "ConnectTimeout" in str(out.error)
    check_delays(sleeps, 1)  # two attempts
    assert_error_has_no_key(out.error)


def test_the_table_covers_every_fault_of_the_emulator() -> None:
    """Each kind of fault in the emulator's language is in the table at least once."""
    kinds = {case.spec.split(":")[0] for case in CASES}
    assert {"429", "500", "400", "401", "403", "503", "quota", "html", "empty"} <= kinds
    assert {"stream-error", "cut", "stall", "malformed", "done-no-finish", "finish"} <= kinds
    assert {"delay", "usage-chunk"} <= kinds
