"""A stream the caller gives up on closes its connection: the emulator sees the client
go away mid-stream. Cancelling the task, breaking out and closing the iterator, or (sync)
breaking out of the loop, through the core and both adapters. The request slot of
``max_concurrent_requests`` comes back too: the next call is not stuck behind it.

Nothing sleeps: ``emu.wait_until`` blocks until the server has seen the disconnect.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage

from langchain_powertokens import ChatPowerTokens
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import AsyncPowerTokens, PowerTokens
from powertokens.emulator import Emulator

from .stacks import KEY, PROMPT, STACKS

PACED = "pace:20"  # 20 ms between events: the stream is surely mid-way when we stop


def build(stack: str, url: str, *, sync: bool = False) -> Any:
    """A client or model with one request slot: a leaked slot would block the next call."""
    options: dict[str, Any] = {"api_key": KEY, "base_url": url, "max_concurrent_requests": 1}
    if stack == "core":
        return (PowerTokens if sync else AsyncPowerTokens)(**options)
    if stack == "langchain":
        return ChatPowerTokens(**options)
    return LlamaPowerTokens(**options)


def messages(stack: str) -> Any:
    if stack == "core":
        return [{"role": "user", "content": PROMPT}]
    if stack == "langchain":
        return PROMPT
    return [ChatMessage(role="user", content=PROMPT)]


async def astream(stack: str, target: Any) -> AsyncIterator[Any]:
    """The stack's async stream, as one async iterator of pieces."""
    if stack == "core":
        async with target.stream(messages(stack)) as stream:
            async for delta in stream:
                yield delta
    elif stack == "langchain":
        async for chunk in target.astream(messages(stack)):
            yield chunk
    else:
        async for response in await target.astream_chat(messages(stack)):
            yield response


def stream(stack: str, target: Any) -> Iterator[Any]:
    if stack == "core":
        with target.stream(messages(stack)) as deltas:
            yield from deltas
    elif stack == "langchain":
        yield from target.stream(messages(stack))
    else:
        yield from target.stream_chat(messages(stack))


async def answer(stack: str, target: Any) -> str:
    """One whole answer: proves the request slot was given back."""
    if stack == "core":
        return str((await target.chat(messages(stack))).content)
    if stack == "langchain":
        return str((await target.ainvoke(messages(stack))).text)
    return str((await target.achat(messages(stack))).message.content)


async def close(stack: str, target: Any) -> None:
    if stack == "core":
        await target.close()
    else:
        await target.aclose()


async def disconnected(emu: Emulator, count: int = 1) -> bool:
    return await asyncio.to_thread(emu.wait_until, lambda e: e.disconnects == count, 5.0)


@pytest.mark.parametrize("stack", STACKS)
async def test_a_cancelled_stream_closes_its_connection(stack: str, emu: Emulator) -> None:
    emu.push_fault(PACED)
    target = build(stack, emu.url)
    started = asyncio.Event()

    async def consume() -> None:
        async for _ in astream(stack, target):
            started.set()

    task = asyncio.create_task(consume())
    await started.wait()
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert await disconnected(emu)  # the server saw the client leave mid-stream
    assert await asyncio.wait_for(answer(stack, target), 10)  # the slot came back
    await close(stack, target)
    assert await asyncio.to_thread(emu.wait_until, lambda e: e.open_connections == 0, 5.0)


@pytest.mark.parametrize("stack", STACKS)
async def test_break_and_aclose_closes_the_connection(stack: str, emu: Emulator) -> None:
    emu.push_fault(PACED)
    target = build(stack, emu.url)
    pieces = astream(stack, target)
    async for _ in pieces:
        break
    await pieces.aclose()  # type: ignore[attr-defined]
    assert await disconnected(emu)
    assert await asyncio.wait_for(answer(stack, target), 10)
    await close(stack, target)


@pytest.mark.parametrize("stack", STACKS)
async def test_the_adapters_own_generators_close_the_connection(stack: str, emu: Emulator) -> None:
    """Closing what the framework hands out (``astream``'s or ``astream_chat``'s
    generator, the core's stream) directly, not a wrapper around it."""
    emu.push_fault(PACED)
    target = build(stack, emu.url)
    if stack == "core":
        handed_out: Any = target.stream(messages(stack))
    elif stack == "langchain":
        handed_out = target.astream(messages(stack))
    else:
        handed_out = await target.astream_chat(messages(stack))
    await handed_out.__anext__()
    await (handed_out.close() if stack == "core" else handed_out.aclose())
    assert await disconnected(emu)
    assert await asyncio.wait_for(answer(stack, target), 10)
    await close(stack, target)


@pytest.mark.parametrize("stack", STACKS)
def test_a_sync_stream_left_early_closes_its_connection(stack: str, emu: Emulator) -> None:
    emu.push_fault(PACED)
    target = build(stack, emu.url, sync=True)
    for _ in stream(stack, target):
        break
    assert emu.wait_until(lambda e: e.disconnects == 1, 5.0)
    if stack == "core":
        assert target.chat(messages(stack)).content  # the slot came back
    elif stack == "langchain":
        assert target.invoke(messages(stack)).text
    else:
        assert target.chat(messages(stack)).message.content
    target.close()
