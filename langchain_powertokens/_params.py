"""What one call sends: fields and per-call kwargs merged into the core's arguments.

The wire policies (several stop sequences, ``tool_choice`` beyond "auto", the limits)
are the core's: this module only says which values apply to a call.
"""

from __future__ import annotations

import functools
from typing import TYPE_CHECKING, Any, Protocol

from langchain_core.language_models import ModelProfile
from langchain_core.language_models.base import LangSmithParams
from langchain_core.utils.utils import get_pydantic_field_names

from powertokens import RequestValidationError, Timeout, model_info, validate_params
from powertokens.lib import check_fallback_models, check_reasoning_sent, not_per_call

from ._convert import messages_to_wire
from ._tools import check_tool_choice, format_tools

if TYPE_CHECKING:
    import httpx
    from langchain_core.messages import BaseMessage

    from powertokens import Timeout

__all__ = [
    "apply_aliases",
    "build_call",
    "check_limits",
    "field_names",
    "ls_params",
    "profile_for",
]


class ModelFields(Protocol):
    """The fields of :class:`~langchain_powertokens.ChatPowerTokens` read here."""

    model: str
    base_url: str | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: list[str] | str | None
    thinking: bool | str | dict[str, Any] | None
    timeout: float | httpx.Timeout | Timeout | None
    max_retries: int
    fallback_models: list[str] | None
    model_kwargs: dict[str, Any]
    n: int | None
    extra_body: dict[str, Any] | None
    send_reasoning: bool
    preserve_thinking: bool
    nudge_tool_choice: bool
    default_headers: dict[str, str] | None


# Per-call kwargs that OpenAI-style callers send and this API lacks: accepted, not sent
# (``response_format`` is taken before: see ``_response_format``).
_IGNORED_KWARGS = ("stream", "strict")


@functools.cache
def field_names(cls: type) -> frozenset[str]:
    """The model's fields and their pydantic aliases (``model_name``), once per class."""
    return frozenset(get_pydantic_field_names(cls))


def _settings(cls: type) -> frozenset[str]:
    """The model's own settings and their names (aliases, ChatOpenAI's names): those left
    in a call's kwargs once its per-call options are taken are not per-call options."""
    return field_names(cls) | ALIASES.keys()


def check_n(n: Any) -> None:
    """The API returns one answer per request: ``n`` may only be 1 (then not sent)."""
    if n is not None and (isinstance(n, bool) or n != 1):
        raise RequestValidationError(
            "n", "must be 1: the API returns one answer per request (make several calls)", n
        )


# Constructor names of ChatOpenAI / ChatDeepSeek and the fields they mean here.
ALIASES = {
    "request_timeout": "timeout",
    "api_base": "base_url",
    "openai_api_base": "base_url",
    "max_completion_tokens": "max_tokens",
    "openai_api_key": "api_key",
    "model_name": "model",  # the field's own alias: both names at once is an error too
}


_CALL_ALIASES = {
    alias: field
    for alias, field in ALIASES.items()
    if field in ("model", "max_tokens", "timeout")  # the per-call options among them
}
"""The aliases a call may use too (``model_name``, ``max_completion_tokens``,
``request_timeout``)."""


def apply_aliases(values: dict[str, Any]) -> dict[str, Any]:
    """Constructor arguments with ChatOpenAI's names renamed to ours (not sent in the
    body); two names for one field with different values is an error."""
    if not any(name in values for name in ALIASES):
        return values
    values = dict(values)
    for alias, field in ALIASES.items():
        if alias not in values:
            continue
        value = values.pop(alias)
        given = values.get(field)
        if field in values and given != value:
            shown = "<hidden>" if field == "api_key" else value
            raise RequestValidationError(
                alias, f"is another name for {field}, which was also given (differently)", shown
            )
        values[field] = value
    return values


def profile_for(model: str) -> ModelProfile:
    """The LangChain model profile: limits from the catalog, capabilities of the API
    (``docs/wire.md``) as this adapter offers them.

    ``tool_choice`` is False: the API takes "auto" only (forced choices are asked for
    in the prompt). ``structured_output`` is False: there is no native (provider-side)
    structured output; ``with_structured_output`` works over tool calling. Images go in
    user messages (URLs or base64); tool results are text only; no PDF, audio or video.
    A model added with ``powertokens.register_model`` is described by its own entry
    (read when the chat model is built: register before constructing it).
    """
    info = model_info(model)
    return ModelProfile(
        max_input_tokens=info.context_window,
        max_output_tokens=info.max_output_tokens,
        text_inputs=True,
        image_inputs=info.supports_images,
        image_url_inputs=info.supports_images,
        pdf_inputs=False,
        audio_inputs=False,
        video_inputs=False,
        image_tool_message=False,
        pdf_tool_message=False,
        text_outputs=True,
        image_outputs=False,
        audio_outputs=False,
        video_outputs=False,
        reasoning_output=info.supports_thinking,
        tool_calling=info.supports_tools,
        tool_choice=False,
        tool_call_streaming=info.supports_tools,
        structured_output=False,
        temperature=True,
    )


def check_limits(model: ModelFields) -> None:
    """Raise for a field value the API would reject (the core's own rules)."""
    validate_params(
        model=model.model,
        temperature=model.temperature,
        top_p=model.top_p,
        max_tokens=model.max_tokens,
        stop=model.stop,
        thinking=model.thinking,
        base_url=model.base_url,
        timeout=model.timeout,
        max_retries=model.max_retries,
        preserve_thinking=model.preserve_thinking,
        default_headers=model.default_headers,
    )
    check_reasoning_sent(model.preserve_thinking, model.send_reasoning)
    check_n(model.n)
    check_n(model.model_kwargs.get("n"))
    for name in check_fallback_models(model.fallback_models):
        try:  # the request must suit every model it may go to
            validate_params(
                model=name,
                max_tokens=model.max_tokens,
                thinking=model.thinking,
                preserve_thinking=model.preserve_thinking,
            )
        except RequestValidationError as error:
            raise RequestValidationError(
                error.field, f"{error.limit} (for {name}, in fallback_models)", error.value
            ) from None


def build_call(
    model: ModelFields,
    messages: list[BaseMessage],
    stop: list[str] | None,
    kwargs: dict[str, Any],
) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """(wire messages, core call arguments) for one call.

    Per-call kwargs override the fields; anything not known goes into the body, as
    with other partner models.
    """
    pop = kwargs.pop
    for name in _IGNORED_KWARGS:
        pop(name, None)
    for alias, target in _CALL_ALIASES.items():  # other integrations' names, per call
        if alias in kwargs:
            value = pop(alias)
            if kwargs.get(target) not in (None, value):
                raise RequestValidationError(
                    alias,
                    f"is another name for {target}, which was also given (differently)",
                    value,
                )
            kwargs[target] = value
    check_n(pop("n", None))
    max_tokens = pop("max_tokens", None)
    params: dict[str, Any] = {
        "model": pop("model", None) or model.model,
        "temperature": pop("temperature", model.temperature),
        "top_p": pop("top_p", model.top_p),
        "max_tokens": max_tokens if max_tokens is not None else model.max_tokens,
        "thinking": pop("thinking", model.thinking),
        "stop": stop if stop is not None else model.stop,
    }
    wire = messages_to_wire(messages, send_reasoning=model.send_reasoning)
    tools = pop("tools", None)
    choice = pop("tool_choice", None)
    parallel = pop("parallel_tool_calls", None)
    if tools:
        tools = params["tools"] = format_tools(tools)
        params["tool_hint"] = model.nudge_tool_choice
        params["parallel_tool_calls"] = parallel  # False: the core keeps one call
    if choice is not None:
        check_tool_choice(choice, tools)
        params["tool_choice"] = choice  # without tools, the core refuses a forced choice
    if (fallbacks := pop("fallback_models", model.fallback_models)) is not None:
        params["fallback_models"] = fallbacks
    if (preserve := pop("preserve_thinking", model.preserve_thinking)) is not None:
        check_reasoning_sent(preserve, model.send_reasoning)
        params["preserve_thinking"] = preserve
    if (headers := pop("extra_headers", None)) is not None:
        params["extra_headers"] = headers
    timeout = pop("timeout", None)
    if (total := pop("total_timeout", None)) is not None:  # this call's deadline
        timeout = Timeout.coerce(timeout if timeout is not None else model.timeout, total=total)
    if timeout is not None:
        params["timeout"] = timeout
    extra_body = pop("extra_body", None)
    for name in kwargs.keys() & _settings(type(model)):  # a setting, not a body field
        raise not_per_call(
            name, kwargs[name], owner="model", remedy="set it on the model (or a copy of it)"
        )
    if model.model_kwargs or model.extra_body or extra_body or kwargs:
        params["extra_body"] = {
            **{k: v for k, v in model.model_kwargs.items() if k != "n"},  # n=1: not sent
            **(model.extra_body or {}),
            **(extra_body or {}),
            **kwargs,
        }
    return wire, params


def ls_params(
    model: ModelFields, stop: list[str] | None, kwargs: dict[str, Any]
) -> LangSmithParams:
    """What LangSmith shows of a call: provider, model, temperature, max tokens, stops."""
    params = LangSmithParams(
        ls_provider="powertokens",
        ls_model_name=kwargs.get("model") or model.model,
        ls_model_type="chat",
    )
    temperature = kwargs.get("temperature", model.temperature)
    if temperature is not None:
        params["ls_temperature"] = temperature
    max_tokens = kwargs.get("max_tokens", model.max_tokens)
    if max_tokens is not None:
        params["ls_max_tokens"] = max_tokens
    stops = stop if stop is not None else model.stop
    if stops:
        params["ls_stop"] = [stops] if isinstance(stops, str) else list(stops)
    return params
