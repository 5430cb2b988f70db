"""``tool_choice`` values the frameworks send, mapped onto an API that takes only "auto"
(seed: "This Zhipu interface currently exposes only auto"). Shared by both adapters."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._exceptions import RequestValidationError

__all__ = ["ToolChoice", "resolve_tool_choice"]


@dataclass(frozen=True, slots=True)
class ToolChoice:
    """What to send for a requested ``tool_choice``."""

    send_tools: bool
    """False for "none": the tools are left out of the request."""
    wire: str | None
    """``"auto"`` or None (leave the field out)."""
    downgraded: bool
    """True when the request asked for more than "auto" can promise (warn the user)."""
    forced_name: str | None = None
    """The tool the caller wanted forced, if they named one (adapters may nudge the prompt)."""


def resolve_tool_choice(choice: Any) -> ToolChoice:
    """Map ``None``, "auto", "none", "any", "required", ``True``, a tool name, or an
    OpenAI-style ``{"type": "function", "function": {"name": ...}}`` dict."""
    if choice is None or choice == "auto":
        return ToolChoice(send_tools=True, wire="auto" if choice else None, downgraded=False)
    if choice is False or choice == "none":
        return ToolChoice(send_tools=False, wire=None, downgraded=False)
    if choice is True or choice in ("any", "required"):
        return ToolChoice(send_tools=True, wire="auto", downgraded=True)
    if isinstance(choice, str):
        return ToolChoice(send_tools=True, wire="auto", downgraded=True, forced_name=choice)
    if isinstance(choice, dict):
        function = choice.get("function")
        name = function.get("name") if isinstance(function, dict) else choice.get("name")
        return ToolChoice(
            send_tools=True,
            wire="auto",
            downgraded=True,
            forced_name=name if isinstance(name, str) else None,
        )
    raise RequestValidationError(
        "tool_choice",
        "must be 'auto', 'none', 'any', 'required', a bool, a tool name or a function dict",
        choice,
    )
