"""Tools in every form LangChain users write them, as the wire's function tools."""

from __future__ import annotations

import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from langchain_core.tools import BaseTool
from langchain_core.utils.function_calling import convert_to_openai_tool

from powertokens import RequestValidationError, resolve_tool_choice, validate_params

__all__ = [
    "bind_arguments",
    "check_tool_choice",
    "check_tools",
    "format_tool",
    "format_tools",
    "warn_tool_choice_downgraded",
]

ToolLike = Mapping[str, Any] | type | Callable[..., Any] | BaseTool

_warned = False


def format_tool(tool: ToolLike) -> dict[str, Any]:
    """``{"type": "function", "function": {name, description, parameters}}`` and nothing
    else (no ``strict``: the API does not know it)."""
    if (
        isinstance(tool, Mapping)
        and tool.get("type") == "function"
        and isinstance(tool.get("function"), Mapping)
    ):
        function = tool["function"]
    else:
        function = convert_to_openai_tool(tool)["function"]
    wire: dict[str, Any] = {"name": function["name"]}
    if description := function.get("description"):
        wire["description"] = description
    wire["parameters"] = function.get("parameters") or {"type": "object", "properties": {}}
    return {"type": "function", "function": wire}


def format_tools(tools: Sequence[ToolLike]) -> list[Any]:
    """Format a tool list; a list already in wire form (``bind_tools`` made it) is
    passed through as it is."""
    if all(isinstance(t, Mapping) and t.get("type") == "function" for t in tools):
        return list(tools)
    return [format_tool(t) for t in tools]


def check_tools(tools: list[dict[str, Any]], model: str) -> None:
    """Raise :class:`~powertokens.RequestValidationError` for a tool the API would reject
    (a name with spaces, more than 128 tools ...), at bind time."""
    validate_params(model=model, tools=tools)


def check_tool_choice(choice: Any, tools: Sequence[Any] | None) -> None:
    """Raise :class:`~powertokens.RequestValidationError` when ``choice`` names a tool
    that is not among ``tools`` (or no tools are bound), before anything is sent."""
    name = resolve_tool_choice(choice).forced_name
    if name is None:
        return
    names = [
        function.get("name")
        for tool in tools or ()
        if isinstance(tool, Mapping) and isinstance(function := tool.get("function"), Mapping)
    ]
    if name not in names:
        bound = ", ".join(repr(n) for n in names) if names else "none"
        raise RequestValidationError(
            "tool_choice", f"must name a bound tool (bound: {bound})", choice
        )


def bind_arguments(
    tools: Sequence[ToolLike],
    tool_choice: Any,
    parallel_tool_calls: bool | None,
    *,
    model: str,
    hinted: bool,
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """``bind_tools``'s arguments checked before anything is sent: (the tools in wire
    form, the settings to bind beside them). A forced ``tool_choice`` is warned about
    once (it is sent as "auto")."""
    formatted = [format_tool(tool) for tool in tools]
    check_tools(formatted, model)
    check_tool_choice(tool_choice, formatted)
    validate_params(parallel_tool_calls=parallel_tool_calls)
    bound: dict[str, Any] = {}
    if tool_choice is not None:
        if resolve_tool_choice(tool_choice).downgraded:
            warn_tool_choice_downgraded(tool_choice, hinted=hinted, stacklevel=4)
        bound["tool_choice"] = tool_choice
    if parallel_tool_calls is not None:
        bound["parallel_tool_calls"] = parallel_tool_calls
    return formatted, bound


def warn_tool_choice_downgraded(choice: Any, *, hinted: bool = True, stacklevel: int = 3) -> None:
    """Warn, once per process, that a forced ``tool_choice`` is sent as "auto"
    (``stacklevel``: the caller's frame to show, counted from this function)."""
    global _warned
    if _warned:
        return
    _warned = True
    asked = " and the model is asked in the system prompt to call a tool" if hinted else ""
    warnings.warn(
        f"PowerTokens accepts only tool_choice='auto': tool_choice={choice!r} is sent as "
        f"'auto'{asked}; the model may still answer in text. (This warning is shown once.)",
        UserWarning,
        stacklevel=stacklevel,
    )
