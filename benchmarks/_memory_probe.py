"""Resident set size over N non-stream calls of one of our clients (run by ``run.py``).

    python benchmarks/_memory_probe.py "ChatPowerTokens" 10000

Prints one JSON line: RSS after a warm-up, at every tenth of the run, and the growth.
A leak shows as growth that keeps climbing through the second half; allocator warm-up
does not.
"""

from __future__ import annotations

import gc
import json
import os
import resource
import sys
import warnings
from collections.abc import Callable
from typing import Any

from _wire import API_KEY, BASE_URL, MODEL, QUESTION, Answerer, clients, completion

_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def rss_bytes() -> int:
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * _PAGE
    except OSError:  # not Linux: the peak is the best we have (kB on Linux, bytes on macOS)
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


def caller(name: str) -> Callable[[], Any]:
    sync, _ = clients(Answerer(completion()))
    if name == "powertokens (core)":
        from powertokens import PowerTokens

        client = PowerTokens(api_key=API_KEY, base_url=BASE_URL, http_client=sync)
        messages = [{"role": "user", "content": QUESTION}]
        return lambda: client.chat(messages, model=MODEL)
    if name == "ChatPowerTokens":
        from langchain_powertokens import ChatPowerTokens

        model = ChatPowerTokens(model=MODEL, api_key=API_KEY, base_url=BASE_URL, http_client=sync)
        return lambda: model.invoke(QUESTION)
    if name == "PowerTokens (llama-index)":
        from llama_index.core.base.llms.types import ChatMessage

        from llama_index_powertokens import PowerTokens

        llm = PowerTokens(model=MODEL, api_key=API_KEY, base_url=BASE_URL, http_client=sync)
        chat = [ChatMessage(role="user", content=QUESTION)]
        return lambda: llm.chat(chat)
    raise SystemExit(f"unknown contender {name!r}")


def main() -> None:
    name, calls = sys.argv[1], int(sys.argv[2])
    warnings.simplefilter("ignore")
    call = caller(name)
    for _ in range(max(100, calls // 10)):  # warm-up: caches, pools, allocator arenas
        call()
    gc.collect()
    start = rss_bytes()
    samples = [start]
    step = max(1, calls // 10)
    for _tenth in range(calls // step):
        for _ in range(step):
            call()
        samples.append(rss_bytes())
    gc.collect()
    end = rss_bytes()
    mib = 1024 * 1024
    print(
        json.dumps(
            {
                "calls": calls,
                "rss_start_mib": start / mib,
                "rss_end_mib": end / mib,
                "growth_mib": (end - start) / mib,
                "second_half_growth_mib": (samples[-1] - samples[len(samples) // 2]) / mib,
                "bytes_per_call": (end - start) / calls,
                "samples_mib": [s / mib for s in samples],
            }
        )
    )


if __name__ == "__main__":
    main()
