"""Pools and the concurrency limit, without sockets: threads and event loops only."""

from __future__ import annotations

import asyncio
import threading

import pytest

from powertokens import ConcurrencyLimit, RequestValidationError
from powertokens._pools import AsyncPools, SyncPool


def test_each_event_loop_gets_its_own_pool_closed_when_the_loop_ends() -> None:
    pools = AsyncPools()
    seen = []

    async def use() -> None:
        seen.append(pools.get())
        assert pools.get() is seen[-1]  # one per loop

    asyncio.run(use())
    asyncio.run(use())
    assert seen[0] is not seen[1]
    assert seen[0].is_closed  # asyncio.run's shutdown_asyncgens() closed it
    assert seen[1].is_closed


def test_a_pool_of_a_loop_closed_without_shutdown_is_dropped_on_next_use() -> None:
    pools = AsyncPools()
    loop = asyncio.new_event_loop()
    first = loop.run_until_complete(_get(pools))
    loop.close()  # no shutdown_asyncgens(): nothing could close the pool on it
    second = asyncio.run(_get(pools))
    assert second is not first
    assert len(pools._owned.asyncs) == 0  # neither is kept


async def _get(pools: AsyncPools) -> object:
    return pools.get()


def test_aclose_closes_now_and_the_next_call_gets_a_fresh_pool() -> None:
    pools = AsyncPools()

    async def scenario() -> None:
        first = pools.get()
        await pools.aclose()
        assert first.is_closed
        assert pools.get() is not first

    asyncio.run(scenario())


def test_the_sync_pool_is_made_lazily_and_remade_after_close() -> None:
    pool = SyncPool()
    first = pool.get()
    pool.close()
    assert first.is_closed
    assert pool.get() is not first


def test_a_garbage_sync_pool_is_closed_without_the_collector() -> None:
    pool = SyncPool()
    http = pool.get()
    del pool  # the pool object holds no cycle: refcounting finalizes it at once
    assert http.is_closed


@pytest.mark.parametrize("value", [0, -1, True, 1.5, "2"])
def test_a_limit_must_be_a_positive_integer(value: object) -> None:
    with pytest.raises(RequestValidationError, match="max_concurrent_requests"):
        ConcurrencyLimit(value)  # type: ignore[arg-type]


def test_a_sync_waiter_times_out_and_leaves_no_trace() -> None:
    limit = ConcurrencyLimit(1)
    assert limit.acquire(None)
    assert not limit.acquire(0.01)
    limit.release()
    assert limit.in_use == 0
    assert limit.acquire(0)
    limit.release()


def test_a_slot_freed_in_one_thread_reaches_a_waiter_in_another() -> None:
    limit = ConcurrencyLimit(1)
    assert limit.acquire(None)
    got: list[bool] = []
    thread = threading.Thread(target=lambda: got.append(limit.acquire(5)))
    thread.start()
    limit.release()
    thread.join()
    assert got == [True]
    assert limit.in_use == 1
    limit.release()


def test_waiters_are_served_first_come_first_served() -> None:
    limit = ConcurrencyLimit(1)
    order: list[int] = []

    async def take(i: int) -> None:
        assert await limit.acquire_async(5)
        order.append(i)
        await asyncio.sleep(0)
        limit.release()

    async def scenario() -> None:
        assert await limit.acquire_async(None)
        tasks = []
        for i in range(4):
            tasks.append(asyncio.ensure_future(take(i)))
            await asyncio.sleep(0)  # let it queue, in this order
        limit.release()
        await asyncio.gather(*tasks)

    asyncio.run(scenario())
    assert order == [0, 1, 2, 3]
    assert limit.in_use == 0


def test_one_limit_holds_across_two_event_loops_in_two_threads() -> None:
    limit = ConcurrencyLimit(2)
    peak = 0
    current = 0
    lock = threading.Lock()

    async def task() -> None:
        nonlocal peak, current
        assert await limit.acquire_async(5)
        with lock:
            current += 1
            peak = max(peak, current)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        with lock:
            current -= 1
        limit.release()

    async def burst() -> None:
        await asyncio.gather(*(task() for _ in range(50)))

    threads = [threading.Thread(target=asyncio.run, args=(burst(),)) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
        assert not thread.is_alive()
    assert peak == 2
    assert limit.in_use == 0


def test_an_async_waiter_times_out_or_is_cancelled_without_losing_a_slot() -> None:
    limit = ConcurrencyLimit(1)

    async def scenario() -> None:
        assert await limit.acquire_async(None)
        assert not await limit.acquire_async(0.01)
        waiter = asyncio.ensure_future(limit.acquire_async(None))
        await asyncio.sleep(0)
        waiter.cancel()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        limit.release()
        assert limit.in_use == 0
        assert await limit.acquire_async(0)
        limit.release()

    asyncio.run(scenario())


def test_a_slot_handed_to_a_cancelled_waiter_is_passed_on() -> None:
    limit = ConcurrencyLimit(1)

    async def scenario() -> None:
        assert await limit.acquire_async(None)
        first = asyncio.ensure_future(limit.acquire_async(None))
        second = asyncio.ensure_future(limit.acquire_async(None))
        await asyncio.sleep(0)
        limit.release()  # handed to `first`...
        first.cancel()  # ...which is cancelled before it runs
        with pytest.raises(asyncio.CancelledError):
            await first
        assert await asyncio.wait_for(second, 5)  # the slot went on to `second`
        limit.release()
        assert limit.in_use == 0

    asyncio.run(scenario())
