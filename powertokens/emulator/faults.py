"""Parsing of the emulator's fault language (documented in docs/emulator.md, "The fault language").

A spec is one or more comma-separated parts: at most one *primary* fault (an error status,
a broken stream, a cut-short finish) plus *modifiers* (``delay``, ``pace``,
``usage-chunk``, ``tool-calls-one-chunk``, ``tool-stream``, ``model=<name>``). Parsing is
strict: an unknown part raises :class:`FaultSpecError`, so a typo never silently passes a test.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace

__all__ = ["FINISH_REASONS", "QUOTA_CODES", "Fault", "FaultSpecError", "parse_fault", "take_marker"]

QUOTA_CODES = frozenset({"1113", "1304", "1308", "1309", "1310"})
FINISH_REASONS = frozenset(
    {"sensitive", "network_error", "length", "model_context_window_exceeded"}
)
GATEWAY_CODES = frozenset({"model_not_found", "rate_limit_exceeded", "invalid_request"})
DEFAULT_STALL_SECONDS = 30.0

_MARKER = re.compile(r"\[\[fault:([^\]]*)\]\]")
_STATUS = re.compile(r"^[45]\d\d$")
_CODE = re.compile(r"^\d{4}$")
_COUNT = re.compile(r"^\d+$")
_SECONDS = re.compile(r"^\d+(?:\.\d+)?$")
_RETRY = re.compile(r"^(retry-after|retry-after-ms)=(\d+(?:\.\d+)?)$")
_LANG = re.compile(r"^lang=(en|zh)$")
_MODEL = re.compile(r"^model=([A-Za-z0-9._-]+)$")


class FaultSpecError(ValueError):
    """The fault spec is not part of the fault language."""


@dataclass(frozen=True)
class Fault:
    """A parsed fault spec. ``kind`` is the primary fault, or None for modifiers only."""

    spec: str
    kind: str | None = None
    """One of status, quota, html, empty, stream-error, cut, stall, malformed,
    done-no-finish, finish."""
    status: int = 0
    code: str = ""
    count: int = 0
    """The ``k`` of cut/stall/malformed/done-no-finish and stream-error's ``after``."""
    seconds: float = 0.0
    """Stall length."""
    finish_reason: str = ""
    retry_after: str | None = None
    retry_after_ms: str | None = None
    lang: str = "en"
    """The language of the error message (``en`` or ``zh``)."""
    delay: float = 0.0
    """Seconds to wait before the response headers."""
    pace: float = 0.0
    """Seconds to wait between stream events."""
    usage_chunk: bool = False
    tool_calls_one_chunk: bool = False
    tool_stream: bool = False
    model: str | None = None
    """``model=<name>``: the fault hits only requests for that model (None: any)."""

    def applies_to(self, model: object) -> bool:
        """Whether this fault hits a request for ``model``."""
        return self.model is None or self.model == model


def _fail(spec: str, why: str) -> FaultSpecError:
    return FaultSpecError(f"Unknown fault spec {spec!r}: {why}")


def _count(spec: str, text: str) -> int:
    if not _COUNT.match(text):
        raise _fail(spec, f"{text!r} is not a non-negative integer")
    return int(text)


def _status(spec: str, text: str) -> int:
    if not _STATUS.match(text):
        raise _fail(spec, f"{text!r} is not an HTTP status from 400 to 599")
    return int(text)


def _error_options(spec: str, options: list[str], fault: Fault) -> Fault:
    for option in options:
        lang = _LANG.match(option)
        if lang is not None:
            fault = replace(fault, lang=lang.group(1))
            continue
        match = _RETRY.match(option)
        if match is None:
            raise _fail(
                spec, f"{option!r} is not retry-after=<s>, retry-after-ms=<ms> or lang=en|zh"
            )
        if match.group(1) == "retry-after":
            fault = replace(fault, retry_after=match.group(2))
        else:
            fault = replace(fault, retry_after_ms=match.group(2))
    return fault


def _primary(spec: str, part: str) -> Fault:
    head, *args = part.split(":")
    if _STATUS.match(head):
        if not args or not (_CODE.match(args[0]) or args[0] in GATEWAY_CODES):
            raise _fail(spec, "expected <status>:<code> with a 4-digit or gateway code")
        base = Fault(spec, "status", status=int(head), code=args[0])
        return _error_options(spec, args[1:], base)
    if head == "quota":
        if not args or args[0] not in QUOTA_CODES:
            raise _fail(spec, f"quota codes are {', '.join(sorted(QUOTA_CODES))}")
        return _error_options(spec, args[1:], Fault(spec, "quota", status=429, code=args[0]))
    if head in ("html", "empty") and len(args) == 1:
        return Fault(spec, head, status=_status(spec, args[0]))
    if head == "stream-error" and args and _CODE.match(args[0]) and len(args) <= 2:
        after = 0
        if len(args) == 2:
            if not args[1].startswith("after="):
                raise _fail(spec, "expected stream-error:<code>[:after=<k>]")
            after = _count(spec, args[1][len("after=") :])
        return Fault(spec, "stream-error", code=args[0], count=after)
    if head in ("cut", "malformed", "done-no-finish") and len(args) == 1:
        return Fault(spec, head, count=_count(spec, args[0]))
    if head == "stall" and len(args) in (1, 2):
        seconds = DEFAULT_STALL_SECONDS
        if len(args) == 2:
            if not _SECONDS.match(args[1]):
                raise _fail(spec, f"{args[1]!r} is not a number of seconds")
            seconds = float(args[1])
        return Fault(spec, "stall", count=_count(spec, args[0]), seconds=seconds)
    if head == "finish" and len(args) == 1 and args[0] in FINISH_REASONS:
        return Fault(spec, "finish", finish_reason=args[0])
    raise _fail(spec, "see the fault language in powertokens.emulator")


def parse_fault(spec: str) -> Fault:
    """Parse a fault spec such as ``"429:1302"``, ``"cut:3"`` or ``"delay:200,usage-chunk"``."""
    fault = Fault(spec.strip())
    parts = [p.strip() for p in spec.split(",")]
    if not spec.strip() or any(not p for p in parts):
        raise _fail(spec, "empty part")
    for part in parts:
        head, _, arg = part.partition(":")
        if part == "usage-chunk":
            fault = replace(fault, usage_chunk=True)
        elif part == "tool-calls-one-chunk":
            fault = replace(fault, tool_calls_one_chunk=True)
        elif part == "tool-stream":
            fault = replace(fault, tool_stream=True)
        elif head.startswith("model="):
            match = _MODEL.match(part)
            if match is None:
                raise _fail(spec, f"{part!r} is not model=<model name>")
            fault = replace(fault, model=match.group(1))
        elif head in ("delay", "pace"):
            if not _SECONDS.match(arg):
                raise _fail(spec, f"{head} takes milliseconds, got {arg!r}")
            seconds = float(arg) / 1000.0
            if head == "delay":
                fault = replace(fault, delay=seconds)
            else:
                fault = replace(fault, pace=seconds)
        else:
            if fault.kind is not None:
                raise _fail(spec, "only one primary fault per spec")
            primary = _primary(spec, part)
            fault = replace(
                primary,
                spec=fault.spec,
                delay=fault.delay,
                pace=fault.pace,
                usage_chunk=fault.usage_chunk,
                tool_calls_one_chunk=fault.tool_calls_one_chunk,
                tool_stream=fault.tool_stream,
                model=fault.model,
            )
    return fault


def take_marker(text: str) -> tuple[str | None, str]:
    """Find ``[[fault:<spec>]]`` in ``text``: return (first spec or None, text without markers)."""
    match = _MARKER.search(text)
    if match is None:
        return None, text
    return match.group(1), _MARKER.sub("", text)
