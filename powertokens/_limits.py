"""The documented limits, checked before anything is sent; a body encoded as JSON.

Every check names the field, the limit and the value (:class:`RequestValidationError`).
:func:`validate_request` checks a whole body; what the caller's own JSON carries (tool
schemas, ``extra_body`` and any field beyond the documented ones) nests at most
:data:`MAX_JSON_DEPTH` levels, and nothing in a body is ``NaN`` or an infinity, which JSON
cannot express (sent bare, they make the whole body invalid JSON). :func:`encode_body`
writes the bytes sent. The limits are listed in ``docs/wire.md``, "Request".
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic_core import PydanticSerializationError, to_json

from ._catalog import model_info
from ._exceptions import RequestValidationError

__all__ = [
    "MAX_JSON_DEPTH",
    "MAX_TOOLS",
    "TOOL_NAME_PATTERN",
    "encode_body",
    "validate_request",
]

MAX_TOOLS = 128
MAX_JSON_DEPTH = 64
"""How deep the caller's own JSON (a tool's ``parameters``, an ``extra_body`` value) may
nest: objects and arrays, the value itself counting as one level. Real tool schemas nest
a few levels (each level of object properties takes two), and 64 keeps a whole body
under 100 levels, within what strict JSON parsers accept (pydantic's 200, serde_json's
128); far deeper values also overflow the Python encoder's recursion."""
TOOL_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_ROLES = ("system", "user", "assistant", "tool")


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, encoded once and re-sent unchanged on every retry.

    ``pydantic_core.to_json`` writes the same JSON as ``json.dumps(ensure_ascii=False,
    separators=(",", ":"))`` (byte for byte but for exponents: ``1e-7``, not ``1e-07``) in
    a sixth of the time. What it refuses is looked at closer: a string holding a lone
    surrogate raises :class:`RequestValidationError` naming its path (e.g.
    ``messages[0].content``); anything else goes to ``json`` for the usual error.
    """
    try:
        content = to_json(body)
    except PydanticSerializationError:
        content = _encode_slowly(body)
    if _may_hold_non_finite(content):
        _refuse_non_finite(body)
    return content


def _encode_slowly(body: Mapping[str, Any]) -> bytes:
    """``json.dumps`` for what ``to_json`` refused (one reason: nesting deeper than it
    writes, which only the unchecked extra keys of messages can hold); refusals as ours."""
    for key in ("messages", "thinking"):
        _check_json(key, body.get(key))  # the rest was checked by validate_request
    _check_unicode(body)  # a lone surrogate: named with its path, not a UnicodeEncodeError
    try:
        return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    except (TypeError, ValueError) as exc:  # not JSON data, or a reference to itself
        raise _fail("body", "must be JSON data (dicts, lists, strings, numbers)", str(exc)) from exc


def _may_hold_non_finite(content: bytes) -> bool:
    """Whether the JSON may hold a bare ``NaN`` or ``Infinity``. A one-byte search (memchr)
    first: no key or fixed value of a body has a capital N or I, so most bodies are
    settled without the slower search for the words."""
    return (b"N" in content and b"NaN" in content) or (b"I" in content and b"Infinity" in content)


def _refuse_non_finite(body: Mapping[str, Any]) -> None:
    """Raise for a NaN or infinity anywhere in ``body``, naming where; the bytes may
    just hold the word in a string, so this looks at the values."""
    found = _find_non_finite(body, "")
    if found is not None:
        where, value = found
        raise _fail(where, _NOT_FINITE, value)


_NOT_FINITE = "must be a finite number: JSON has no NaN or Infinity"
_CONTAINERS = (dict, list, tuple)


def _json_shape(value: Any) -> tuple[int, bool]:
    """(how deep ``value`` nests, whether it holds a NaN or infinity), level by level
    (no recursion to overflow). Past the depth limit or a few thousand containers (a
    cycle could grow without end) the exact walk below takes over."""
    if not isinstance(value, _CONTAINERS):
        return 0, isinstance(value, float) and not math.isfinite(value)
    depth, bad, visited = 0, False, 0
    level = [value]
    while level:
        depth += 1
        visited += len(level)
        if depth > MAX_JSON_DEPTH or visited > _QUICK_CONTAINERS:
            return _json_shape_exactly(value)
        below = []
        for node in level:
            for item in node.values() if isinstance(node, dict) else node:
                if isinstance(item, _CONTAINERS):
                    below.append(item)
                elif isinstance(item, float) and not math.isfinite(item):
                    bad = True
        level = below
    return depth, bad


_QUICK_CONTAINERS = 4096


def _json_shape_exactly(value: Any) -> tuple[int, bool]:
    """:func:`_json_shape` visiting each container once (no loop on a cycle)."""
    deepest, bad = 0, False
    stack: list[tuple[Any, int]] = [(value, 1)]
    seen: set[int] = set()
    while stack:
        node, depth = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        if depth > deepest:
            deepest = depth
        for item in node.values() if isinstance(node, dict) else node:
            if isinstance(item, _CONTAINERS):
                stack.append((item, depth + 1))
            elif isinstance(item, float) and not math.isfinite(item):
                bad = True
    return deepest, bad


def _find_non_finite(value: Any, where: str) -> tuple[str, float] | None:
    """The path and value of the first NaN or infinity in ``value``, if any."""
    stack: list[tuple[Any, str]] = [(value, where)]
    seen: set[int] = set()
    while stack:
        node, path = stack.pop()
        if isinstance(node, float):
            if not math.isfinite(node):
                return path or "body", node
            continue
        if not isinstance(node, _CONTAINERS) or id(node) in seen:
            continue
        seen.add(id(node))
        if isinstance(node, dict):
            children = [(v, f"{path}.{k}" if path else str(k)) for k, v in node.items()]
        else:
            children = [(v, f"{path}[{i}]") for i, v in enumerate(node)]
        stack.extend(reversed(children))  # depth first, in document order
    return None


def _check_json(where: str, value: Any) -> None:
    """The caller's own JSON value: nested at most MAX_JSON_DEPTH deep, all finite."""
    depth, bad = _json_shape(value)
    if depth > MAX_JSON_DEPTH:
        raise _fail(where, f"JSON may nest at most {MAX_JSON_DEPTH} levels deep", depth)
    if bad:
        found = _find_non_finite(value, where)
        if found is not None:
            raise _fail(found[0], _NOT_FINITE, found[1])


def _check_unicode(body: Mapping[str, Any]) -> None:
    """Raise :class:`RequestValidationError` naming the first string of ``body`` that
    UTF-8 cannot encode: one holding a lone surrogate (half a UTF-16 pair, e.g. from
    text cut in the middle of an emoji). Iterative: any depth is fine."""
    todo: list[tuple[str, Any]] = [("", body)]
    while todo:
        path, value = todo.pop()
        if isinstance(value, str):
            text = value
        elif isinstance(value, Mapping):
            items = list(value.items())
            for key, _ in items:
                if isinstance(key, str) and (at := _unencodable_at(key)) is not None:
                    raise _not_unicode(f"{path} key" if path else "key", key, at)
            todo.extend((f"{path}.{key}" if path else str(key), item) for key, item in items[::-1])
            continue
        elif isinstance(value, (list, tuple)):
            todo.extend((f"{path}[{i}]", value[i]) for i in range(len(value) - 1, -1, -1))
            continue
        else:
            continue
        if (at := _unencodable_at(text)) is not None:
            raise _not_unicode(path, text, at)


def _unencodable_at(text: str) -> int | None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        return exc.start
    return None


def _not_unicode(field: str, text: str, at: int) -> RequestValidationError:
    return RequestValidationError(
        field,
        f"must be valid Unicode: a lone surrogate (half a UTF-16 pair) at index {at} "
        "cannot be sent",
        text,
    )


# --- checks --------------------------------------------------------------------------


def _fail(field: str, limit: str, value: Any) -> RequestValidationError:
    return RequestValidationError(field, limit, value)


def _number(field: str, value: Any, low: float, high: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or math.isnan(value):
        raise _fail(field, f"must be a number in [{low:g}, {high:g}]", value)
    if not low <= value <= high:
        raise _fail(field, f"must be in [{low:g}, {high:g}]", value)


def _check_max_tokens(value: Any, model: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail("max_tokens", "must be an integer >= 1", value)
    info = model_info(model)
    if info.known and value > info.max_output_tokens:
        raise _fail("max_tokens", f"must be <= {info.max_output_tokens} for {model}", value)


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
        _check_max_tokens(value, model)
    if (value := body.get("stop")) is not None:
        if not isinstance(value, list) or not all(isinstance(s, str) and s for s in value):
            raise _fail("stop", "must be a list of non-empty strings", value)
        if len(value) > 1:
            raise _fail("stop", "the API takes one stop sequence (pass several to chat())", value)
    if (value := body.get("stream")) is not None and not isinstance(value, bool):
        raise _fail("stream", "must be true or false", value)
    if (value := body.get("thinking")) is not None:
        _validate_thinking(value)
    if (value := body.get("tools")) is not None:
        _validate_tools(value)
    if (value := body.get("tool_choice")) is not None and value != "auto":
        raise _fail("tool_choice", 'the API accepts only "auto"', value)
    for key in body.keys() - _DOCUMENTED:  # extra_body's, as given: JSON only
        _check_json(key, body[key])


_DOCUMENTED = frozenset(
    (
        "model",
        "messages",
        "stream",
        "thinking",
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "tools",
        "tool_choice",
    )
)


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
        if params:
            _check_json(f"{where}.function.parameters", params)


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
        if not isinstance(part, Mapping) or part.get("type") not in ("text", "image_url"):
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
