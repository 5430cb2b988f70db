"""Measurements that need a fresh interpreter: import time and memory growth.

Import time: each module in its own fresh ``python -c`` process, timed around the import
statement itself (interpreter start-up excluded), median of several, the modules
interleaved round by round. Bytecode caching is left on (an untimed import first fills
``__pycache__``), as for any installed package: with ``PYTHONDONTWRITEBYTECODE`` set, an
editable checkout would recompile its sources on every import while site-packages
loads compiled files, which measures the install, not the code.

Memory: ``_memory_probe.py`` runs 10,000 non-stream calls of one of our clients over the
mock transport in a fresh process and reports its resident set along the way.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

__all__ = ["IMPORTS", "import_times", "memory_growth"]

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

IMPORTS: tuple[tuple[str, str, str, tuple[str, ...]], ...] = (
    # (label, group, kind, modules imported, in order)
    ("powertokens", "core", "ours", ("powertokens",)),
    ("openai", "core", "alternative", ("openai",)),
    ("httpx + pydantic", "core", "floor", ("httpx", "pydantic")),
    ("langchain_powertokens", "langchain", "ours", ("langchain_powertokens",)),
    ("langchain_openai", "langchain", "alternative", ("langchain_openai",)),
    (
        "BaseChatModel + httpx",
        "langchain",
        "floor",
        ("langchain_core.language_models.chat_models", "httpx"),
    ),
    ("llama_index_powertokens", "llama-index", "ours", ("llama_index_powertokens",)),
    (
        "llama_index.llms.openai_like",
        "llama-index",
        "alternative",
        ("llama_index.llms.openai_like",),
    ),
    (
        "FunctionCallingLLM + httpx",
        "llama-index",
        "floor",
        ("llama_index.core.llms.function_calling", "httpx"),
    ),
)

_TIMER = (
    "import importlib, time\n"
    "start = time.perf_counter()\n"
    "for name in {modules!r}: importlib.import_module(name)\n"
    "print(time.perf_counter() - start)\n"
)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(ROOT), env.get("PYTHONPATH")) if p)
    return env


def _time_import(modules: tuple[str, ...], env: dict[str, str]) -> float:
    out = subprocess.run(
        [sys.executable, "-c", _TIMER.format(modules=modules)],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def import_times(
    reps: int,
    jobs: int = 1,
    progress: Callable[[str], None] = print,
    groups: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """``{label: {group, kind, modules, seconds (median), samples}}``.

    ``jobs`` > 1 runs that many imports at once, and ``groups`` keeps only those groups
    of ``IMPORTS``: only for the quick mode, whose figures prove the code runs, not how
    fast.
    """
    progress(f"import time ({reps} fresh processes per module) ...")
    env = _env()
    imports = tuple(entry for entry in IMPORTS if groups is None or entry[1] in groups)
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        if reps > 1:  # our sources' __pycache__ (site-packages got theirs at install)
            ours = [entry for entry in imports if entry[2] == "ours"]
            list(pool.map(lambda entry: _time_import(entry[3], env), ours))
        samples: dict[str, list[float]] = {label: [] for label, *_ in imports}
        for r in range(reps):
            shift = r % len(imports)
            order = imports[shift:] + imports[:shift]
            times = pool.map(lambda entry: _time_import(entry[3], env), order)
            for (label, *_), seconds in zip(order, times, strict=True):
                samples[label].append(seconds)
    progress(f"  import time: {reps} fresh processes per module, done")
    return {
        label: {
            "group": group,
            "kind": kind,
            "modules": list(modules),
            "seconds": statistics.median(samples[label]),
            "samples": samples[label],
        }
        for label, group, kind, modules in imports
    }


MEMORY_CONTENDERS = ("powertokens (core)", "ChatPowerTokens", "PowerTokens (llama-index)")


def _probe(name: str, calls: int) -> dict[str, Any]:
    out = subprocess.run(
        [sys.executable, str(HERE / "_memory_probe.py"), name, str(calls)],
        capture_output=True,
        text=True,
        env=_env(),
        cwd=ROOT,
        check=True,
    )
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def memory_growth(
    calls: int, jobs: int = 1, progress: Callable[[str], None] = print
) -> dict[str, Any]:
    """Resident set growth over ``calls`` non-stream calls, per contender (own process)."""
    progress(f"memory ({calls} calls per contender, each in a fresh process) ...")
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        found = pool.map(lambda name: _probe(name, calls), MEMORY_CONTENDERS)
        results = dict(zip(MEMORY_CONTENDERS, found, strict=True))
    progress("  memory: done")
    return results
