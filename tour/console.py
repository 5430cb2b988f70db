"""Readable terminal output: step headers, labelled lines, streamed text, a spinner.

Colour and the spinner only on a terminal (and never with ``NO_COLOR`` set); piped
output stays plain text, so logs and tests read it as it is.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

__all__ = ["Console", "Streamer"]

_STYLES = {
    "bold": "\033[1m",
    "dim": "\033[2m",
    "italic": "\033[3m",
    "cyan": "\033[36m",
    "green": "\033[32m",
    "yellow": "\033[33m",
    "magenta": "\033[35m",
    "red": "\033[31m",
}
_RESET = "\033[0m"
_LABEL_WIDTH = 10
_SPIN = "⠋⠙⠹⠸⠼⠴⠦⠧⠇⠏"


class Console:
    """Where the tour prints. ``color`` is "auto" (a terminal), "always" or "never"."""

    def __init__(self, out: TextIO | None = None, color: str = "auto") -> None:
        self.out = out or sys.stdout
        tty = self.out.isatty()
        if color == "auto":
            self.color = tty and not os.environ.get("NO_COLOR")
        else:
            self.color = color == "always"
        self.animate = tty
        encoding = (getattr(self.out, "encoding", None) or "").lower().replace("-", "")
        self.unicode = encoding in ("utf8", "utf8sig")
        self.lock = threading.Lock()

    def style(self, text: str, *names: str) -> str:
        if not self.color or not names:
            return text
        return "".join(_STYLES[n] for n in names) + text + _RESET

    @property
    def ellipsis(self) -> str:
        return "…" if self.unicode else "..."

    @property
    def dot(self) -> str:
        return "·" if self.unicode else "-"

    def write(self, text: str) -> None:
        with self.lock:
            try:
                self.out.write(text)
            except UnicodeEncodeError:  # a terminal that cannot show every character
                encoding = getattr(self.out, "encoding", None) or "ascii"
                self.out.write(text.encode(encoding, "replace").decode(encoding))
            self.out.flush()

    def line(self, text: str = "") -> None:
        self.write(text + "\n")

    def header(self, text: str) -> None:
        rule = "━" if self.unicode else "="
        self.line()
        self.line(self.style(f"{rule * 2} {text} ", "bold", "cyan") + self.style(rule * 8, "cyan"))

    def label(self, name: str, text: str, *styles: str) -> None:
        """``name │ text``, the label column aligned."""
        self.line(self.gutter(name, styles) + text)

    def note(self, text: str) -> None:
        self.line(self.style(text, "dim"))

    def error(self, text: str) -> None:
        self.line(self.style(text, "bold", "red"))

    def gutter(self, name: str, styles: tuple[str, ...] = ()) -> str:
        """The aligned label column that starts a labelled line."""
        bar = "│" if self.unicode else "|"
        return self.style(name.ljust(_LABEL_WIDTH), *(styles or ("bold",))) + self.style(
            f"{bar} ", "dim"
        )

    def streamer(self, waiting_for: str) -> Streamer:
        return Streamer(self, waiting_for)

    def progress(self, text: str) -> Progress:
        return Progress(self, text)


class _Spinner:
    """``⠋ waiting for glm-5 … 1.2 s`` on the current line until stopped (terminals only)."""

    def __init__(self, console: Console, text: str) -> None:
        self.console = console
        self.text = text
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        if self.console.animate:
            self._thread = threading.Thread(target=self._run, daemon=True)
            self._thread.start()

    def _run(self) -> None:
        started = time.perf_counter()
        frames = _SPIN if self.console.unicode else "|/-\\"
        i = 0
        while not self._stop.wait(0.08):
            elapsed = time.perf_counter() - started
            frame = frames[i % len(frames)]
            self.console.write(self.console.style(f"\r{frame} {self.text} {elapsed:.1f} s", "dim"))
            i += 1

    def stop(self) -> None:
        if self._thread is not None:
            self._stop.set()
            self._thread.join()
            self._thread = None
            self.console.write("\r\033[K")


class Progress:
    """``with console.progress("indexing"):`` prints ``indexing … done (0.02 s)``."""

    def __init__(self, console: Console, text: str) -> None:
        self.console = console
        self.text = text
        self.result = "done"
        self._spinner = _Spinner(console, f"{text} {console.ellipsis}")
        self._started = 0.0

    def __enter__(self) -> Progress:
        self._started = time.perf_counter()
        self._spinner.start()
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        self._spinner.stop()
        elapsed = time.perf_counter() - self._started
        outcome = self.result if kind is None else "failed"
        self.console.note(f"{self.text} {self.console.ellipsis} {outcome} ({elapsed:.2f} s)")


class Streamer:
    """Prints one streamed model turn: reasoning and answer on separate labelled lines.

    A spinner runs until the first piece arrives (a thinking model can take a while);
    each switch between reasoning and answer starts a new labelled line.
    """

    def __init__(self, console: Console, waiting_for: str) -> None:
        self.console = console
        self._phase = ""
        self._spinner: _Spinner | None = _Spinner(
            console, f"waiting for {waiting_for} {console.ellipsis}"
        )
        self._spinner.start()

    def _switch(self, phase: str, label: str, styles: tuple[str, ...], text_style: str) -> None:
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
        if phase != self._phase:
            self._end_line()
            console = self.console
            start = "".join(_STYLES[n] for n in text_style.split()) if console.color else ""
            console.write(console.gutter(label, styles) + start)
            self._phase = phase

    def _end_line(self) -> None:
        if self._phase:
            self.console.write((_RESET if self.console.color else "") + "\n")
            self._phase = ""

    def reasoning(self, text: str) -> None:
        if text:
            self._switch("reasoning", "thinking", ("dim", "magenta"), "dim italic")
            self.console.write(text)

    def answer(self, text: str) -> None:
        if text:
            self._switch("answer", "answer", ("bold", "green"), "")
            self.console.write(text)

    def close(self) -> None:
        """End the turn: stop the spinner, end the open line."""
        if self._spinner is not None:
            self._spinner.stop()
            self._spinner = None
        self._end_line()
