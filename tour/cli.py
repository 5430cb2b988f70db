"""The tour's command line: options, the steps in order, the summary line."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from powertokens import (
    API_KEY_ENV,
    BASE_URL_ENV,
    KNOWN_MODELS,
    AuthenticationError,
    PowerTokensError,
)

from .console import Console
from .context import Context, StepFailed
from .service import connect

__all__ = ["STEPS", "main"]

# number, short name, title, module (imported only when the step runs)
STEPS: tuple[tuple[int, str, str, str], ...] = (
    (1, "lcel", "LCEL chain, streamed: prompt | ChatPowerTokens | StrOutputParser", "lcel"),
    (2, "agent", "Tool-calling agent loop with .bind_tools()", "agent"),
    (3, "rag", "LlamaIndex RAG query engine, answering with sources", "rag"),
    (4, "structured", "Structured output into a pydantic object", "structured"),
)
DEFAULT_MODEL = "glm-5"
DEFAULT_PACE_MS = 8.0


def _steps(text: str) -> list[int]:
    """``1,3``, ``2-4``, ``rag,agent`` or ``all`` -> step numbers in tour order."""
    by_name = {name: number for number, name, _, _ in STEPS}
    chosen: set[int] = set()
    for part in (p.strip().lower() for p in text.split(",")):
        if part == "all":
            chosen.update(by_name.values())
        elif part in by_name:
            chosen.add(by_name[part])
        elif "-" in part and all(x.strip().isdigit() for x in part.split("-", 1)):
            low, high = (int(x) for x in part.split("-", 1))
            chosen.update(range(low, high + 1))
        elif part.isdigit():
            chosen.add(int(part))
        else:
            raise argparse.ArgumentTypeError(f"unknown step {part!r}")
    if not chosen or not chosen <= set(by_name.values()):
        raise argparse.ArgumentTypeError(f"steps are 1-{len(STEPS)} (got {text!r})")
    return sorted(chosen)


def _parser() -> argparse.ArgumentParser:
    steps = "\n".join(f"  {n}. {name:<11} {title}" for n, name, title, _ in STEPS)
    parser = argparse.ArgumentParser(
        prog="python demo.py",
        description=(
            "A guided tour of PowerTokens: GLM models from LangChain and LlamaIndex,\n"
            "streamed, with the reasoning shown apart from the answer.\n\n"
            f"With {API_KEY_ENV} unset it starts the built-in emulator (offline,\n"
            "deterministic answers) and says so; with the key set it uses the real service."
        ),
        epilog=f"steps:\n{steps}\n  then a summary line with the token usage of every call.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "--model",
        default=DEFAULT_MODEL,
        help=f"model for every step (default {DEFAULT_MODEL}; known: {', '.join(KNOWN_MODELS)})",
    )
    parser.add_argument(
        "--steps",
        type=_steps,
        default=[n for n, *_ in STEPS],
        metavar="LIST",
        help="which steps to run, by number or name: 1,3 or 2-4 or rag,agent (default: all)",
    )
    parser.add_argument(
        "--base-url",
        metavar="URL",
        help=f"the service's base URL (default: ${BASE_URL_ENV}, else the public endpoint); "
        f"needs {API_KEY_ENV}",
    )
    parser.add_argument(
        "--emulator",
        action="store_true",
        help=f"use the built-in emulator even when {API_KEY_ENV} is set",
    )
    parser.add_argument(
        "--pace",
        type=float,
        default=DEFAULT_PACE_MS,
        metavar="MS",
        help=f"emulator only: milliseconds between stream events (default {DEFAULT_PACE_MS:g})",
    )
    parser.add_argument(
        "--docs",
        type=Path,
        metavar="DIR",
        help="folder of .md/.txt files for the RAG step (default: examples/data)",
    )
    parser.add_argument(
        "--color",
        choices=("auto", "always", "never"),
        default="auto",
        help="colour output (default auto: on a terminal, unless NO_COLOR is set)",
    )
    return parser


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'s' * (count != 1)}"


def _summary(ctx: Context, steps: int, seconds: float) -> str:
    t, dot = ctx.tally, ctx.console.dot
    return (
        f"{_plural(steps, 'step')} in {seconds:.1f} s {dot} {_plural(t.calls, 'model call')} "
        f"{dot} tokens: {t.prompt:,} prompt ({t.cached:,} cached) + {t.completion:,} "
        f"completion ({t.reasoning:,} reasoning) = {t.total:,} total"
    )


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    if args.base_url and not os.environ.get(API_KEY_ENV) and not args.emulator:
        parser.error(f"--base-url needs {API_KEY_ENV} (any value for your own emulator)")
    if args.docs is not None and not args.docs.is_dir():
        parser.error(f"--docs {args.docs}: not a folder")
    console = Console(color=args.color)
    selected = [s for s in STEPS if s[0] in args.steps]
    console.line(f"{console.style('PowerTokens tour', 'bold')} {console.dot} model {args.model}")
    started = time.perf_counter()
    with connect(args.base_url, force_emulator=args.emulator, pace=args.pace / 1000) as (
        service,
        said,
    ):
        console.line(console.style(said, "yellow" if service.emulated else "green"))
        ctx = Context(console, service, args.model, docs=args.docs)
        for number, _, title, module in selected:
            console.header(f"{number}. {title}")
            step: Callable[[Context], None] = importlib.import_module(f"{__package__}.{module}").run
            try:
                step(ctx)
            except (PowerTokensError, StepFailed) as exc:
                console.error(f"step {number} failed: {type(exc).__name__}: {exc}")
                if isinstance(exc, AuthenticationError):
                    console.error(f"check {API_KEY_ENV}")
                return 1
        console.header("Summary")
        mark = console.style("✓" if console.unicode else "OK", "bold", "green")
        console.line(f"{mark} {_summary(ctx, len(selected), time.perf_counter() - started)}")
    return 0


def run() -> None:
    """Entry point: ``main()`` with Ctrl-C as a quiet exit."""
    try:
        code = main()
    except KeyboardInterrupt:
        print("\ninterrupted", file=sys.stderr)
        code = 130
    raise SystemExit(code)
