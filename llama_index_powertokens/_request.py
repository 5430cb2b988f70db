"""One LlamaIndex call as core client arguments (pure, built once per call).

The LLM's fields become a cached base (:class:`Defaults`); a call's keyword arguments
are merged on top by :func:`merge_call`: known request fields (``stop`` and
``tool_choice`` included: the core enforces several stops and maps every choice onto
"auto") replace the defaults, and anything else joins ``extra_body`` (like
``additional_kwargs``: the gateway drops what it does not know), except a near miss
of a known name (``temprature=``), refused with the name it resembles; the aliases
``model_name``, ``max_completion_tokens`` and ``request_timeout`` count as their fields.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from powertokens import RequestValidationError, Timeout, resolve_tool_choice, validate_params
from powertokens.lib import check_fallback_models, check_reasoning_sent, not_per_call

from ._settings import ALIASES
from ._tools import FALLBACK_KWARG, JsonFallback, tool_spec

__all__ = ["Call", "Defaults", "defaults", "merge_call"]

_REQUEST_FIELDS = frozenset(
    {"model", "temperature", "top_p", "max_tokens", "thinking", "stop", "parallel_tool_calls"}
)
_IGNORED = frozenset({"formatted"})
"""Keyword arguments LlamaIndex passes that mean nothing on the wire."""
_ALIASES = {
    alias: field
    for alias, field in ALIASES.items()
    if field in ("model", "max_tokens", "timeout")  # the per-call options among them
}
"""Per-call names of other integrations (``model_name``, ``max_completion_tokens``,
``request_timeout``), as the LLM's own aliases."""
_KNOWN = sorted(
    _REQUEST_FIELDS
    | {
        "tools",
        "tool_choice",
        "extra_headers",
        "timeout",
        "total_timeout",
        "extra_body",
        "fallback_models",
        "preserve_thinking",
    }
)


def _check_not_a_typo(key: str, value: Any) -> None:
    """An unknown keyword joins the body, unless it looks like a misspelled known one
    (``temprature=``): that would be silently ignored by the service."""
    close = difflib.get_close_matches(key, _KNOWN, n=1, cutoff=0.8)
    if close:
        raise RequestValidationError(
            key, f"not a request field (did you mean {close[0]!r}?)", value
        )


@dataclass(frozen=True, slots=True)
class Defaults:
    """The request fields an LLM sends on every call, validated once."""

    params: dict[str, Any]


@dataclass(slots=True)
class Call:
    """Everything a core ``chat``/``stream`` call needs, plus what the adapter enforces."""

    params: dict[str, Any]
    """Keyword arguments of the core's ``chat``/``stream`` (request fields, plus
    ``extra_headers``/``timeout`` when given). May be the shared defaults: never modify."""
    messages: list[dict[str, Any]] = field(default_factory=list)
    fallback: JsonFallback | None = None


def defaults(
    *,
    model: str,
    temperature: float | None,
    top_p: float | None,
    max_tokens: int | None,
    stop: str | list[str] | None,
    thinking: Any,
    additional_kwargs: Mapping[str, Any],
    fallback_models: Any = None,
    preserve_thinking: Any = False,
    send_reasoning: bool = True,
) -> Defaults:
    """The base parameters; raises :class:`powertokens.RequestValidationError` now, with
    the core's own checks, rather than on the first call."""
    validate_params(
        model=model,
        temperature=temperature,
        top_p=top_p,
        max_tokens=max_tokens,
        stop=stop,
        thinking=thinking,
        preserve_thinking=preserve_thinking,
    )
    check_reasoning_sent(preserve_thinking, send_reasoning)
    params: dict[str, Any] = {"model": model}
    for key, value in (
        ("temperature", temperature),
        ("top_p", top_p),
        ("max_tokens", max_tokens),
        ("stop", stop),
        ("thinking", thinking),
    ):
        if value is not None:
            params[key] = value
    if additional_kwargs:
        params["extra_body"] = additional_kwargs  # the caller's dict: edits in place count
    if fallback_models is not None:
        chain = check_fallback_models(fallback_models)
        for name in chain:
            try:  # the request must suit every model it may go to
                validate_params(
                    model=name,
                    max_tokens=max_tokens,
                    thinking=thinking,
                    preserve_thinking=preserve_thinking,
                )
            except RequestValidationError as error:
                raise RequestValidationError(
                    error.field, f"{error.limit} (for {name}, in fallback_models)", error.value
                ) from None
        params["fallback_models"] = chain
    if preserve_thinking:
        params["preserve_thinking"] = True
    return Defaults(params)


def merge_call(
    base: Defaults,
    kwargs: Mapping[str, Any],
    *,
    send_reasoning: bool = True,
    timeout: Any = None,
    settings: frozenset[str] = frozenset(),
) -> Call:
    """``base`` with one call's keyword arguments applied (see the module docstring).

    ``timeout`` is the LLM's own (its phases are kept when a call gives only a deadline,
    ``total_timeout``). ``settings``: the LLM's setting names; one given to a call that is
    not a per-call option is refused rather than sent as a body field."""
    if not kwargs:
        return Call(base.params)
    params = dict(base.params)
    call = Call(params)
    extra: dict[str, Any] | None = None
    tools: Any = None
    choice: Any = None
    total: Any = None
    for alias, target in _ALIASES.items():  # both names of one option, differently (None too)
        if alias in kwargs and target in kwargs and kwargs[target] != kwargs[alias]:
            raise RequestValidationError(
                alias, f"an alias of {target!r}: give one of the two, not both", kwargs[alias]
            )
    for name, value in kwargs.items():
        key = _ALIASES.get(name, name)
        if key in _REQUEST_FIELDS:
            if value is None:
                params.pop(key, None)
            else:
                params[key] = value
        elif key == "tools":
            tools = value
        elif key == "tool_choice":
            choice = value
        elif key == FALLBACK_KWARG:
            call.fallback = value
        elif key in ("extra_headers", "timeout", "fallback_models"):
            params[key] = value
        elif key == "total_timeout":  # this call's deadline: applied after the loop
            total = value
        elif key == "preserve_thinking":
            check_reasoning_sent(value, send_reasoning)
            params[key] = value  # checked by the core (a bool, the model's support)
        elif key == "extra_body":
            extra = {**(extra or params.get("extra_body") or {}), **(value or {})}
        elif name in settings:  # sent as a body field, the gateway would drop it
            raise not_per_call(
                name, value, owner="LLM", remedy="set it on the LLM (or a copy of it)"
            )
        elif key not in _IGNORED:
            _check_not_a_typo(key, value)
            if extra is None:
                extra = dict(params.get("extra_body") or {})
            extra[key] = value
    if extra is not None:
        params["extra_body"] = extra
    if total is not None:  # over the call's phases, else the LLM's
        params["timeout"] = Timeout.coerce(params.get("timeout", timeout), total=total)
    if tools and resolve_tool_choice(choice).send_tools:
        params["tools"] = [tool_spec(t) for t in tools]
        if choice is not None:
            params["tool_choice"] = choice  # the core maps it onto "auto" (+ a hint)
    else:
        call.fallback = None
    return call
