"""Deadlines (``Timeout(total=...)``, the adapters' ``total_timeout``) against a hostile
server that keeps every read within its timeout yet never finishes: ``: PING`` comments,
a body one byte at a time. Also: timeouts of ``inf``, and calls after ``close()``.

Every deadline is a few tenths of a second and the hostile server would go on for five
seconds, so each test ends within about half a second, and only the deadline can end it so
early.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import ModelTimeoutError

from langchain_powertokens import ChatPowerTokens, PowerTokensDeadlineExceededError
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import (
    APIError,
    AsyncPowerTokens,
    DeadlineExceededError,
    InternalServerError,
    PowerTokens,
    PowerTokensError,
    Timeout,
)
from tests.hostile import (
    HostileServer,
    chunk,
    completion,
    completion_chunk,
    json_response,
    response,
    sse,
    sse_stream,
    stream_head,
)

from .conftest import Sleeps
from .stacks import FACES, KEY, Face

# each test waits for a deadline to pass
pytestmark = pytest.mark.slow

MESSAGES = [{"role": "user", "content": "hi"}]
TOTAL = 0.4
"""The deadline of every trickle test, in seconds."""
LIMIT = 2.5
"""Every trickle call must be over within this; the server would go on for five seconds.
Generous (six times the deadline) so that a loaded machine does not fail it, and still
half of what the server would take: only the deadline can end the call this early."""


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        yield hostile


def pinging_stream(*, first: str | None, pings: int = 100, pause: float = 0.05) -> list[Any]:
    """A stream head, maybe one delta, then ``: PING`` comments every ``pause`` seconds:
    each read returns at once, the answer never ends (five seconds of pings)."""
    steps: list[Any] = [stream_head()]
    if first is not None:
        steps.append(chunk(sse(completion_chunk(first))))
    for _ in range(pings):
        steps += [pause, chunk(b": PING\n\n")]
    return steps


def trickling_body(pause: float = 0.1) -> list[Any]:
    """A whole JSON answer whose body arrives one byte every ``pause`` seconds."""
    body = json.dumps(completion("never")).encode()
    whole = response(200, body)
    steps: list[Any] = [whole[: -len(body)]]
    for byte in body:
        steps += [bytes([byte]), pause]
    return steps


def core(mode: str, server: HostileServer, **options: Any) -> Any:
    cls = PowerTokens if mode == "sync" else AsyncPowerTokens
    return cls(api_key=KEY, base_url=server.url, **options)


async def call(client: Any, stream: bool, delivered: list[str], **kwargs: Any) -> Any:
    """chat() or a whole stream, sync or async, collecting the text handed out."""
    if isinstance(client, PowerTokens):
        if not stream:
            return client.chat(MESSAGES, **kwargs)
        with client.stream(MESSAGES, **kwargs) as s:
            delivered.extend(d.content for d in s)
            return s.completion
    if not stream:
        return await client.chat(MESSAGES, **kwargs)
    async with client.stream(MESSAGES, **kwargs) as a:
        async for d in a:
            delivered.append(d.content)
        return a.completion


MODES = ("sync", "async")


# --- the trickles end at the deadline -------------------------------------------------


@pytest.mark.parametrize("first", [None, "partial"], ids=["comments-only", "after-output"])
@pytest.mark.parametrize("mode", MODES)
async def test_a_pinging_stream_ends_at_the_deadline(
    server: HostileServer, mode: str, first: str | None
) -> None:
    server.script(pinging_stream(first=first))
    client = core(mode, server, timeout=Timeout(total=TOTAL))
    delivered: list[str] = []
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as caught:
        await call(client, True, delivered)
    elapsed = time.monotonic() - started
    assert TOTAL <= elapsed < LIMIT
    error = caught.value
    assert "timeout.total=0.4" in str(error)
    assert error.total == TOTAL
    assert not error.is_retryable
    assert len(server.requests) <= 1  # never retried (0: a server slower than the deadline)
    if first is None:
        assert error.partial is None
        assert delivered == []
    else:
        assert delivered == [first]
        assert error.partial is not None
        assert error.partial_text == first
        assert error.partial.finish_reason is None


@pytest.mark.parametrize("mode", MODES)
async def test_a_trickling_body_ends_at_the_deadline(server: HostileServer, mode: str) -> None:
    server.script(trickling_body())
    client = core(mode, server, timeout=Timeout(total=TOTAL))
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError, match=r"timeout\.total=0\.4 s"):
        await call(client, False, [])
    assert TOTAL <= time.monotonic() - started < LIMIT
    assert len(server.requests) <= 1


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
@pytest.mark.parametrize("mode", MODES)
async def test_a_silent_server_is_cut_at_the_deadline_not_the_read_timeout(
    server: HostileServer, mode: str, stream: bool
) -> None:
    """Each attempt's timeouts are cut to the time left: the read timeout (600 s) and the
    retries it would earn never come into play."""
    server.script([5.0])  # five seconds of silence, then the connection closes
    client = core(mode, server, timeout=Timeout(total=TOTAL), max_retries=5)
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError) as caught:
        await call(client, stream, [])
    assert TOTAL - 0.01 <= time.monotonic() - started < LIMIT
    assert isinstance(caught.value.__cause__, PowerTokensError)  # the cut read timeout
    assert len(server.requests) <= 1


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
@pytest.mark.parametrize("mode", MODES)
async def test_a_deadline_that_is_not_reached_changes_nothing(
    server: HostileServer, mode: str, stream: bool
) -> None:
    answer = sse_stream(completion_chunk("o"), completion_chunk("k", finish="stop"))
    server.script(answer if stream else json_response(200, completion("ok")))
    client = core(mode, server, timeout=Timeout(total=5.0))
    result = await call(client, stream, [])
    assert result.content == "ok"
    assert result.finish_reason == "stop"


# --- retries and backoff stop at the deadline ----------------------------------------


def overloaded(delay_ms: int) -> bytes:
    body = {"error": {"code": "1234", "message": "network error"}}
    # Connection: close, so that no attempt meets a connection the server already closed
    # (a connection error, with a backoff of its own).
    headers = {"retry-after-ms": str(delay_ms), "connection": "close"}
    return json_response(503, body, headers=headers)


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
@pytest.mark.parametrize("mode", MODES)
async def test_retries_and_backoff_stop_at_the_deadline(
    server: HostileServer, sleeps: Sleeps, mode: str, stream: bool
) -> None:
    """Waits of 10 s within a 39 s deadline: three fit, the fourth would pass it, so the
    call ends after the fourth attempt instead of the eleven max_retries allows. The
    sleeps are recorded, not slept: the deadline counts them all the same."""
    server.script(overloaded(10_000))
    client = core(mode, server, timeout=Timeout(total=39.0), max_retries=10)
    with pytest.raises(DeadlineExceededError, match=r"timeout\.total=39 s") as caught:
        await call(client, stream, [])
    cause = caught.value.__cause__
    assert isinstance(cause, InternalServerError), repr(cause)
    assert sleeps.delays == [10.0, 10.0, 10.0], repr(caught.value)
    assert len(server.requests) == 4


@pytest.mark.parametrize("mode", MODES)
async def test_a_wait_longer_than_the_time_left_is_not_started(
    server: HostileServer, sleeps: Sleeps, mode: str
) -> None:
    server.script(overloaded(5000))  # the server asks for 5 s; 1 s is left
    client = core(mode, server, timeout=Timeout(total=1.0), max_retries=3)
    with pytest.raises(DeadlineExceededError, match=r"5\.00 s later"):
        await call(client, False, [])
    assert sleeps.delays == []
    assert len(server.requests) == 1


# --- through both adapters -----------------------------------------------------------


def deadline_fields(face: Face, total: float, how: str) -> dict[str, Any]:
    if face.stack == "core" or how == "Timeout":
        return {"timeout": Timeout(total=total)}
    return {"total_timeout": total}


@pytest.mark.parametrize("how", ["total_timeout", "Timeout"])
@pytest.mark.parametrize("face", [f for f in FACES if f.stack != "core"], ids=lambda f: f.id)
async def test_adapters_end_a_trickle_at_the_deadline(
    server: HostileServer, face: Face, how: str
) -> None:
    server.script(pinging_stream(first="a") if face.stream else trickling_body())
    target = face.build(server.url, **deadline_fields(face, TOTAL, how))
    started = time.monotonic()
    outcome = await face.run(target, "hi")
    assert time.monotonic() - started < LIMIT
    error = outcome.error
    assert isinstance(error, DeadlineExceededError), repr(error)
    assert "timeout.total=0.4" in str(error)
    if face.stack == "langchain":
        assert isinstance(error, PowerTokensDeadlineExceededError)
        assert isinstance(error, ModelTimeoutError)
    if face.stream:
        assert outcome.delivered == "a"
        assert error.partial_text == "a"
    assert len(server.requests) <= 1
    await face.close(target)


def _per_call_cells() -> list[Any]:
    """Every face with its usual deadline (the core: ``Timeout(total=...)``, the adapters:
    ``total_timeout``) and a per-call number; an ``httpx.Timeout`` per call on the core;
    the adapters' ``timeout=Timeout(total=...)`` field once each."""
    cells = []
    for face in FACES:
        how = "Timeout" if face.stack == "core" else "total_timeout"
        cells.append(pytest.param(face, how, 30, id=f"{face.id}-{how}-seconds"))
        if face.stack == "core":
            cells.append(pytest.param(face, how, httpx.Timeout(30), id=f"{face.id}-{how}-httpx"))
        elif face.mode == "sync" and not face.stream:
            cells.append(pytest.param(face, "Timeout", 30, id=f"{face.id}-Timeout-seconds"))
    return cells


@pytest.mark.parametrize(("face", "how", "per_call"), _per_call_cells())
async def test_a_per_call_timeout_keeps_the_configured_deadline(
    server: HostileServer, face: Face, how: str, per_call: Any
) -> None:
    """A per-call ``timeout`` of seconds or an ``httpx.Timeout`` sets the phases only (as
    a number given at construction does): the client's or model's deadline still holds."""
    server.script(pinging_stream(first="a") if face.stream else trickling_body())
    target = face.build(server.url, **deadline_fields(face, TOTAL, how))
    started = time.monotonic()
    outcome = await face.run(target, "hi", timeout=per_call)
    assert time.monotonic() - started < LIMIT
    assert isinstance(outcome.error, DeadlineExceededError), repr(outcome.error)
    assert "timeout.total=0.4" in str(outcome.error)
    await face.close(target)


@pytest.mark.parametrize("value", [30, httpx.Timeout(30)], ids=["seconds", "httpx"])
@pytest.mark.parametrize("mode", MODES)
async def test_with_options_timeout_keeps_the_deadline(
    server: HostileServer, mode: str, value: Any
) -> None:
    """``with_options(timeout=...)`` of seconds or an ``httpx.Timeout`` sets the phases, as
    per call: the client's deadline holds in the derived client."""
    server.script(trickling_body())
    client = core(mode, server, timeout=Timeout(total=TOTAL), max_retries=0)
    derived = client.with_options(timeout=value)
    assert derived.timeout.total == TOTAL
    assert derived.timeout.read == 30
    started = time.monotonic()
    with pytest.raises(DeadlineExceededError):
        await call(derived, False, [])
    assert time.monotonic() - started < LIMIT
    assert client.with_options(timeout=Timeout(read=5)).timeout.total is None  # the whole
    client.close() if mode == "sync" else await client.aclose()


@pytest.mark.parametrize(
    "face", [f for f in FACES if f.stack == "core" or not f.stream], ids=lambda f: f.id
)
async def test_a_per_call_timeout_object_replaces_the_deadline(
    server: HostileServer, face: Face
) -> None:
    """A per-call ``powertokens.Timeout`` is the whole timeout: its own ``total``."""
    server.script(pinging_stream(first="a") if face.stream else trickling_body())
    target = face.build(server.url, **deadline_fields(face, 30.0, "Timeout"))
    outcome = await face.run(target, "hi", timeout=Timeout(total=TOTAL))
    assert isinstance(outcome.error, DeadlineExceededError), repr(outcome.error)
    assert "timeout.total=0.4" in str(outcome.error)
    await face.close(target)


@pytest.mark.parametrize("face", [f for f in FACES if f.stack != "core"], ids=lambda f: f.id)
async def test_adapters_apply_a_changed_total_timeout_on_the_next_call(
    server: HostileServer, face: Face
) -> None:
    ok = sse_stream(completion_chunk("ok", finish="stop")) if face.stream else None
    server.script(ok or json_response(200, completion("ok")))
    target = face.build(server.url)
    assert (await face.run(target, "hi")).text == "ok"
    target.total_timeout = TOTAL
    server.script(pinging_stream(first=None) if face.stream else trickling_body())
    started = time.monotonic()
    outcome = await face.run(target, "hi")
    assert isinstance(outcome.error, DeadlineExceededError), repr(outcome.error)
    assert time.monotonic() - started < LIMIT
    await face.close(target)


def test_adapters_refuse_a_bad_total_timeout_with_the_field_named(
    server: HostileServer,
) -> None:
    chat_model = ChatPowerTokens(api_key=KEY, base_url=server.url, total_timeout=-1.0)
    with pytest.raises(PowerTokensError, match=r"timeout\.total"):
        chat_model.invoke("hi")
    llm = LlamaPowerTokens(api_key=KEY, base_url=server.url, total_timeout=-1.0)
    with pytest.raises(PowerTokensError, match=r"timeout\.total"):
        llm.complete("hi")
    assert server.requests == []


# --- timeout=inf --------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
@pytest.mark.parametrize("mode", MODES)
async def test_an_infinite_timeout_means_no_limit(
    server: HostileServer, mode: str, stream: bool
) -> None:
    answer = sse_stream(completion_chunk("ok", finish="stop"))
    server.script(answer if stream else json_response(200, completion("ok")))
    client = core(mode, server, timeout=float("inf"), max_concurrent_requests=1)
    result = await call(client, stream, [], timeout=Timeout(total=float("inf")))
    assert result.content == "ok"
    result = await call(client, stream, [])
    assert result.content == "ok"


@pytest.mark.parametrize("value", [float("nan"), -1.0, 0, "10", True])
def test_a_bad_timeout_is_refused_before_sending(server: HostileServer, value: Any) -> None:
    with pytest.raises(PowerTokensError, match=r"^timeout: must be a positive number"):
        PowerTokens(api_key=KEY, base_url=server.url, timeout=value)
    client = PowerTokens(api_key=KEY, base_url=server.url)
    with pytest.raises(PowerTokensError, match=r"^timeout\.read: must be a positive number"):
        client.chat(MESSAGES, timeout=httpx.Timeout(10.0, read=value))
    assert server.requests == []


# --- after close() ------------------------------------------------------------------


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
@pytest.mark.parametrize("mode", MODES)
async def test_own_pools_are_remade_after_close(
    server: HostileServer, mode: str, stream: bool
) -> None:
    answer = sse_stream(completion_chunk("ok", finish="stop"))
    server.script(answer if stream else json_response(200, completion("ok")))
    client = core(mode, server)
    for _ in range(2):
        assert (await call(client, stream, [])).content == "ok"
        if mode == "sync":
            client.close()
        else:
            await client.close()


@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
@pytest.mark.parametrize("mode", MODES)
async def test_a_closed_injected_http_client_is_a_clear_error(
    server: HostileServer, sleeps: Sleeps, mode: str, stream: bool
) -> None:
    if mode == "sync":
        http: Any = httpx.Client()
        http.close()
    else:
        http = httpx.AsyncClient()
        await http.aclose()
    client = core(mode, server, http_client=http)
    with pytest.raises(APIError, match="httpx client was closed") as caught:
        await call(client, stream, [])
    assert not caught.value.is_retryable
    assert sleeps.delays == []  # not retried
    assert server.requests == []


def test_deadline_error_round_trips_through_pickle() -> None:
    import pickle

    error = DeadlineExceededError("the call ran past its deadline", total=0.5)
    copied = pickle.loads(pickle.dumps(error))
    assert type(copied) is DeadlineExceededError
    assert copied.total == 0.5
    assert str(copied) == str(error)
