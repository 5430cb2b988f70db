"""Per-call cost over the mock transport: interleaved rounds, medians.

For each case and mode, every contender is checked once against the canned answer,
warmed up, then timed in rounds: in each round every contender runs one batch of
calls, in an order rotated from round to round, so slow phases of a shared machine
hit every contender alike. The figure is the median over rounds of the per-call CPU
time (see ``_clock``).

Objects alive before the rounds are frozen out of the cyclic collector (``gc.freeze``),
so a collection costs what the timed calls allocated.
"""

from __future__ import annotations

import asyncio
import gc
import statistics
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from _contenders import CASES, Contender, Result
from _wire import Answerer, Canned

__all__ = ["PerCallPlan", "measure"]


@dataclass(frozen=True)
class PerCallPlan:
    rounds: int
    batch: dict[str, int]  # calls per timed batch, per case
    warmup: int = 2


def _check(contender: Contender, case: str, mode: str, canned: Canned, result: Result) -> None:
    expected_calls = tuple((name, args) for _, name, args in canned.tool_calls)
    if result.text != canned.text or result.calls != expected_calls:
        raise AssertionError(
            f"{contender.name} ({case}, {mode}) gave a wrong answer: "
            f"text {result.text[:60]!r}... calls {result.calls!r}"
        )


# CPU time of this process: nothing here waits (the transport answers in memory), so on
# an idle machine it equals wall time, and on a shared one it leaves out the moments
# another process held the core.
_clock = time.process_time


def _time_sync(call: Callable[[], Result], n: int) -> float:
    start = _clock()
    for _ in range(n):
        call()
    return (_clock() - start) / n


async def _time_async(call: Callable[[], Awaitable[Result]], n: int) -> float:
    start = _clock()
    for _ in range(n):
        await call()
    return (_clock() - start) / n


def measure(
    contenders: list[Contender],
    answerer: Answerer,
    cases: dict[str, Canned],
    plan: PerCallPlan,
    loop: asyncio.AbstractEventLoop,
    progress: Callable[[str], None] = print,
) -> dict[str, dict[str, dict[str, float]]]:
    """``{case: {mode: {contender: median seconds per call}}}``."""
    results: dict[str, dict[str, dict[str, float]]] = {}
    for case in CASES:
        canned = cases[case]
        answerer.canned = canned
        n = plan.batch[case]
        results[case] = {}
        for mode in ("sync", "async"):
            samples: dict[str, list[float]] = {c.name: [] for c in contenders}
            for contender in contenders:
                for i in range(plan.warmup):
                    if mode == "sync":
                        result = contender.sync[case]()
                    else:
                        result = loop.run_until_complete(contender.aio[case]())
                    if i == 0:
                        _check(contender, case, mode, canned, result)
            # Everything alive now (modules, clients, caches) is set aside, so that a
            # collection costs what the timed calls allocated, not the size of the
            # three frameworks' module graphs (a full collection is ~0.3 s otherwise).
            gc.collect()
            gc.freeze()
            started = time.perf_counter()
            for r in range(plan.rounds):
                shift = r % len(contenders)
                for contender in contenders[shift:] + contenders[:shift]:
                    gc.collect()
                    if mode == "sync":
                        seconds = _time_sync(contender.sync[case], n)
                    else:
                        seconds = loop.run_until_complete(_time_async(contender.aio[case], n))
                    samples[contender.name].append(seconds)
            results[case][mode] = {name: statistics.median(s) for name, s in samples.items()}
            progress(
                f"  per-call {case:6} {mode:5} {plan.rounds} rounds x {n} calls "
                f"({time.perf_counter() - started:.1f} s)"
            )
    return results
