"""PowerTokens against the clients users would pick instead, side by side in one run.

    python benchmarks/run.py            # full mode (~5 min): docs/benchmarks.md's figures
    python benchmarks/run.py --quick    # smallest counts: the test suite runs it so it cannot rot
    python benchmarks/run.py --out DIR  # where latest.json / latest.md / chart.png go

What it measures (each section's module says how):

* per call, over an in-process ``httpx.MockTransport`` answering identical canned bytes
  (``_wire``): our core client, ``ChatPowerTokens`` and the LlamaIndex ``PowerTokens``
  against the openai SDK, ``ChatOpenAI`` and ``OpenAILike``, with raw httpx + json and
  each framework's no-I/O model as floors (``_floors``); non-stream, a long stream
  (reasoning then content) and a tool-call stream, sync and async (``_percall``);
* concurrent async streams over loopback HTTP against the emulator, with errors and
  lost tokens counted (``_loopback``);
* import time and resident-set growth, in fresh processes (``_subprocs``).

``bench_sse.py`` (run on its own) compares our SSE decoder with httpx-sse.

Results: a table on stdout, ``latest.json``, ``latest.md`` (the table) and ``chart.png``.
Absolute figures depend on the machine; the ratios, taken within one interleaved run,
are what the targets are about.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import sys
import time
import warnings
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import Any

import _adapters
import _contenders
import _report
from _loopback import LoopbackPlan
from _loopback import measure as loopback
from _percall import PerCallPlan
from _percall import measure as measure_per_call
from _subprocs import import_times, memory_growth
from _wire import Answerer, completion, stream, tool_stream

HERE = Path(__file__).resolve().parent
SECTIONS = ("percall", "loopback", "imports", "memory")
PACKAGES = (
    "powertokens",
    "httpx",
    "pydantic",
    "langchain-core",
    "langchain-openai",
    "openai",
    "llama-index-core",
    "llama-index-llms-openai-like",
)


@dataclass(frozen=True)
class Mode:
    name: str
    stream_chunks: int
    per_call: PerCallPlan
    loopback: LoopbackPlan
    import_reps: int
    memory_calls: int
    jobs: int = 1
    """Subprocess measurements run at once (quick mode only: its figures are not used)."""
    import_groups: tuple[str, ...] | None = None
    """The groups whose imports are timed (None: all; the quick mode: one group, which
    runs each kind -- ours, the alternative, the floor -- and the import target)."""


FULL = Mode(
    "full",
    stream_chunks=2000,
    per_call=PerCallPlan(rounds=30, batch={"invoke": 20, "stream": 1, "tools": 4}),
    loopback=LoopbackPlan(sizes=((200, 2), (1000, 1)), warmup=20),
    import_reps=4,
    memory_calls=10_000,
)
# The quick mode proves the benchmark runs (every contender, every case, each answer
# checked, every section written), not its figures: the smallest counts that run each
# code path -- two rounds (so a median of several), two loopback sizes (the chart's
# grouped bars), a stream of many chunks, the memory probe's minimum warm-up.
QUICK = Mode(
    "quick",
    stream_chunks=50,
    per_call=PerCallPlan(rounds=2, batch={"invoke": 1, "stream": 1, "tools": 1}, warmup=1),
    loopback=LoopbackPlan(sizes=((4, 1), (8, 1)), warmup=2, prompts=4),
    import_reps=1,
    memory_calls=100,
    jobs=max(2, os.cpu_count() or 2),
    import_groups=("langchain",),
)


_T0 = time.perf_counter()


def _log(message: str) -> None:
    print(f"[{time.perf_counter() - _T0:5.1f} s] {message}", file=sys.stderr, flush=True)


def _versions() -> dict[str, str]:
    out = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def per_call(mode: Mode) -> tuple[dict[str, Any], dict[str, Any]]:
    cases = {
        "invoke": completion(),
        "stream": stream(mode.stream_chunks),
        "tools": tool_stream(),
    }
    answerer = Answerer(cases["invoke"])
    scripts = (cases["invoke"], cases["stream"], cases["tools"])
    contenders = [  # grouped: core, LangChain, LlamaIndex
        _contenders.raw_httpx(answerer),
        _contenders.core(answerer),
        _contenders.openai_sdk(answerer),
        _adapters.langchain_floor(*scripts),
        _adapters.chat_powertokens(answerer),
        _adapters.chat_openai(answerer),
        _adapters.llama_floor(*scripts),
        _adapters.llama_powertokens(answerer),
        _adapters.openai_like(answerer),
    ]
    loop = asyncio.new_event_loop()
    try:
        results = measure_per_call(contenders, answerer, cases, mode.per_call, loop, _log)
        loop.run_until_complete(loop.shutdown_asyncgens())
    finally:
        loop.close()
    described = {c.name: {"group": c.group, "kind": c.kind} for c in contenders}
    return results, described


def run(mode: Mode, sections: tuple[str, ...]) -> dict[str, Any]:
    started = time.perf_counter()
    results: dict[str, Any] = {}
    with ThreadPoolExecutor(max_workers=1) as background:
        # The fresh-process sections: after the in-process ones in the full mode (so
        # nothing else runs while they are timed); alongside them in the quick mode.
        pending: dict[str, Future[dict[str, Any]]] = {}

        def subprocess_sections() -> None:
            if "imports" in sections:
                pending["imports"] = background.submit(
                    import_times, mode.import_reps, mode.jobs, _log, mode.import_groups
                )
            if "memory" in sections:
                pending["memory"] = background.submit(
                    memory_growth, mode.memory_calls, mode.jobs, _log
                )

        if mode.jobs > 1:
            subprocess_sections()
        if "percall" in sections:
            _log("per-call cost (mock transport) ...")
            results["per_call"], results["contenders"] = per_call(mode)
        if "loopback" in sections:
            _log("concurrent streams over loopback (emulator in a subprocess) ...")
            results["loopback"] = loopback(mode.loopback, _log)
        if mode.jobs == 1:
            subprocess_sections()
        for name, future in pending.items():
            results[name] = future.result()
    results["meta"] = {
        "mode": mode.name,
        "date": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "python": platform.python_version(),
        "platform": f"{platform.system()} {platform.machine()}",
        "cpus": os.cpu_count(),
        "seconds": time.perf_counter() - started,
        "stream_chunks": mode.stream_chunks,
        "plan": {
            "per_call_rounds": mode.per_call.rounds,
            "per_call_batch": mode.per_call.batch,
            "loopback_sizes_rounds": [list(pair) for pair in mode.loopback.sizes],
            "import_reps": mode.import_reps,
            "memory_calls": mode.memory_calls,
        },
        "versions": _versions(),
    }
    results["targets"] = _report.targets(results, mode.stream_chunks)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="small counts, under a minute")
    parser.add_argument(
        "--out",
        type=Path,
        default=None,
        help="output folder (default: benchmarks/results, or benchmarks/results/quick "
        "with --quick, so a quick run never replaces docs/benchmarks.md's figures)",
    )
    parser.add_argument(
        "--only",
        default=",".join(SECTIONS),
        help=f"comma-separated sections to run (default: all of {','.join(SECTIONS)})",
    )
    args = parser.parse_args(argv)
    sections = tuple(s.strip() for s in args.only.split(",") if s.strip())
    unknown = set(sections) - set(SECTIONS)
    if unknown:
        parser.error(f"unknown section(s): {', '.join(sorted(unknown))}")
    mode = QUICK if args.quick else FULL
    out: Path = args.out or (HERE / "results" / "quick" if args.quick else HERE / "results")
    warnings.simplefilter("ignore", DeprecationWarning)

    results = run(mode, sections)
    table = _report.markdown(results)
    out.mkdir(parents=True, exist_ok=True)
    (out / "latest.json").write_text(json.dumps(results, indent=2, ensure_ascii=False) + "\n")
    (out / "latest.md").write_text(table + "\n")
    _report.chart(results, out / "chart.png")
    print(table)
    _log(f"wrote {out / 'latest.json'}, {out / 'latest.md'}, {out / 'chart.png'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
