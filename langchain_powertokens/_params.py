"""What one call sends: fields and per-call kwargs merged once, the limits checked."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from langchain_core.language_models import ModelProfile

from powertokens import model_info, normalize_thinking, validate_request
from powertokens._config import resolve_base_url
from powertokens._stop import split_stop
from powertokens._toolchoice import resolve_tool_choice

from ._convert import add_tool_hint, messages_to_wire
from ._tools import format_tools

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from .chat_models import ChatPowerTokens

__all__ = ["build_call", "check_limits", "profile_for"]

# Per-call kwargs that OpenAI-style callers send and this API lacks: accepted, not sent.
_IGNORED_KWARGS = ("stream", "parallel_tool_calls", "strict", "response_format", "n")


def profile_for(model: str) -> ModelProfile:
    """The LangChain model profile: limits from the catalog, capabilities of the API."""
    info = model_info(model)
    return ModelProfile(
        max_input_tokens=info.context_window,
        max_output_tokens=info.max_output_tokens,
        text_inputs=True,
        text_outputs=True,
        tool_calling=True,
        tool_choice=False,
        tool_call_streaming=True,
        reasoning_output=True,
        structured_output=False,
    )


def check_limits(model: ChatPowerTokens) -> None:
    """Raise for a field value the API would reject (the same checks as at call time)."""
    resolve_base_url(model.base_url)
    server_stop, _ = split_stop(model.stop)
    probe: dict[str, Any] = {
        "model": model.model,
        "messages": [{"role": "user", "content": "."}],
        "temperature": model.temperature,
        "top_p": model.top_p,
        "max_tokens": model.max_tokens,
        "stop": server_stop,
    }
    if model.thinking is not None:
        probe["thinking"] = normalize_thinking(model.thinking)
    validate_request(probe)


def build_call(
    model: ChatPowerTokens,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, Any], list[str]]:
    """(wire messages, core call parameters, stop sequences to enforce) for one call.

    Per-call kwargs override the fields; ``tool_choice`` is mapped onto "auto" (a
    forced choice adds a request for the call to the system prompt, "none" drops the
    tools); anything not known goes into the body, as with other partner models.
    """
    pop = kwargs.pop
    for name in _IGNORED_KWARGS:
        pop(name, None)
    max_tokens = pop("max_tokens", None)
    alias = pop("max_completion_tokens", None)  # the OpenAI name
    if max_tokens is None:
        max_tokens = alias if alias is not None else model.max_tokens
    server_stop, stops = split_stop(stop if stop is not None else model.stop)
    params: dict[str, Any] = {
        "model": pop("model", None) or model.model,
        "temperature": pop("temperature", model.temperature),
        "top_p": pop("top_p", model.top_p),
        "max_tokens": max_tokens,
        "thinking": pop("thinking", model.thinking),
        "stop": server_stop,
    }
    wire = messages_to_wire(messages, send_reasoning=model.send_reasoning)
    tools = pop("tools", None)
    choice = pop("tool_choice", None)
    if tools:
        resolved = resolve_tool_choice(choice)
        if resolved.send_tools:
            params["tools"] = format_tools(tools)
            params["tool_choice"] = resolved.wire
            if resolved.downgraded and model.nudge_tool_choice:
                add_tool_hint(wire, resolved.forced_name)
    if (headers := pop("extra_headers", None)) is not None:
        params["extra_headers"] = headers
    if (timeout := pop("timeout", None)) is not None:
        params["timeout"] = timeout
    extra_body = pop("extra_body", None)
    if model.model_kwargs or model.extra_body or extra_body or kwargs:
        params["extra_body"] = {
            **model.model_kwargs,
            **(model.extra_body or {}),
            **(extra_body or {}),
            **kwargs,
        }
    return wire, params, stops
