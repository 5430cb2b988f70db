"""Request checks, answered the way the service answers them, before anything is generated.

Order and forms (docs/wire.md, "Request" and "Errors"):

- a body that is not a JSON object: gateway 400, code ``invalid_request``; so is a body
  that is not UTF-8 or not JSON (``NaN``/``Infinity`` included), one nested deeper than
  :data:`MAX_DEPTH` levels or holding more than :data:`MAX_CONTAINERS` objects and arrays,
  and one with an integer of more than :data:`MAX_INT_DIGITS` digits (never a 500, which
  clients retry). A lone UTF-16 surrogate escape (``"\\ud800"``) becomes U+FFFD, as the
  gateway's decoder does;
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
  auto"); ``thinking`` not an object with type enabled/disabled: 400 ``1214``;
- a prompt longer than the model's context window: 400 ``1261``. Counted here by size, so
  that no text is too long to count: at least one token per 12 characters of the message
  texts, tool-call arguments and tool schemas, and one per started 8 characters of a run of
  more than 12 non-space characters (a long "word" such as base64 is not one token). The
  model's own count (``usage.prompt_tokens``) is checked after this one.

Unknown fields are ignored, as the gateway drops them. ``null`` counts as absent.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Iterator
from typing import Any

from powertokens._catalog import KNOWN_MODELS

from .wire import ApiError, code_message, gateway_error, upstream_error

__all__ = [
    "MAX_CONTAINERS",
    "MAX_DEPTH",
    "MAX_INT_DIGITS",
    "MAX_TOOLS",
    "parse_body",
    "prompt_size_tokens",
    "validate",
]

MAX_TOOLS = 128
MAX_DEPTH = 128
"""Deepest nesting of objects and arrays a request body may have."""
MAX_CONTAINERS = 500_000
"""Most ``{`` and ``[`` characters a body may hold (decoding a million tiny arrays takes
seconds of CPU that no other connection gets; a prompt holding that many brackets is
over every context window anyway)."""
MAX_INT_DIGITS = 4300
"""Longest integer literal accepted (Python's own default limit, on every version)."""
_CHARS_PER_TOKEN = 12
_LONG_RUN = re.compile(r"\S{13,}")
_LONG_RUN_CHARS_PER_TOKEN = 8
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")
_SURROGATE = re.compile("[\ud800-\udfff]")
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


class _BodyError(ValueError):
    pass


def _parse_int(text: str) -> int:
    if len(text.lstrip("-")) > MAX_INT_DIGITS:
        raise _BodyError(f"an integer has {len(text)} digits, more than {MAX_INT_DIGITS}")
    return int(text)


def _reject_constant(name: str) -> Any:
    raise _BodyError(f"{name} is not valid JSON")


def _fix_surrogates(text: str) -> str:
    return _SURROGATE.sub("\ufffd", text) if _SURROGATE.search(text) else text


def _check_tree(body: Any, surrogates: bool) -> Any:
    """Refuse nesting deeper than MAX_DEPTH; replace lone surrogates when asked (in place)."""
    stack: list[tuple[Any, int]] = [(body, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise _BodyError(f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(node, dict):
            if surrogates and any(_SURROGATE.search(k) for k in node):
                fixed = {_fix_surrogates(k): v for k, v in node.items()}
                node.clear()
                node.update(fixed)
            for key, value in node.items():
                if isinstance(value, (dict, list)):
                    stack.append((value, depth + 1))
                elif surrogates and isinstance(value, str):
                    node[key] = _fix_surrogates(value)
        elif isinstance(node, list):
            for index, value in enumerate(node):
                if isinstance(value, (dict, list)):
                    stack.append((value, depth + 1))
                elif surrogates and isinstance(value, str):
                    node[index] = _fix_surrogates(value)
    return _fix_surrogates(body) if surrogates and isinstance(body, str) else body


def parse_body(raw: bytes) -> tuple[dict[str, Any] | None, ApiError | None]:
    """Decode the request body; a gateway 400 when it is not a JSON object.

    CPU-heavy for a large body (call it off the event loop); every malformed body gets
    the 400, never an exception.
    """
    try:
        containers = raw.count(b"{") + raw.count(b"[")
        if containers > MAX_CONTAINERS:
            raise _BodyError(f"more than {MAX_CONTAINERS} objects and arrays")
        text = raw.decode("utf-8")
        body = json.loads(text, parse_int=_parse_int, parse_constant=_reject_constant)
        if containers > MAX_DEPTH or _SURROGATE_ESCAPE.search(raw):
            body = _check_tree(body, surrogates=_SURROGATE_ESCAPE.search(raw) is not None)
    except UnicodeDecodeError as exc:
        return None, gateway_error("invalid_request", f"Invalid request body: not UTF-8 ({exc})")
    except RecursionError:
        message = f"Invalid request body: nested deeper than {MAX_DEPTH} levels"
        return None, gateway_error("invalid_request", message)
    except ValueError as exc:  # JSONDecodeError, _BodyError
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
                f"{_show(max_tokens)} exceeds the model's limit of {max_output} output tokens",
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


def _prompt_strings(body: dict[str, Any]) -> Iterator[str]:
    for message in body["messages"]:
        content = message.get("content")
        if isinstance(content, str):
            yield content
        elif isinstance(content, list):
            yield from (p["text"] for p in content if isinstance(p.get("text"), str))
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                for value in (function.get("name"), function.get("arguments")):
                    if isinstance(value, str):
                        yield value
    if body.get("tools"):
        yield json.dumps(body["tools"], ensure_ascii=False)


def prompt_size_tokens(body: dict[str, Any], limit: int) -> int:
    """A lower bound of a validated request's prompt tokens, from the size of its texts.

    One token per 12 characters, and one per started 8 characters of a run of more than
    12 non-space characters. Stops scanning once the bound passes ``limit``: the cost is
    a few passes over at most ``12 * limit`` characters, whatever the body.
    """
    texts = list(_prompt_strings(body))
    chars = sum(len(t) for t in texts)
    if chars > _CHARS_PER_TOKEN * limit:
        return chars // _CHARS_PER_TOKEN
    tokens = 0
    for text in texts:
        long_chars = 0
        for match in _LONG_RUN.finditer(text):
            size = match.end() - match.start()
            long_chars += size
            tokens += math.ceil(size / _LONG_RUN_CHARS_PER_TOKEN)
        tokens += (len(text) - long_chars) // _CHARS_PER_TOKEN
    return tokens


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
    error = _check_messages(body.get("messages")) or _check_options(body, info.max_output_tokens)
    if error is None and prompt_size_tokens(body, info.context_window) > info.context_window:
        return upstream_error("1261")
    return error
