"""Building and checking a request: pure, one place for every wire policy.

Policies the API lacks are applied here, once, for the clients and both adapters
(``docs/wire.md`` has the facts behind each):

* **several stop sequences**: the API takes one. The first is sent; all of them are
  enforced on the answer by the accumulator (``_accumulator``), stream or not;
* **tool_choice**: the API takes only ``"auto"``. ``"any"``, ``"required"``, ``True``, a
  tool name or ``{"type": "function", "function": {"name": ...}}`` are sent as
  ``"auto"`` with one sentence in the system prompt asking for the call
  (``_tool_choice.resolve_tool_choice`` gives both); ``"none"`` leaves the tools out;
* **parallel_tool_calls=False**: the API has no such field. It is never sent; the
  system-prompt sentence asks for a single call (one sentence, also when a forced
  ``tool_choice`` asks for a call: ``_tool_choice.tool_hint``), and only the first tool
  call of the answer is kept, stream or not (``Prepared.single_tool_call``, enforced by
  ``_accumulator``);
* **limits**: every documented limit is checked before anything is sent, naming the
  field, the limit and the value (``_limits.validate_request`` for a whole body, JSON
  depth and finiteness included; :func:`validate_params` for settings on their own, e.g.
  at a model's construction).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, TypedDict

import httpx
from pydantic import BaseModel

from ._body_fields import CLIENT_SETTINGS, check_extra_body, not_per_call
from ._catalog import DEFAULT_MODEL, model_info
from ._config import Redacted, Timeout, check_headers, resolve_base_url
from ._exceptions import RequestValidationError
from ._limits import (
    _check_max_tokens,
    _fail,
    _number,
    _validate_thinking,
    _validate_tools,
    validate_request,
)
from ._models import ChatCompletionRequest
from ._sse import DEFAULT_MAX_EVENT_BYTES
from ._tool_choice import (
    add_hint,
    check_parallel_tool_calls,
    resolve_tool_choice,
    tool_hint,
    tool_name,
)

__all__ = [
    "ChatParams",
    "Prepared",
    "build_body",
    "check_preserve_thinking",
    "normalize_thinking",
    "validate_params",
]


MessageLike = Mapping[str, Any] | BaseModel
ToolLike = Mapping[str, Any] | BaseModel


class ChatParams(TypedDict, total=False):
    """The optional arguments of ``chat()`` and ``stream()``."""

    model: str
    thinking: bool | str | Mapping[str, Any] | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: str | Sequence[str] | None
    """One or several sequences: the first is sent, all are enforced on the answer."""
    tools: Sequence[ToolLike] | None
    tool_choice: str | bool | Mapping[str, Any] | None
    """"auto", "none", "any", "required", True/False, a tool name or a function dict."""
    parallel_tool_calls: bool | None
    """False: at most one tool call per answer. Never sent (the API lacks the field):
    the system prompt asks for one call and only the first call of the answer is kept,
    in ``chat()`` and in streams (later calls' pieces never reach a delta). True or None:
    the model decides (it may make several calls)."""
    tool_hint: bool
    """Ask in the system prompt for the call a forced ``tool_choice`` wants, or for a
    single call with ``parallel_tool_calls=False`` (default True)."""
    extra_body: Mapping[str, Any] | None
    """Fields beyond the documented ones, sent as given (the gateway drops unknown ones)."""


@dataclass(frozen=True, slots=True)
class Prepared:
    """One request, built once and re-sent byte for byte on every retry."""

    url: httpx.URL
    content: bytes
    headers: dict[str, str] = field(repr=False)  # the API key: never in a repr (locals)
    timeout: httpx.Timeout
    model: str
    stream: bool
    stops: tuple[str, ...] = ()
    """Every stop sequence to enforce on the answer (the first was sent)."""
    total: float | None = None
    """``Timeout.total``: the deadline of the whole call in seconds (None: none)."""
    single_tool_call: bool = False
    """``parallel_tool_calls=False``: keep only the answer's first tool call."""
    max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES
    """The largest stream line or event accepted (the client's setting)."""
    fallbacks: tuple[Prepared, ...] = ()
    """``fallback_models``: this request for each next model, tried in order once this
    model is still overloaded (1312) after its retries."""
    fallback_from: tuple[str, ...] = ()
    """The models tried before this one and found overloaded (empty for the first)."""


# --- stop sequences ------------------------------------------------------------------


def split_stop(stop: Any) -> tuple[list[str] | None, tuple[str, ...]]:
    """(what to send, every sequence to enforce); raises for a value the API can't take."""
    if stop is None:
        return None, ()
    sequences = [stop] if isinstance(stop, str) else stop
    if not isinstance(sequences, (list, tuple)) or not all(isinstance(s, str) for s in sequences):
        raise RequestValidationError("stop", "must be a string or a list of strings", stop)
    if any(s == "" for s in sequences):
        raise RequestValidationError("stop", "a stop sequence must not be empty", stop)
    if not sequences:
        return None, ()
    return [sequences[0]], tuple(sequences)


# --- building ------------------------------------------------------------------------


def _dump(item: MessageLike | ToolLike, where: str) -> dict[str, Any]:
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_none=True)
    if not isinstance(item, Mapping):
        raise _fail(where, "must be a dict or a model", item)
    return dict(item)


def _dump_all(items: Any, field: str) -> list[dict[str, Any]]:
    if isinstance(items, (str, bytes, Mapping)) or not isinstance(items, Sequence):
        raise _fail(field, "must be a list of dicts or models", items)
    return [_dump(item, f"{field}[{i}]") for i, item in enumerate(items)]


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


def check_preserve_thinking(value: Any) -> bool:
    """``preserve_thinking`` as a bool (None: off); raises RequestValidationError."""
    if value is None:
        return False
    if not isinstance(value, bool):
        raise _fail("preserve_thinking", "must be True, False or None", value)
    return value


def check_reasoning_sent(preserve_thinking: Any, send_reasoning: bool) -> None:
    """For adapters that can leave reasoning out of the messages they send: preserved
    thinking needs every earlier turn's reasoning sent back, so refuse it without."""
    if preserve_thinking is True and not send_reasoning:
        raise _fail(
            "preserve_thinking",
            "needs send_reasoning=True: preserved thinking requires every earlier "
            "assistant turn's reasoning to be sent back (send_reasoning=False leaves it out)",
            preserve_thinking,
        )


def apply_preserve_thinking(body: dict[str, Any]) -> None:
    """Turn on preserved thinking in ``body``, in place: ``thinking.clear_thinking`` is
    set to false, next to the turn's own ``thinking.type`` (``docs/wire.md``,
    "Thinking"). Turn-level thinking still applies: a turn with thinking off keeps the
    earlier turns' reasoning in context too, so ``{"type": "disabled",
    "clear_thinking": false}`` is sent as is. Without a ``thinking`` field the type is
    the model's default ("enabled" unless the catalog says "disabled").

    Raises :class:`RequestValidationError` when the request also asks for
    ``clear_thinking: true``, or when the model catalog does not list the model as
    supporting preserved thinking (names the catalog has not heard of included: register
    them with ``supports_preserved_thinking=True``).
    """
    model = body["model"]
    info = model_info(model) if isinstance(model, str) else None
    if info is None or not info.supports_preserved_thinking:
        why = (
            "its model catalog entry has supports_preserved_thinking=False"
            if info is not None and info.known
            else "it is not in the model catalog"
        )
        raise _fail(
            "preserve_thinking",
            f"model {model!r} does not support preserved thinking ({why}; for a model "
            "that does, register it: powertokens.register_model(ModelInfo(..., "
            "supports_preserved_thinking=True), replace=True))",
            True,
        )
    thinking = body.get("thinking")
    if thinking is None:
        thinking = {"type": "disabled" if info.thinking_default == "disabled" else "enabled"}
    elif not isinstance(thinking, Mapping):
        _validate_thinking(thinking)  # raises, naming the field
    if thinking.get("clear_thinking") is True:
        raise _fail(
            "thinking.clear_thinking",
            "must not be true with preserve_thinking=True (preserved thinking sends "
            "clear_thinking: false); drop one of the two",
            True,
        )
    body["thinking"] = {**thinking, "clear_thinking": False}


def build(
    messages: Sequence[MessageLike] | ChatCompletionRequest,
    params: Mapping[str, Any],
    *,
    stream: bool,
    preserve: bool = False,
) -> tuple[dict[str, Any], tuple[str, ...]]:
    """The validated body and the stop sequences to enforce on its answer;
    ``preserve``: ``preserve_thinking`` (see :func:`apply_preserve_thinking`)."""
    if isinstance(messages, ChatCompletionRequest):
        body = messages.to_wire()
    else:
        body = {"model": DEFAULT_MODEL, "messages": _dump_all(messages, "messages")}
    stops: tuple[str, ...] = ()
    choice: Any = None
    single = check_parallel_tool_calls(params.get("parallel_tool_calls"))
    for key, value in params.items():
        if key in CLIENT_SETTINGS:  # None too: it would be ignored as well
            remedy = f"use client.with_options({key}=...) for such calls"
            raise not_per_call(key, value, owner="client", remedy=remedy)
        if value is None or key in ("extra_body", "tool_hint", "parallel_tool_calls"):
            continue
        if key == "tools":
            body["tools"] = _dump_all(value, "tools")
        elif key == "stop":
            body["stop"], stops = split_stop(value)
        elif key == "thinking":
            body["thinking"] = normalize_thinking(value)
        elif key == "tool_choice":
            choice = value
        else:
            body[key] = value
    if choice is not None or single:
        tools = body.get("tools") or ()
        resolved = resolve_tool_choice(choice, [tool_name(t) for t in tools])
        if not resolved.send_tools:
            body.pop("tools", None)
        elif resolved.hint and not tools:
            raise _fail("tool_choice", "asks for a tool call, but no tools were given", choice)
        elif tools:
            if resolved.wire is not None:
                body["tool_choice"] = resolved.wire
            hint = tool_hint(resolved, single_call=single)
            if hint and params.get("tool_hint", True):
                body["messages"] = add_hint(body["messages"], hint)
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
    if body.get("stop") is None:
        body.pop("stop", None)
    if not stops and body.get("stop"):  # a request model's own stop list
        body["stop"], stops = split_stop(body["stop"])
    if extra := params.get("extra_body"):
        if not isinstance(extra, Mapping):
            raise _fail("extra_body", "must be a dict of extra fields", extra)
        check_extra_body(extra, params)
        body.update(extra)
    if preserve:
        apply_preserve_thinking(body)
    validate_request(body)
    return body, stops


def build_body(
    messages: Sequence[MessageLike] | ChatCompletionRequest,
    params: Mapping[str, Any],
    *,
    stream: bool = False,
    preserve_thinking: bool = False,
) -> dict[str, Any]:
    """The JSON body ``chat()``/``stream()`` would send for ``messages`` and ``params``
    (``preserve_thinking``: as the keyword of ``chat()``).

    Raises :class:`RequestValidationError` for anything the API would refuse.
    """
    preserve = check_preserve_thinking(preserve_thinking)
    return build(messages, params, stream=stream, preserve=preserve)[0]


def validate_params(
    *,
    model: str | None = None,
    temperature: float | None = None,
    top_p: float | None = None,
    max_tokens: int | None = None,
    stop: str | Sequence[str] | None = None,
    thinking: Any = None,
    tools: Sequence[ToolLike] | None = None,
    tool_choice: Any = None,
    parallel_tool_calls: bool | None = None,
    base_url: str | None = None,
    timeout: Timeout | httpx.Timeout | float | None = None,
    max_retries: int | None = None,
    preserve_thinking: bool | None = None,
    default_headers: Mapping[str, str] | None = None,
) -> None:
    """Check settings on their own, with the rules ``chat()`` applies to a request.

    For frameworks that take settings at construction: a bad value fails there, not at
    the first call. None means "not set". Raises :class:`RequestValidationError`.
    """
    name = model if model is not None else DEFAULT_MODEL
    if model is not None and (not isinstance(model, str) or not model):
        raise _fail("model", "must be a non-empty string", model)
    if temperature is not None:
        _number("temperature", temperature, 0.0, 1.0)
    if top_p is not None:
        _number("top_p", top_p, 0.01, 1.0)
    if max_tokens is not None:
        _check_max_tokens(max_tokens, name)
    split_stop(stop)
    if thinking is not None:
        _validate_thinking(normalize_thinking(thinking))
    if tools is not None:
        _validate_tools(_dump_all(tools, "tools"))
    resolve_tool_choice(tool_choice)
    check_parallel_tool_calls(parallel_tool_calls)
    if base_url is not None:
        resolve_base_url(base_url)
    if timeout is not None:
        Timeout.coerce(timeout)
    if default_headers is not None:
        if not isinstance(default_headers, Mapping):
            kind = Redacted(f"<a value of type {type(default_headers).__name__}>")
            raise _fail("default_headers", "must be a mapping of header names to values", kind)
        check_headers(default_headers)  # values never shown
    if max_retries is not None and (
        isinstance(max_retries, bool) or not isinstance(max_retries, int) or max_retries < 0
    ):
        raise _fail("max_retries", "must be an integer >= 0", max_retries)
    if check_preserve_thinking(preserve_thinking):
        apply_preserve_thinking({"model": name, "thinking": normalize_thinking(thinking)})
