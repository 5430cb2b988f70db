"""Every resource has one owner: sockets, file descriptors and request slots are counted
from the operating system (``/proc/self/fd``), against an emulator in its own process so
that every socket counted here is the client's.

* 10 × ``asyncio.run(...)`` with the garbage collector off leave no sockets behind, and
  ``close()`` / ``aclose()`` afterwards, from any loop, do not raise;
* a stream dropped mid-way without ``with`` frees its connection and its
  ``max_concurrent_requests`` slot at once (no garbage collector), sync and async;
* waiting for a slot honours the pool timeout (``PoolTimeoutError``);
* one async client used from two threads' event loops at once keeps the limit, never hangs;
* five sequential streams through one client use one connection.
"""

from __future__ import annotations

import asyncio
import gc
import os
import subprocess
import sys
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from langchain_core.messages import HumanMessage
from llama_index.core.base.llms.types import ChatMessage

from langchain_powertokens import ChatPowerTokens, PowerTokensPoolTimeoutError
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import AsyncPowerTokens, PoolTimeoutError, PowerTokens, Timeout

from .stacks import KEY

pytestmark = [
    pytest.mark.skipif(
        not os.path.isdir("/proc/self/fd"), reason="counts descriptors through /proc (Linux)"
    ),
    pytest.mark.slow,  # an emulator process per module, event loops by the dozen, GC off
]

MESSAGES = [{"role": "user", "content": "echo: " + " ".join(f"w{i}" for i in range(40))}]
PROMPT = MESSAGES[0]["content"]
PACED = {"X-PowerTokens-Fault": "pace:2"}  # 2 ms between events: streams overlap


def _spawn(*args: str) -> Iterator[str]:
    process = subprocess.Popen(
        [sys.executable, "-m", "powertokens.emulator", "--port", "0", "--api-key", KEY, *args],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        line = process.stdout.readline()
        assert "listening on" in line, line
        yield line.split()[-1]
    finally:
        process.terminate()
        process.wait(timeout=10)


@pytest.fixture(scope="module")
def url() -> Iterator[str]:
    yield from _spawn()


@pytest.fixture(scope="module")
def limited_url() -> Iterator[str]:
    """An emulator that answers 429 1302 beyond two requests in flight."""
    yield from _spawn("--max-concurrency", "2")


def descriptors() -> tuple[int, set[str]]:
    """(open file descriptors, the sockets among them) of this process, from the OS."""
    count, sockets = 0, set()
    for fd in os.listdir("/proc/self/fd"):
        try:
            target = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # the descriptor listdir itself used, closed meanwhile
            continue
        count += 1
        if target.startswith("socket:"):
            sockets.add(target)
    return count, sockets


@contextmanager
def collector_off() -> Iterator[None]:
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


# --- 10 × asyncio.run ------------------------------------------------------------------


def _core_call(url: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    client = AsyncPowerTokens(api_key=KEY, base_url=url)

    async def call() -> None:
        assert (await client.chat(MESSAGES)).content

    def close() -> None:
        asyncio.run(client.close())

    return call, close


def _langchain_call(url: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    model = ChatPowerTokens(api_key=KEY, base_url=url)

    async def call() -> None:
        assert (await model.ainvoke(PROMPT)).text

    def close() -> None:
        model.close()
        asyncio.run(model.aclose())

    return call, close


def _llama_call(url: str) -> tuple[Callable[[], Any], Callable[[], None]]:
    llm = LlamaPowerTokens(api_key=KEY, base_url=url)

    async def call() -> None:
        assert (await llm.achat([ChatMessage(role="user", content=PROMPT)])).message.content

    def close() -> None:
        llm.close()
        asyncio.run(llm.aclose())

    return call, close


STACKS = {"core": _core_call, "langchain": _langchain_call, "llama_index": _llama_call}


@pytest.mark.parametrize("stack", STACKS)
def test_ten_event_loops_leave_no_sockets_behind(stack: str, url: str) -> None:
    # Ten loops: a socket or descriptor left by each would be 10, over the bounds below
    # (which allow for the loops' own transient descriptors); fifty proved nothing more.
    call, close = STACKS[stack](url)
    asyncio.run(call())  # imports and first-use caches out of the way
    with collector_off():
        fds_before, sockets_before = descriptors()
        for _ in range(10):
            asyncio.run(call())
        fds_after, sockets_after = descriptors()
        close()  # from yet another loop: must not raise
    assert len(sockets_after - sockets_before) <= 2, "sockets left open by finished loops"
    assert fds_after - fds_before <= 4, "descriptors left open by finished loops"


# --- abandoned streams -------------------------------------------------------------------


def _finishes(action: Callable[[], Any], seconds: float = 20) -> Any:
    """Run ``action`` in a thread; fail (instead of hanging the suite) if it does not end.
    Returns its result or raises its exception."""
    outcome: list[Any] = []

    def run() -> None:
        try:
            outcome.append((True, action()))
        except BaseException as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), "the call hung"
    ok, value = outcome[0]
    if not ok:
        raise value
    return value


def test_a_dropped_sync_stream_frees_its_connection_and_slot_at_once(url: str) -> None:
    client = PowerTokens(api_key=KEY, base_url=url, max_concurrent_requests=1)
    client.chat(MESSAGES)  # a pooled connection, idle
    with collector_off():
        _, idle = descriptors()
        for _delta in client.stream(MESSAGES):
            break  # no `with`, and the stream object is dropped right here
        _, after = descriptors()
        assert after <= idle  # the half-read connection was closed at once, not kept
        answer = _finishes(lambda: client.chat(MESSAGES, timeout=Timeout(pool=5)))
    assert answer.content
    client.close()


def test_a_dropped_async_stream_frees_its_connection_and_slot_at_once(url: str) -> None:
    async def scenario() -> None:
        client = AsyncPowerTokens(api_key=KEY, base_url=url, max_concurrent_requests=1)
        await client.chat(MESSAGES)
        _, idle = descriptors()
        async for _delta in client.stream(MESSAGES):
            break
        # Dropped: its event loop closes it in the next iteration, before this call runs.
        answer = await asyncio.wait_for(client.chat(MESSAGES, timeout=Timeout(pool=5)), 20)
        assert answer.content
        _, after = descriptors()
        assert len(after) == len(idle)  # the abandoned connection was closed, not kept
        await client.close()

    with collector_off():
        asyncio.run(scenario())


def test_dropped_adapter_streams_free_their_slot(url: str) -> None:
    model = ChatPowerTokens(api_key=KEY, base_url=url, max_concurrent_requests=1)
    llm = LlamaPowerTokens(api_key=KEY, base_url=url, max_concurrent_requests=1)
    with collector_off():
        for _chunk in model.stream(PROMPT):
            break
        assert _finishes(lambda: model.invoke(PROMPT)).text
        for _response in llm.stream_chat([ChatMessage(role="user", content=PROMPT)]):
            break
        assert _finishes(lambda: llm.chat([ChatMessage(role="user", content=PROMPT)])).message

        async def asynchronous() -> None:
            async for _chunk in model.astream(PROMPT):
                break
            assert (await asyncio.wait_for(model.ainvoke(PROMPT), 20)).text
            stream = await llm.astream_chat([ChatMessage(role="user", content=PROMPT)])
            async for _response in stream:
                break
            del stream
            message = ChatMessage(role="user", content=PROMPT)
            assert (await asyncio.wait_for(llm.achat([message]), 20)).message.content

        asyncio.run(asynchronous())


# --- waiting for a slot ----------------------------------------------------------------------


def test_waiting_for_a_slot_honours_the_pool_timeout(url: str) -> None:
    client = PowerTokens(api_key=KEY, base_url=url, max_concurrent_requests=1)
    with client.stream(MESSAGES) as held:
        next(iter(held))  # the one slot is taken until this stream ends
        with pytest.raises(PoolTimeoutError, match="max_concurrent_requests=1") as info:
            _finishes(lambda: client.chat(MESSAGES, timeout=Timeout(pool=0.2)))
        assert not info.value.is_retryable
    assert client.chat(MESSAGES).content  # the slot came back
    model = ChatPowerTokens(
        api_key=KEY, base_url=url, max_concurrent_requests=1, timeout=Timeout(pool=0.2)
    )
    chunks = model.stream(PROMPT)
    assert next(chunks) is not None  # holds the slot
    with pytest.raises(PowerTokensPoolTimeoutError):
        _finishes(lambda: model.invoke(PROMPT))
    chunks.close()
    assert model.invoke(PROMPT).text
    client.close()
    model.close()


async def test_an_async_wait_for_a_slot_honours_the_pool_timeout(url: str) -> None:
    model = ChatPowerTokens(
        api_key=KEY, base_url=url, max_concurrent_requests=1, timeout=Timeout(pool=0.2)
    )
    chunks = model.astream(PROMPT)
    assert await chunks.__anext__() is not None  # holds the slot
    with pytest.raises(PowerTokensPoolTimeoutError):
        await asyncio.wait_for(model.ainvoke(PROMPT), 20)
    await chunks.aclose()
    assert (await model.ainvoke(PROMPT)).text  # the slot came back
    await model.aclose()


# --- one async client, two threads' event loops --------------------------------------------


def test_one_async_client_on_two_threads_keeps_the_limit(limited_url: str) -> None:
    # max_retries=0: a request beyond the emulator's two in flight would fail with 1302.
    client = AsyncPowerTokens(
        api_key=KEY, base_url=limited_url, max_concurrent_requests=2, max_retries=0
    )
    errors: list[BaseException] = []

    async def one() -> None:
        async with client.stream(MESSAGES, extra_headers=PACED) as stream:
            completion = await stream.final_completion()
            assert completion.content

    async def burst() -> None:
        results = await asyncio.gather(*(one() for _ in range(15)), return_exceptions=True)
        errors.extend(r for r in results if isinstance(r, BaseException))

    threads = [threading.Thread(target=asyncio.run, args=(burst(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
        assert not thread.is_alive(), "an event loop hung"
    assert errors == []
    asyncio.run(client.close())


# --- connection reuse ------------------------------------------------------------------------


def test_five_sequential_streams_use_one_connection(url: str) -> None:
    client = PowerTokens(api_key=KEY, base_url=url)
    _, before = descriptors()
    used: set[str] = set()
    for _ in range(5):
        with client.stream(MESSAGES) as stream:
            assert "".join(d.content for d in stream)
        used |= descriptors()[1] - before
    assert len(used) == 1
    client.close()


def test_five_sequential_async_streams_use_one_connection(url: str) -> None:
    async def scenario() -> set[str]:
        client = AsyncPowerTokens(api_key=KEY, base_url=url)
        _, before = descriptors()
        used: set[str] = set()
        for _ in range(5):
            async with client.stream(MESSAGES) as stream:
                assert (await stream.final_completion()).content
            used |= descriptors()[1] - before
        await client.close()
        return used

    assert len(asyncio.run(scenario())) == 1


def test_adapter_streams_reuse_their_connection(url: str) -> None:
    model = ChatPowerTokens(api_key=KEY, base_url=url)
    llm = LlamaPowerTokens(api_key=KEY, base_url=url)
    _, before = descriptors()
    used: set[str] = set()
    for _ in range(5):
        assert "".join(c.text for c in model.stream([HumanMessage(PROMPT)]))
        used |= descriptors()[1] - before
    assert len(used) == 1
    _, before = descriptors()
    used = set()
    for _ in range(5):
        assert list(llm.stream_chat([ChatMessage(role="user", content=PROMPT)]))
        used |= descriptors()[1] - before
    assert len(used) == 1
    model.close()
    llm.close()


# --- clients that go away, and clients that share ----------------------------------------


def _dropped(make: Callable[[], Any], call: Callable[[Any], Any]) -> int:
    """Sockets still open after ``make()``'s object made a call and was dropped (no GC)."""
    with collector_off():
        _, before = descriptors()
        target = make()
        call(target)
        del target
        _, after = descriptors()
    return len(after - before)


def test_a_dropped_client_or_model_closes_its_pool_at_once(url: str) -> None:
    # e.g. a model built per request by a configurable chain: no socket may outlive it
    assert _dropped(lambda: PowerTokens(api_key=KEY, base_url=url), lambda c: c.chat(MESSAGES)) == 0
    assert (
        _dropped(lambda: ChatPowerTokens(api_key=KEY, base_url=url), lambda m: m.invoke(PROMPT))
        == 0
    )
    message = [ChatMessage(role="user", content=PROMPT)]
    assert (
        _dropped(lambda: LlamaPowerTokens(api_key=KEY, base_url=url), lambda m: m.chat(message))
        == 0
    )


def test_with_options_shares_the_pool_and_close_releases_it_for_both(url: str) -> None:
    client = PowerTokens(api_key=KEY, base_url=url)
    strict = client.with_options(max_retries=0, timeout=30)
    assert (strict.max_retries, client.max_retries) == (0, 2)
    _, before = descriptors()
    client.chat(MESSAGES)
    strict.chat(MESSAGES)
    assert len(descriptors()[1] - before) == 1  # one connection served both
    strict.close()
    assert not descriptors()[1] - before  # closed for both...
    assert client.chat(MESSAGES).content  # ...and made again on the next call
    client.close()
