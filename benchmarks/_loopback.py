"""Concurrent async streams over real loopback HTTP against the emulator.

The emulator runs in its own process (``python -m powertokens.emulator --port 0``, which
prints the URL it bound). In-process, its event loop thread would share the GIL with
the client under test, so a client that burns more CPU would also slow the server it
is timed against; in its own process the server gets its own core and every contender
meets the same server.

Every contender gets its own ``httpx.AsyncClient`` with the same pool limits (enough
connections for every stream at once, 20 kept alive between rounds) and timeouts. A
round starts N streams at once and waits for all; streams/s is N over the wall time.
Each stream's text must equal the non-stream answer to the same prompt (the emulator
is deterministic): a stream that raised is an error, one whose text differs lost tokens.
(Raw httpx is not run here: the per-call section already measures it, and at 1,000
streams its line iterator alone would take a third of the section's time.)
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _wire import API_KEY, MODEL

__all__ = ["LoopbackPlan", "emulator_process", "measure"]

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = httpx.Timeout(300.0, connect=60.0, pool=300.0)

StreamFn = Callable[[str], Awaitable[str]]


@dataclass(frozen=True)
class LoopbackPlan:
    sizes: tuple[tuple[int, int], ...]
    """(streams at once, rounds) pairs."""
    warmup: int = 20
    prompts: int = 100
    """Distinct prompts (stream i asks prompt i mod this)."""


@contextlib.contextmanager
def emulator_process() -> Iterator[str]:
    """Start the emulator in a subprocess; yields its base URL; stops it (by pid)."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "powertokens.emulator", "--port", "0"],
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        env=env,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        if "listening on" not in line:
            raise RuntimeError(f"the emulator did not start: {line!r}")
        yield line.rsplit(" ", 1)[-1].strip()
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def prompt(i: int) -> str:
    return f"Tell me about benchmark number {i} and why it matters?"


def expected_answers(url: str, prompts: int) -> tuple[list[str], int]:
    """The non-stream answer to every prompt (what each stream's text must equal), and
    how many chunks the stream of the first prompt has."""
    answers = []
    headers = {"Authorization": f"Bearer {API_KEY}"}
    with httpx.Client(timeout=TIMEOUT) as client:
        for i in range(prompts):
            body = {"model": MODEL, "messages": [{"role": "user", "content": prompt(i)}]}
            response = client.post(f"{url}/chat/completions", json=body, headers=headers)
            response.raise_for_status()
            answers.append(response.json()["choices"][0]["message"]["content"])
        body["stream"] = True
        response = client.post(f"{url}/chat/completions", json=body, headers=headers)
        chunks = response.content.count(b"data: {")
    return answers, chunks


# --- the contenders (async streams only) ------------------------------------------------


def _http() -> httpx.AsyncClient:
    # Enough connections for every stream at once, and at most 20 kept idle between rounds
    # (httpx's default and the core's): on each request and release, httpcore 1.0.9's pool
    # polls every idle socket and re-counts its connections for each idle one, so with a
    # thousand idle keep-alive connections its bookkeeping, not the client, is what a round
    # would measure (encode/httpcore#1035). Every contender gets the same limits.
    limits = httpx.Limits(max_connections=1100, max_keepalive_connections=20)
    return httpx.AsyncClient(limits=limits, timeout=TIMEOUT)


def _core(url: str, http: httpx.AsyncClient) -> StreamFn:
    from powertokens import AsyncPowerTokens

    client = AsyncPowerTokens(api_key=API_KEY, base_url=url, http_client=http)

    async def stream(text: str) -> str:
        out: list[str] = []
        async with client.stream([{"role": "user", "content": text}], model=MODEL) as s:
            async for delta in s:
                if delta.content:
                    out.append(delta.content)
        return "".join(out)

    return stream


def _langchain(model: Any) -> StreamFn:
    async def stream(text: str) -> str:
        return "".join([chunk.content async for chunk in model.astream(text)])

    return stream


def _chat_powertokens(url: str, http: httpx.AsyncClient) -> StreamFn:
    from langchain_powertokens import ChatPowerTokens

    return _langchain(
        ChatPowerTokens(model=MODEL, api_key=API_KEY, base_url=url, http_async_client=http)
    )


def _chat_openai(url: str, http: httpx.AsyncClient) -> StreamFn:
    from langchain_openai import ChatOpenAI

    return _langchain(
        ChatOpenAI(model=MODEL, api_key=API_KEY, base_url=url, http_async_client=http)
    )


def _llama(llm: Any) -> StreamFn:
    from llama_index.core.base.llms.types import ChatMessage

    async def stream(text: str) -> str:
        messages = [ChatMessage(role="user", content=text)]
        return "".join([r.delta or "" async for r in await llm.astream_chat(messages)])

    return stream


def _llama_powertokens(url: str, http: httpx.AsyncClient) -> StreamFn:
    from llama_index_powertokens import PowerTokens

    return _llama(PowerTokens(model=MODEL, api_key=API_KEY, base_url=url, async_http_client=http))


def _openai_like(url: str, http: httpx.AsyncClient) -> StreamFn:
    from llama_index.llms.openai_like import OpenAILike

    return _llama(
        OpenAILike(
            model=MODEL,
            api_key=API_KEY,
            api_base=url,
            is_chat_model=True,
            context_window=200_000,
            async_http_client=http,
        )
    )


CONTENDERS: tuple[tuple[str, str, str, Callable[[str, httpx.AsyncClient], StreamFn]], ...] = (
    ("powertokens (core)", "core", "ours", _core),
    ("ChatPowerTokens", "langchain", "ours", _chat_powertokens),
    ("ChatOpenAI", "langchain", "alternative", _chat_openai),
    ("PowerTokens (llama-index)", "llama-index", "ours", _llama_powertokens),
    ("OpenAILike", "llama-index", "alternative", _openai_like),
)


# --- the run ----------------------------------------------------------------------------


@dataclass
class _Tally:
    rates: list[float]
    errors: int = 0
    lost: int = 0
    streams: int = 0
    first_error: str = ""


async def _round(stream: StreamFn, n: int, expected: list[str], tally: _Tally) -> float:
    async def one(i: int) -> str:
        return await stream(prompt(i % len(expected)))

    start = time.perf_counter()
    results = await asyncio.gather(*(one(i) for i in range(n)), return_exceptions=True)
    elapsed = time.perf_counter() - start
    tally.streams += n
    for i, result in enumerate(results):
        if isinstance(result, BaseException):
            tally.errors += 1
            tally.first_error = tally.first_error or f"{type(result).__name__}: {result}"[:200]
        elif result != expected[i % len(expected)]:
            tally.lost += 1
    return n / elapsed


async def _run(
    url: str, plan: LoopbackPlan, expected: list[str], progress: Callable[[str], None]
) -> dict[str, Any]:
    https = []
    streams: dict[str, StreamFn] = {}
    for name, _, _, factory in CONTENDERS:
        http = _http()
        https.append(http)
        streams[name] = factory(url, http)
    names = list(streams)
    out: dict[str, Any] = {}
    try:
        for name in names:  # warm up: imports, pools, first-call caches
            await _round(streams[name], plan.warmup, expected, _Tally([]))
        gc.collect()
        gc.freeze()  # see _percall: collections cost what the rounds allocate
        for size, rounds in plan.sizes:
            tallies = {name: _Tally([]) for name in names}
            started = time.perf_counter()
            for r in range(rounds):
                shift = r % len(names)
                for name in names[shift:] + names[:shift]:
                    rate = await _round(streams[name], size, expected, tallies[name])
                    tallies[name].rates.append(rate)
            out[str(size)] = {
                name: {
                    "rounds_run": rounds,
                    "streams_per_s": statistics.median(t.rates),
                    "rounds": t.rates,
                    "streams": t.streams,
                    "errors": t.errors,
                    "lost": t.lost,
                    "first_error": t.first_error,
                }
                for name, t in tallies.items()
            }
            progress(
                f"  loopback {size} concurrent streams, {rounds} rounds "
                f"({time.perf_counter() - started:.1f} s)"
            )
    finally:
        for http in https:
            await http.aclose()
    return out


def measure(plan: LoopbackPlan, progress: Callable[[str], None] = print) -> dict[str, Any]:
    """``{size: {contender: {streams_per_s, errors, lost, ...}}}`` plus the stream length."""
    with emulator_process() as url:
        expected, chunks = expected_answers(url, plan.prompts)
        results = asyncio.run(_run(url, plan, expected, progress))
    return {
        "chunks_per_stream": chunks,
        "sizes": results,
        "contenders": {name: {"group": g, "kind": k} for name, g, k, _ in CONTENDERS},
    }
