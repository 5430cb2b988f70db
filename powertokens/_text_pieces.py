"""Stream text pieces checked and joined: string types, surrogate pairs split across chunks."""

from __future__ import annotations

from typing import Any

__all__ = ["as_text", "whole_chars"]


def as_text(value: Any) -> str:
    if not isinstance(value, str):
        raise TypeError(f"expected a string, got {type(value).__name__}")
    return value


def whole_chars(held: dict[str | int, str], kind: str | int, piece: str, final: str | None) -> str:
    """``piece`` with the high surrogate held back from the previous piece of its
    ``kind`` in front, surrogate pairs joined into characters, a trailing high
    surrogate held back in ``held`` for the next piece (unless the answer is ``final``)
    and any other lone surrogate replaced by U+FFFD."""
    text = held.pop(kind, "") + piece if held else piece
    if not text:
        return text
    if not final and "\ud800" <= text[-1] <= "\udbff":
        held[kind] = text[-1]
        text = text[:-1]
    return text.encode("utf-16-le", "surrogatepass").decode("utf-16-le", "replace")
