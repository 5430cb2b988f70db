"""``python -m powertokens.emulator``: serve the emulator until SIGINT or SIGTERM."""

from __future__ import annotations

import argparse
import signal
import sys
import threading
from collections.abc import Sequence
from types import FrameType

from .server import Emulator


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m powertokens.emulator",
        description="A local PowerTokens (GLM chat completions) emulator for tests and demos.",
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (127.0.0.1)")
    parser.add_argument("--port", type=int, default=8787, help="port to bind; 0 picks a free one")
    parser.add_argument(
        "--api-key",
        action="append",
        dest="api_keys",
        metavar="KEY",
        help="accept only this bearer token (repeatable); default: any non-empty token",
    )
    parser.add_argument(
        "--max-concurrency",
        type=int,
        default=None,
        help="answer 429/1302 beyond N requests in flight",
    )
    parser.add_argument(
        "--tool-stream", action="store_true", help="stream tool-call arguments in pieces"
    )
    parser.add_argument("--seed", type=int, default=0, help="vary deterministic choices")
    parser.add_argument(
        "--chunk-delay-ms", type=float, default=0.0, help="pause between stream events"
    )
    parser.add_argument(
        "--idle-timeout",
        type=float,
        default=30.0,
        help="close a connection that sends nothing for this many seconds while a request "
        "is awaited (408 if part of one arrived); 0 turns it off",
    )
    parser.add_argument(
        "--log-budget-mib",
        type=float,
        default=64.0,
        help="bytes of request bodies the request log keeps, in MiB (oldest dropped first)",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the emulator in the foreground; returns the exit status."""
    args = _parser().parse_args(argv)
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    emulator = Emulator(
        host=args.host,
        port=args.port,
        api_keys=args.api_keys,
        max_concurrency=args.max_concurrency,
        tool_stream=args.tool_stream,
        seed=args.seed,
        chunk_delay=args.chunk_delay_ms / 1000.0,
        idle_timeout=args.idle_timeout or None,
        log_budget=int(args.log_budget_mib * 2**20),
    )
    emulator.start()
    print(f"PowerTokens emulator listening on {emulator.url}", flush=True)
    try:
        stop.wait()
    finally:
        emulator.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
