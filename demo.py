"""The main job: a short tour of PowerTokens, offline by default.

With ``POWERTOKENS_API_KEY`` unset it starts the built-in emulator on loopback and
says so; with the key set it talks to the real service (``POWERTOKENS_BASE_URL`` or
the public endpoint).
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from collections.abc import Iterator

from powertokens import DEFAULT_MODEL, PowerTokens, PowerTokensError
from powertokens.emulator import Emulator

DIM, BOLD, RESET = "\033[2m", "\033[1m", "\033[0m"


@contextlib.contextmanager
def service(base_url: str | None) -> Iterator[tuple[str | None, str | None]]:
    """(api_key, base_url) of the real service, or of an emulator started here."""
    key = os.environ.get("POWERTOKENS_API_KEY")
    if key:
        where = base_url or os.environ.get("POWERTOKENS_BASE_URL") or "the default endpoint"
        print(f"Using the real service at {where}.")
        yield key, base_url
        return
    with Emulator() as emu:
        print(f"POWERTOKENS_API_KEY is not set: using the built-in emulator at {emu.url}")
        yield "emulator-key", emu.url


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default=DEFAULT_MODEL, help="model name (default %(default)s)")
    parser.add_argument("--base-url", default=None, help="service base URL (real service only)")
    parser.add_argument(
        "--question",
        default="Explain vector databases in three sentences.",
        help="what to ask",
    )
    args = parser.parse_args(argv)
    color = sys.stdout.isatty()
    dim, bold, reset = (DIM, BOLD, RESET) if color else ("", "", "")

    with service(args.base_url) as (key, url), PowerTokens(api_key=key, base_url=url) as client:
        messages = [
            {"role": "system", "content": "You are a concise and professional assistant."},
            {"role": "user", "content": args.question},
        ]
        print(f"\n{bold}Q:{reset} {args.question}  ({args.model}, streamed)")
        phase = ""
        try:
            with client.stream(messages, model=args.model) as stream:
                for delta in stream:
                    if delta.reasoning:
                        if phase != "r":
                            print(f"{dim}thinking: ", end="")
                            phase = "r"
                        print(delta.reasoning, end="", flush=True)
                    if delta.content:
                        if phase != "c":
                            print(f"{reset}\n{bold}A:{reset} ", end="")
                            phase = "c"
                        print(delta.content, end="", flush=True)
                final = stream.final_completion()
        except PowerTokensError as exc:
            print(f"{reset}\nerror: {exc}", file=sys.stderr)
            return 1
        usage = final.usage
        print(f"{reset}\n\nfinish_reason={final.finish_reason}", end="")
        if usage is not None:
            print(
                f"  tokens: prompt={usage.prompt_tokens} completion={usage.completion_tokens}"
                f" (reasoning={usage.reasoning_tokens}) total={usage.total_tokens}"
            )
        else:
            print()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
