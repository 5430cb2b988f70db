"""Request checks, answered the way the service answers them, before anything is generated.

Order and forms (docs/wire.md "Request" and "Errors"):

- a body that is not a JSON object: gateway 400, code ``invalid_request``;
- ``model`` missing (``1213``) or not a string (``1214``): 400;
- an unknown model: gateway 503 ``model_not_found`` (no channel serves it);
- ``messages`` missing or empty (``1213``), or malformed (``1214``): role not one of
  system/user/assistant/tool, content neither a string nor a list of text/image_url parts,
  ``image_url`` without ``url``, a tool message without ``tool_call_id``, or no message
  that is neither system nor assistant;
- ``stream`` not a boolean; ``temperature`` outside [0, 1]; ``top_p`` outside [0.01, 1];
  ``max_tokens`` not an integer >= 1 or above the model's output limit; ``stop`` with more
  than one sequence (a bare string is accepted: the gateway converts it); ``tools`` not a
  list, more than 128, a type other than ``"function"`` or a name not matching
  ``^[A-Za-z0-9_-]{1,64}$``; ``tool_choice`` other than ``"auto"`` ("Tool choice must be
  auto"); ``thinking`` not an object with type enabled/disabled: 400 ``1214``.

Unknown fields are ignored, as the gateway drops them. ``null`` counts as absent.
"""

from __future__ import annotations

import json
import re
from typing import Any

from powertokens._catalog import KNOWN_MODELS

from .wire import ApiError, code_message, gateway_error, upstream_error

__all__ = ["MAX_TOOLS", "parse_body", "validate"]

MAX_TOOLS = 128
_ROLES = ("system", "user", "assistant", "tool")
_TOOL_NAME = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SHOWN = 60


def _show(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False)
    return text if len(text) <= _SHOWN else text[: _SHOWN - 3] + "..."


def _missing(field: str, why: str) -> ApiError:
    return upstream_error("1213", f"The {field} parameter was not received properly: {why}")


def _invalid(field: str, why: str) -> ApiError:
    return upstream_error(
        "1214", f"Invalid {field} parameter: {why}. Please check the documentation"
    )


def parse_body(raw: bytes) -> tuple[dict[str, Any] | None, ApiError | None]:
    """Decode the request body; a gateway 400 when it is not a JSON object."""
    try:
        body = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError as exc:
        return None, gateway_error("invalid_request", f"Invalid request body: not UTF-8 ({exc})")
    except json.JSONDecodeError as exc:
        return None, gateway_error("invalid_request", f"Invalid request body: {exc}")
    if not isinstance(body, dict):
        kind = type(body).__name__
        return None, gateway_error(
            "invalid_request", f"Invalid request body: expected a JSON object, got {kind}"
        )
    return body, None


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _check_parts(where: str, parts: list[Any]) -> ApiError | None:
    for j, part in enumerate(parts):
        at = f"{where}[{j}]"
        if not isinstance(part, dict):
            return _invalid(at, f"expected a content part object, got {_show(part)}")
        kind = part.get("type")
        if kind == "text":
            if not isinstance(part.get("text"), str):
                return _invalid(f"{at}.text", f"expected a string, got {_show(part.get('text'))}")
        elif kind == "image_url":
            image = part.get("image_url")
            url = image.get("url") if isinstance(image, dict) else None
            if not isinstance(url, str) or not url:
                return _invalid(f"{at}.image_url.url", "an image_url part needs a url")
        else:
            return _invalid(f"{at}.type", f"{_show(kind)} is not one of text, image_url")
    return None


def _check_message(i: int, message: object) -> ApiError | None:
    where = f"messages[{i}]"
    if not isinstance(message, dict):
        return _invalid(where, f"expected a message object, got {_show(message)}")
    role = message.get("role")
    if role not in _ROLES:
        return _invalid(f"{where}.role", f"{_show(role)} is not one of {', '.join(_ROLES)}")
    content = message.get("content")
    if content is None:
        if role != "assistant":
            return _missing(f"{where}.content", f"a {role} message needs content")
    elif isinstance(content, list):
        error = _check_parts(f"{where}.content", content)
        if error is not None:
            return error
    elif not isinstance(content, str):
        return _invalid(
            f"{where}.content", f"expected a string or a list of parts, got {_show(content)}"
        )
    if role == "tool" and not isinstance(message.get("tool_call_id"), str):
        return _missing(f"{where}.tool_call_id", "a tool message needs tool_call_id")
    calls = message.get("tool_calls")
    if calls is not None and not isinstance(calls, list):
        return _invalid(f"{where}.tool_calls", f"expected a list, got {_show(calls)}")
    return None


def _check_messages(messages: object) -> ApiError | None:
    if messages is None:
        return _missing("messages", "messages is required")
    if not isinstance(messages, list):
        return _invalid("messages", f"expected a list of messages, got {_show(messages)}")
    if not messages:
        return _missing("messages", "messages must not be empty")
    for i, message in enumerate(messages):
        error = _check_message(i, message)
        if error is not None:
            return error
    if all(m.get("role") in ("system", "assistant") for m in messages):
        return _invalid(
            "messages",
            "the request must include at least one message that is not system or assistant",
        )
    return None


def _check_range(body: dict[str, Any], field: str, low: float, high: float) -> ApiError | None:
    value = body.get(field)
    if value is None:
        return None
    if not _is_number(value):
        return _invalid(field, f"{_show(value)} is not a number")
    if not low <= value <= high:
        return _invalid(field, f"{_show(value)} is outside [{low:g}, {high:g}]")
    return None


def _check_tools(tools: object) -> ApiError | None:
    if tools is None:
        return None
    if not isinstance(tools, list):
        return _invalid("tools", f"expected a list, got {_show(tools)}")
    if len(tools) > MAX_TOOLS:
        return _invalid("tools", f"{len(tools)} tools given, at most {MAX_TOOLS} are supported")
    for i, tool in enumerate(tools):
        where = f"tools[{i}]"
        if not isinstance(tool, dict) or tool.get("type") != "function":
            kind = tool.get("type") if isinstance(tool, dict) else tool
            return _invalid(f"{where}.type", f"{_show(kind)} is not supported, only function")
        function = tool.get("function")
        if not isinstance(function, dict):
            return _missing(f"{where}.function", "a function tool needs a function object")
        name = function.get("name")
        if not isinstance(name, str) or not _TOOL_NAME.match(name):
            return _invalid(
                f"{where}.function.name", f"{_show(name)} does not match ^[A-Za-z0-9_-]{{1,64}}$"
            )
        params = function.get("parameters")
        if params is not None and not isinstance(params, dict):
            return _invalid(
                f"{where}.function.parameters", f"expected an object, got {_show(params)}"
            )
    return None


def _check_options(body: dict[str, Any], max_output: int) -> ApiError | None:
    stream = body.get("stream")
    if stream is not None and not isinstance(stream, bool):
        return _invalid("stream", f"{_show(stream)} is not a boolean")
    error = _check_range(body, "temperature", 0.0, 1.0) or _check_range(body, "top_p", 0.01, 1.0)
    if error is not None:
        return error
    max_tokens = body.get("max_tokens")
    if max_tokens is not None:
        if not isinstance(max_tokens, int) or isinstance(max_tokens, bool) or max_tokens < 1:
            return _invalid("max_tokens", f"{_show(max_tokens)} is not an integer >= 1")
        if max_tokens > max_output:
            return _invalid(
                "max_tokens",
                f"{max_tokens} exceeds the model's limit of {max_output} output tokens",
            )
    stop = body.get("stop")
    if stop is not None and not isinstance(stop, str):
        if not isinstance(stop, list) or not all(isinstance(s, str) for s in stop):
            return _invalid("stop", f"{_show(stop)} is not a list of strings")
        if len(stop) > 1:
            return _invalid("stop", f"{len(stop)} stop sequences given, only one is supported")
    error = _check_tools(body.get("tools"))
    if error is not None:
        return error
    choice = body.get("tool_choice")
    if choice is not None and choice != "auto":
        return upstream_error("1214", "Tool choice must be auto")
    thinking = body.get("thinking")
    if thinking is not None:
        if not isinstance(thinking, dict):
            return _invalid("thinking", f"expected an object, got {_show(thinking)}")
        if thinking.get("type") not in ("enabled", "disabled"):
            return _invalid(
                "thinking.type", f"{_show(thinking.get('type'))} is not enabled or disabled"
            )
    return None


def validate(body: dict[str, Any]) -> ApiError | None:
    """Check a decoded request; return the service's error, or None when it is valid."""
    model = body.get("model")
    if model is None or model == "":
        return _missing("model", "model is required")
    if not isinstance(model, str):
        return _invalid("model", f"{_show(model)} is not a string")
    info = KNOWN_MODELS.get(model)
    if info is None:
        message = code_message("model_not_found", model=model)
        return ApiError(503, "model_not_found", message, "new_api_error")
    return _check_messages(body.get("messages")) or _check_options(body, info.max_output_tokens)
