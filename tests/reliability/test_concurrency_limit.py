"""``max_concurrent_requests`` is one limit per client or model instance, shared by every
kind of call made through it: a mixed burst (calls, streams, batches, tool and
structured-output runnables; async tasks or threads) against a plan of 3 concurrent
requests draws no 1302 with the limit at 3, and does without it (``max_retries=0``, so
each 1302 surfaces)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, Field

from langchain_powertokens import ChatPowerTokens
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import AsyncPowerTokens, PowerTokens, RateLimitError
from powertokens.emulator import Emulator

from .stacks import KEY

PLAN = 3  # the plan's concurrent requests
PROMPT = "echo: " + " ".join(f"w{i}" for i in range(12))


class City(BaseModel):
    """A city."""

    name: str = Field(description="The city's name")


def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"Sunny in {city}"


@pytest.fixture(scope="module")
def plan() -> Iterator[Emulator]:
    # Paced streams hold their slot for a while, so an unlimited burst surely overlaps.
    with Emulator(api_keys={KEY}, max_concurrency=PLAN, chunk_delay=0.003) as emu:
        yield emu


@pytest.fixture
def emu(plan: Emulator) -> Emulator:
    plan.reset()
    return plan


def rate_limited(emu: Emulator) -> int:
    return sum(r.status == 429 for r in emu.requests)


def langchain_burst(model: ChatPowerTokens) -> list[Any]:
    tools, structured = model.bind_tools([get_weather]), model.with_structured_output(City)

    async def stream() -> str:
        return "".join([c.text async for c in model.astream(PROMPT)])

    return [
        *(model.ainvoke(PROMPT) for _ in range(4)),
        *(stream() for _ in range(4)),
        model.abatch([PROMPT] * 4),
        *(tools.ainvoke("What is the weather in Paris?") for _ in range(2)),
        *(structured.ainvoke("Name a city in Norway.") for _ in range(2)),
    ]


def llama_index_burst(llm: LlamaPowerTokens) -> list[Any]:
    messages = [ChatMessage(role="user", content=PROMPT)]
    tool = FunctionTool.from_defaults(get_weather)

    async def stream_chat() -> str:
        return "".join([r.delta or "" async for r in await llm.astream_chat(messages)])

    async def stream_complete() -> str:
        return "".join([r.delta or "" async for r in await llm.astream_complete(PROMPT)])

    return [
        *(llm.achat(messages) for _ in range(4)),
        *(stream_chat() for _ in range(4)),
        *(llm.acomplete(PROMPT) for _ in range(2)),
        *(stream_complete() for _ in range(2)),
        *(llm.achat_with_tools([tool], user_msg="Weather in Paris?") for _ in range(2)),
    ]


def core_burst(client: AsyncPowerTokens) -> list[Any]:
    messages = [{"role": "user", "content": PROMPT}]

    async def stream() -> str:
        async with client.stream(messages) as deltas:
            return "".join([d.content async for d in deltas])

    return [*(client.chat(messages) for _ in range(6)), *(stream() for _ in range(6))]


BURSTS: dict[str, tuple[Callable[..., Any], Callable[[Any], list[Any]]]] = {
    "core": (AsyncPowerTokens, core_burst),
    "langchain": (ChatPowerTokens, langchain_burst),
    "llama_index": (LlamaPowerTokens, llama_index_burst),
}


async def _run(stack: str, emu: Emulator, limit: int | None) -> list[Any]:
    cls, burst = BURSTS[stack]
    target = cls(api_key=KEY, base_url=emu.url, max_retries=0, max_concurrent_requests=limit)
    try:
        return await asyncio.gather(*burst(target), return_exceptions=True)
    finally:
        await (target.close() if stack == "core" else target.aclose())


@pytest.mark.parametrize("stack", list(BURSTS))
async def test_a_mixed_async_burst_queues_under_the_limit(stack: str, emu: Emulator) -> None:
    results = await _run(stack, emu, PLAN)
    assert [r for r in results if isinstance(r, BaseException)] == []
    assert rate_limited(emu) == 0
    assert emu.request_count >= len(results)


@pytest.mark.parametrize("stack", list(BURSTS))
async def test_the_same_burst_without_the_limit_draws_1302s(stack: str, emu: Emulator) -> None:
    results = await _run(stack, emu, None)
    errors = [r for r in results if isinstance(r, BaseException)]
    assert errors  # the control: this burst does exceed the plan
    assert all(isinstance(e, RateLimitError) and e.code == "1302" for e in errors)
    assert rate_limited(emu) >= len(errors)  # (one abatch result holds several calls)


@pytest.mark.parametrize("stack", list(BURSTS))
def test_threads_share_the_limit_of_one_instance(stack: str, emu: Emulator) -> None:
    """Sync calls from many threads (``batch`` uses a thread pool) share the same limit."""
    options = {"api_key": KEY, "base_url": emu.url, "max_retries": 0}
    if stack == "core":
        client = PowerTokens(**options, max_concurrent_requests=PLAN)
        messages = [{"role": "user", "content": PROMPT}]

        def call(i: int) -> Any:
            if i % 2:
                return client.chat(messages).content
            with client.stream(messages) as deltas:
                return "".join(d.content for d in deltas)

    elif stack == "langchain":
        model = ChatPowerTokens(**options, max_concurrent_requests=PLAN)
        assert len(model.batch([PROMPT] * 8, config={"max_concurrency": 8})) == 8

        def call(i: int) -> Any:
            return model.invoke(PROMPT) if i % 2 else list(model.stream(PROMPT))

    else:
        llm = LlamaPowerTokens(**options, max_concurrent_requests=PLAN)
        chat = [ChatMessage(role="user", content=PROMPT)]

        def call(i: int) -> Any:
            return llm.chat(chat) if i % 2 else list(llm.stream_complete(PROMPT))

    with ThreadPoolExecutor(max_workers=12) as pool:
        results = list(pool.map(call, range(12)))
    assert all(results)
    assert rate_limited(emu) == 0
