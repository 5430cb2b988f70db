"""Tools for LlamaIndex on an API whose ``tool_choice`` is only "auto" (pure).

* :func:`tool_spec`: a LlamaIndex tool as a wire tool, cached per (name, description,
  schema) because building a JSON schema is the costliest part of a tool call;
* :func:`prepare_tools_call`: ``tool_required`` and named choices become a core
  ``tool_choice`` (the core sends "auto" and asks for the call in the system prompt);
* :class:`JsonFallback` / :func:`fallback_tool_call`: when a required single tool was
  not called but the text holds JSON that fits its schema, that JSON becomes the call
  (structured output keeps working when the model answers in prose);
* :func:`tool_selections`: ``ToolSelection`` objects from a response, tolerant of the
  partial JSON of a call still being streamed; on a final response, arguments that are
  not a JSON object (cut off by ``max_tokens``, or a model glitch) raise
  :class:`ToolCallArgumentsError` instead of calling the tool with missing arguments.
"""

from __future__ import annotations

import functools
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from llama_index.core.base.llms.types import ChatMessage, MessageRole, ToolCallBlock
from llama_index.core.llms.llm import ToolSelection
from llama_index.core.llms.utils import parse_partial_json
from llama_index.core.tools.types import ToolMetadata
from pydantic import BaseModel, ValidationError

from powertokens import PowerTokensError, resolve_tool_choice
from powertokens.lib import extract_json

log = logging.getLogger("llama_index_powertokens")

__all__ = [
    "FALLBACK_KWARG",
    "JsonFallback",
    "ToolCallArgumentsError",
    "fallback_tool_call",
    "is_structured_output_tool",
    "keep_first_call",
    "parse_arguments",
    "prepare_tools_call",
    "tool_selections",
    "tool_spec",
]

FALLBACK_KWARG = "powertokens_json_fallback"
"""The chat kwarg through which ``_prepare_chat_with_tools`` hands a fallback to ``chat``."""

FALLBACK_CALL_PREFIX = "json_fallback_"
"""Tool-call ids of calls read from text (never sent by the service)."""


@functools.lru_cache(maxsize=512)
def _cached_spec(name: str | None, description: str, fn_schema: Any) -> dict[str, Any]:
    metadata = ToolMetadata(description=description, name=name, fn_schema=fn_schema)
    return metadata.to_openai_tool(skip_length_check=True)


def tool_spec(tool: Any) -> dict[str, Any]:
    """The wire form of a LlamaIndex tool (or a wire dict, passed through).

    The returned dict is shared between calls: treat it as read-only.
    """
    metadata = getattr(tool, "metadata", None)
    if not isinstance(metadata, ToolMetadata):
        if isinstance(tool, dict):
            return tool
        raise TypeError(f"tools: expected LlamaIndex tools or tool dicts (got {tool!r})")
    try:
        return _cached_spec(metadata.name, metadata.description, metadata.fn_schema)
    except TypeError:  # an unhashable schema: build it every time
        return metadata.to_openai_tool(skip_length_check=True)


@dataclass(frozen=True, slots=True)
class JsonFallback:
    """The one tool a caller required; its JSON may arrive as text instead of a call."""

    name: str
    schema: type[BaseModel] | None


def fallback_tool_call(text: str, fallback: JsonFallback | None) -> ToolCallBlock | None:
    """A call of ``fallback``'s tool from JSON in ``text`` that fits its schema, else None."""
    if fallback is None or "{" not in text:
        return None
    try:
        value = extract_json(text)
    except ValueError:
        return None
    if not isinstance(value, dict):
        return None
    if fallback.schema is not None:
        try:
            fallback.schema.model_validate(value)
        except ValidationError:
            return None
    return ToolCallBlock(
        tool_call_id=f"{FALLBACK_CALL_PREFIX}0", tool_name=fallback.name, tool_kwargs=value
    )


_STRUCTURED_TOOL_FN = (
    "llama_index.core.program.function_program",
    "get_function_tool.<locals>.model_fn",
)


def is_structured_output_tool(tool: Any) -> bool:
    """Whether ``tool`` is the one LlamaIndex builds for structured output
    (``FunctionCallingProgram``). Its streaming path does not pass ``tool_required``,
    so the tool itself is what tells "answer only through me"."""
    fn = getattr(tool, "fn", None)
    return (
        getattr(fn, "__module__", None),
        getattr(fn, "__qualname__", None),
    ) == _STRUCTURED_TOOL_FN


def parse_arguments(arguments: Any) -> dict[str, Any]:
    """Tool arguments as a dict: complete JSON, partial JSON mid-stream, or ``{}``."""
    if isinstance(arguments, dict):
        return arguments
    if not isinstance(arguments, str) or not arguments.strip():
        return {}
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):  # nested too deep: not usable JSON
        try:
            value = parse_partial_json(arguments)
        except (ValueError, TypeError, RecursionError):
            return {}
    return value if isinstance(value, dict) else {}


class ToolCallArgumentsError(PowerTokensError, ValueError):
    """A finished answer called a tool with arguments that are not a JSON object: cut
    off (``finish_reason="length"``: raise ``max_tokens``) or malformed. Raised by
    ``get_tool_calls_from_response`` (so ``predict_and_call`` and agents stop with it)
    rather than running the tool with missing arguments.

    ``tool_name``, ``arguments`` (the text received) and ``finish_reason`` tell which.
    """

    def __init__(self, tool_name: str, arguments: str, finish_reason: str | None) -> None:
        self.tool_name = tool_name
        self.arguments = arguments
        self.finish_reason = finish_reason
        shown = arguments if len(arguments) <= 200 else arguments[:197] + "..."
        if finish_reason == "length":
            why = "the answer was cut off at max_tokens (finish_reason='length')"
        else:
            why = f"they are not a JSON object (finish_reason={finish_reason!r})"
        super().__init__(
            f"tool call {tool_name!r}: its arguments are incomplete, {why}; "
            f"the tool was not called (arguments received: {shown!r})"
        )


def _final_arguments(name: str, arguments: Any, finish_reason: str | None) -> dict[str, Any]:
    if isinstance(arguments, dict):
        return arguments
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        return {}  # a tool without parameters
    if isinstance(arguments, str):
        try:
            value = json.loads(arguments)
        except ValueError:
            value = None
        if isinstance(value, dict):
            return value
    raise ToolCallArgumentsError(name, str(arguments), finish_reason)


def tool_selections(message: ChatMessage, final: str | None = None) -> list[ToolSelection]:
    """Every tool call in ``message``: ``ToolCallBlock``s, else legacy
    ``additional_kwargs["tool_calls"]`` (wire dicts or OpenAI SDK objects).

    ``final`` is the ``finish_reason`` of a finished answer (None mid-stream): its
    arguments must be a JSON object, else :class:`ToolCallArgumentsError`; mid-stream,
    partial JSON is read as far as it goes.
    """
    if final is not None:
        parse: Any = functools.partial(_final_arguments, finish_reason=final)
    else:
        parse = _partial_arguments
    selections = [
        ToolSelection(
            tool_id=block.tool_call_id or "",
            tool_name=block.tool_name,
            tool_kwargs=parse(block.tool_name, block.tool_kwargs),
        )
        for block in message.blocks
        if isinstance(block, ToolCallBlock)
    ]
    if selections:
        return selections
    for call in message.additional_kwargs.get("tool_calls") or ():
        if not isinstance(call, dict) and hasattr(call, "model_dump"):
            call = call.model_dump()
        if not isinstance(call, dict):
            continue
        function = call.get("function") or {}
        name = function.get("name") or ""
        selections.append(
            ToolSelection(
                tool_id=call.get("id") or "",
                tool_name=name,
                tool_kwargs=parse(name, function.get("arguments")),
            )
        )
    return selections


def _partial_arguments(name: str, arguments: Any) -> dict[str, Any]:
    return parse_arguments(arguments)


def prepare_tools_call(
    tools: Sequence[Any],
    user_msg: str | ChatMessage | None,
    chat_history: Sequence[ChatMessage] | None,
    tool_required: bool,
    tool_choice: Any,
    kwargs: dict[str, Any],
) -> dict[str, Any]:
    """Chat arguments for a call with ``tools`` (``_prepare_chat_with_tools``).

    The caller's history is copied, never modified. ``tool_required`` and
    LlamaIndex's structured-output tool become ``tool_choice="required"``, a named
    choice (agents' ``initial_tool_choice``) stays as it is: the core sends "auto" and
    asks for the call in the system prompt, since the API takes nothing else. With a
    single required tool, a :class:`JsonFallback` rides along to ``chat``.
    """
    messages = list(chat_history or ())
    if isinstance(user_msg, str):
        user_msg = ChatMessage(role=MessageRole.USER, content=user_msg)
    if user_msg is not None:
        messages.append(user_msg)
    prepared: dict[str, Any] = {"messages": messages, **kwargs}
    choice = resolve_tool_choice(tool_choice)
    if not tools or not choice.send_tools:
        return prepared
    prepared["tools"] = [tool_spec(t) for t in tools]
    structured = len(tools) == 1 and is_structured_output_tool(tools[0])
    if (tool_required or structured) and not choice.downgraded:
        tool_choice = "required"
    if tool_choice is not None:
        prepared["tool_choice"] = tool_choice
    if (tool_required or choice.downgraded or structured) and len(tools) == 1:
        log.debug("tool_choice=%r for one tool: its JSON in text counts too", tool_choice)
        schema = tools[0].metadata.fn_schema
        schema = schema if isinstance(schema, type) and issubclass(schema, BaseModel) else None
        prepared[FALLBACK_KWARG] = JsonFallback(tools[0].metadata.name or "", schema)
    return prepared


def keep_first_call(message: ChatMessage) -> None:
    """Drop every tool call but the first (``allow_parallel_tool_calls=False``).
    Only for messages this package built: it replaces the lists, never edits them."""
    calls = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
    if len(calls) < 2:
        return
    message.blocks = [b for b in message.blocks if not isinstance(b, ToolCallBlock)] + calls[:1]
    wire = message.additional_kwargs.get("tool_calls")
    if wire:
        message.additional_kwargs = {**message.additional_kwargs, "tool_calls": wire[:1]}
