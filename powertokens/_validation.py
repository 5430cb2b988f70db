"""Every documented limit, checked before anything is sent (seed + WIRE.md).

One function, :func:`validate_request`, checks a JSON-ready request dict and raises
:class:`RequestValidationError` naming the field, the limit and the value. Both the
core client and the framework adapters go through it, so a limit is written once.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from ._catalog import model_info
from ._exceptions import RequestValidationError

__all__ = [
    "MAX_STOP_SEQUENCES",
    "MAX_TOOLS",
    "TOOL_NAME_PATTERN",
    "normalize_thinking",
    "validate_request",
]

MAX_TOOLS = 128
MAX_STOP_SEQUENCES = 1
TOOL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ROLES = ("system", "user", "assistant", "tool")
_PART_TYPES = ("text", "image_url")


def _fail(field: str, limit: str, value: Any) -> RequestValidationError:
    return RequestValidationError(field, limit, value)


def _number(field: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise _fail(field, f"must be a number in [{low:g}, {high:g}]", value)
    if not low <= value <= high:
        raise _fail(field, f"must be in [{low:g}, {high:g}]", value)


def normalize_thinking(value: Any) -> dict[str, Any] | None:
    """``True``/``False``/``"enabled"``/``{"type": ...}`` to the wire's ``{"type": ...}``."""
    if value is None:
        return None
    if isinstance(value, bool):
        return {"type": "enabled" if value else "disabled"}
    if isinstance(value, str):
        value = {"type": value}
    if not isinstance(value, Mapping):
        raise _fail("thinking", 'must be True, False or {"type": "enabled" | "disabled"}', value)
    return dict(value)


def validate_request(body: Mapping[str, Any]) -> None:
    """Raise :class:`RequestValidationError` if ``body`` breaks a documented limit."""
    model = body.get("model")
    if not isinstance(model, str) or not model:
        raise _fail("model", "must be a non-empty string", model)
    _validate_messages(body.get("messages"))

    if (value := body.get("temperature")) is not None:
        _number("temperature", value, 0.0, 1.0)
    if (value := body.get("top_p")) is not None:
        _number("top_p", value, 0.01, 1.0)
    if (value := body.get("max_tokens")) is not None:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise _fail("max_tokens", "must be an integer >= 1", value)
        info = model_info(model)
        if info.known and value > info.max_output_tokens:
            raise _fail("max_tokens", f"must be <= {info.max_output_tokens} for {model}", value)
    if (value := body.get("stop")) is not None:
        _validate_stop(value)
    if (value := body.get("stream")) is not None and not isinstance(value, bool):
        raise _fail("stream", "must be true or false", value)
    if (value := body.get("thinking")) is not None:
        _validate_thinking(value)
    if (value := body.get("tools")) is not None:
        _validate_tools(value)
    if (value := body.get("tool_choice")) is not None and value != "auto":
        raise _fail("tool_choice", 'the API accepts only "auto"', value)


def _validate_stop(value: Any) -> None:
    if not isinstance(value, list) or not all(isinstance(s, str) for s in value):
        raise _fail("stop", "must be a list of strings", value)
    if len(value) > MAX_STOP_SEQUENCES:
        raise _fail("stop", f"at most {MAX_STOP_SEQUENCES} stop sequence is supported", value)
    if any(s == "" for s in value):
        raise _fail("stop", "a stop sequence must not be empty", value)


def _validate_thinking(value: Any) -> None:
    if not isinstance(value, Mapping):
        raise _fail("thinking", 'must be an object {"type": "enabled" | "disabled"}', value)
    kind = value.get("type")
    if kind not in ("enabled", "disabled"):
        raise _fail("thinking.type", 'must be "enabled" or "disabled"', kind)
    clear = value.get("clear_thinking")
    if clear is not None and not isinstance(clear, bool):
        raise _fail("thinking.clear_thinking", "must be true or false", clear)


def _validate_tools(tools: Any) -> None:
    if not isinstance(tools, list):
        raise _fail("tools", "must be a list", tools)
    if len(tools) > MAX_TOOLS:
        raise _fail("tools", f"at most {MAX_TOOLS} tools", f"{len(tools)} tools")
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, Mapping):
            raise _fail(where, "must be an object", tool)
        if tool.get("type") != "function":
            raise _fail(f"{where}.type", 'only "function" tools are supported', tool.get("type"))
        function = tool.get("function")
        if not isinstance(function, Mapping):
            raise _fail(f"{where}.function", "must be an object with a name", function)
        name = function.get("name")
        if not isinstance(name, str) or not TOOL_NAME_PATTERN.match(name):
            raise _fail(f"{where}.function.name", "must match ^[A-Za-z0-9_-]{1,64}$", name)
        params = function.get("parameters")
        if params is not None and not isinstance(params, Mapping):
            raise _fail(f"{where}.function.parameters", "must be a JSON schema object", params)


def _validate_messages(messages: Any) -> None:
    if not isinstance(messages, Sequence) or isinstance(messages, (str, bytes)) or not messages:
        raise _fail("messages", "must be a non-empty list of messages", messages)
    has_prompt = False
    for i, message in enumerate(messages):
        where = f"messages[{i}]"
        if not isinstance(message, Mapping):
            raise _fail(where, "must be an object with a role", message)
        role = message.get("role")
        if role not in _ROLES:
            raise _fail(f"{where}.role", "must be system, user, assistant or tool", role)
        if role in ("user", "tool"):
            has_prompt = True
        content = message.get("content")
        if content is None:
            if role != "assistant":
                raise _fail(f"{where}.content", f"a {role} message needs content", content)
        elif isinstance(content, list):
            _validate_parts(where, content)
        elif not isinstance(content, str):
            raise _fail(f"{where}.content", "must be a string or a list of parts", content)
        if role == "tool":
            call_id = message.get("tool_call_id")
            if not isinstance(call_id, str) or not call_id:
                raise _fail(f"{where}.tool_call_id", "a tool message needs tool_call_id", call_id)
        elif role == "assistant" and message.get("tool_calls") is not None:
            _validate_tool_calls(where, message["tool_calls"])
    if not has_prompt:
        raise _fail(
            "messages",
            "at least one message must be neither system nor assistant",
            [m.get("role") for m in messages if isinstance(m, Mapping)],
        )


def _validate_parts(where: str, parts: list[Any]) -> None:
    for j, part in enumerate(parts):
        at = f"{where}.content[{j}]"
        if not isinstance(part, Mapping) or part.get("type") not in _PART_TYPES:
            raise _fail(at, 'parts must be {"type": "text"} or {"type": "image_url"}', part)
        if part["type"] == "text":
            if not isinstance(part.get("text"), str):
                raise _fail(f"{at}.text", "must be a string", part.get("text"))
        else:
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, Mapping) else None
            if not isinstance(url, str) or not url.startswith(("http://", "https://", "data:")):
                raise _fail(f"{at}.image_url.url", "must be an http(s) URL or a data: URI", url)


def _validate_tool_calls(where: str, calls: Any) -> None:
    if not isinstance(calls, list):
        raise _fail(f"{where}.tool_calls", "must be a list", calls)
    for k, call in enumerate(calls):
        at = f"{where}.tool_calls[{k}]"
        function = call.get("function") if isinstance(call, Mapping) else None
        if not isinstance(function, Mapping) or not isinstance(function.get("name"), str):
            raise _fail(at, "must be {id, type: function, function: {name, arguments}}", call)
        if not isinstance(function.get("arguments", ""), str):
            raise _fail(f"{at}.function.arguments", "must be a JSON string", function["arguments"])
