"""``tool_choice`` and ``parallel_tool_calls``: what is sent, and the system-prompt sentence.

The policy is described in :mod:`powertokens._request`, which applies it to a body.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ._exceptions import RequestValidationError
from ._limits import _fail

__all__ = [
    "ToolChoice",
    "add_hint",
    "check_parallel_tool_calls",
    "resolve_tool_choice",
    "tool_hint",
    "tool_name",
]


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """What to send for a requested ``tool_choice``."""

    send_tools: bool
    """False for "none": the tools are left out of the request."""
    wire: str | None
    """``"auto"``, or None to leave the field out."""
    hint: str | None = None
    """The sentence asking for the call, for a choice "auto" cannot promise."""
    forced_name: str | None = None
    """The tool the caller named, if any."""

    @property
    def downgraded(self) -> bool:
        """True when the request asked for more than "auto" promises (tell the user)."""
        return self.hint is not None


def resolve_tool_choice(choice: Any, tool_names: Sequence[str] = ()) -> ToolChoice:
    """Map ``None``, "auto", "none", "any", "required", ``True``/``False``, a tool name or
    an OpenAI-style ``{"type": "function", "function": {"name": ...}}`` dict.

    ``tool_names``: the tools offered; "any tool" out of one is that tool, by name.
    """
    if choice is None or choice == "auto":
        return ToolChoice(True, "auto" if choice else None)
    if choice is False or choice == "none":
        return ToolChoice(False, None)
    name: Any = None
    if choice is True or choice in ("any", "required"):
        if len(tool_names) != 1:
            return ToolChoice(True, "auto", _ANY_TOOL_HINT)
        return ToolChoice(True, "auto", _NAMED_TOOL_HINT.format(name=tool_names[0]))
    if isinstance(choice, str):
        name = choice
    elif isinstance(choice, Mapping):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, Mapping) else choice.get("name")
    else:
        raise RequestValidationError(
            "tool_choice",
            "must be 'auto', 'none', 'any', 'required', a bool, a tool name or a function dict",
            choice,
        )
    if not isinstance(name, str) or not name:
        return ToolChoice(True, "auto", _ANY_TOOL_HINT)
    return ToolChoice(True, "auto", _NAMED_TOOL_HINT.format(name=name), name)


_ANY_TOOL_HINT = "Call one of the provided tools to answer; do not answer in plain text."
_NAMED_TOOL_HINT = "Call the {name} tool to answer; do not answer in plain text."
_ONE_CALL = "Request at most one tool invocation in your reply."
_ONE_CALL_FORCED = " Make exactly one call."


def tool_hint(choice: ToolChoice, *, single_call: bool = False) -> str | None:
    """The one system-prompt sentence for ``choice`` and ``parallel_tool_calls=False``
    (``single_call``), or None when neither asks for anything."""
    if choice.hint is None:
        return _ONE_CALL if single_call and choice.send_tools else None
    return choice.hint + _ONE_CALL_FORCED if single_call else choice.hint


def check_parallel_tool_calls(value: Any) -> bool:
    """True when ``value`` (``parallel_tool_calls``) asks for one call at most."""
    if value is not None and not isinstance(value, bool):
        raise _fail("parallel_tool_calls", "must be True, False or None", value)
    return value is False


def add_hint(messages: list[Any], hint: str) -> list[Any]:
    """``messages`` with ``hint`` in the leading system message (or a new one first,
    never last: a trailing tool result must stay the last message). A new list."""
    first = messages[0] if messages else None
    if isinstance(first, Mapping) and first.get("role") == "system":
        content = first.get("content")
        if isinstance(content, str):
            return [
                {**first, "content": f"{content}\n\n{hint}" if content else hint},
                *messages[1:],
            ]
        if isinstance(content, list):
            parts = [*content, {"type": "text", "text": hint}]
            return [{**first, "content": parts}, *messages[1:]]
    return [{"role": "system", "content": hint}, *messages]


def tool_name(tool: Any) -> str:
    function = tool.get("function") if isinstance(tool, Mapping) else None
    name = function.get("name") if isinstance(function, Mapping) else None
    return name if isinstance(name, str) else ""
