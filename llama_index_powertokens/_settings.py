"""Setting names of :class:`~llama_index_powertokens.PowerTokens`: aliases, unknown names
refused with the closest field, pydantic's errors as ``RequestValidationError``."""

from __future__ import annotations

import difflib
from collections.abc import Set
from typing import TYPE_CHECKING, Any

from llama_index.core.bridge.pydantic import ValidationError

from powertokens import DEFAULT_MODEL, RequestValidationError, Timeout

__all__ = [
    "ALIASES",
    "CORE_CHECKED",
    "Aliases",
    "invalid_setting",
    "resolve_aliases",
    "unknown_setting",
]

ALIASES = {
    "api_base": "base_url",
    "model_name": "model",
    "request_timeout": "timeout",
    "max_completion_tokens": "max_tokens",
    "send_reasoning_content": "send_reasoning",
}
"""Names other LlamaIndex integrations (OpenAI, OpenAILike, Ollama...) use for a field;
accepted at construction and on assignment (properties)."""
CORE_CHECKED = frozenset(
    {"model", "temperature", "top_p", "max_tokens", "stop", "thinking", "default_headers"}
)
"""Fields the core's ``validate_params`` checks, on assignment too."""


class Aliases:
    """The aliases as settable properties (a mixin of PowerTokens, which has the fields)."""

    if TYPE_CHECKING:
        base_url: str
        model: str
        timeout: float | Timeout | None
        max_tokens: int | None
        send_reasoning: bool

    @property
    def api_base(self) -> str:
        """The base URL (the name OpenAI-style LlamaIndex integrations use); settable."""
        return self.base_url

    @api_base.setter
    def api_base(self, value: str) -> None:
        self.base_url = value

    @property
    def model_name(self) -> str:
        """Alias of ``model`` (the name several LlamaIndex integrations use); settable."""
        return self.model

    @model_name.setter
    def model_name(self, value: str) -> None:
        self.model = value

    @property
    def request_timeout(self) -> float | Timeout | None:
        """Alias of ``timeout`` (as in ``Ollama``/``OpenAILike``); settable."""
        return self.timeout

    @request_timeout.setter
    def request_timeout(self, value: float | Timeout | None) -> None:
        self.timeout = value

    @property
    def max_completion_tokens(self) -> int | None:
        """Alias of ``max_tokens`` (the OpenAI API's newer name); settable."""
        return self.max_tokens

    @max_completion_tokens.setter
    def max_completion_tokens(self, value: int | None) -> None:
        self.max_tokens = value

    @property
    def send_reasoning_content(self) -> bool:
        """Alias of ``send_reasoning`` (this adapter's earlier name; LangChain's
        ``ChatPowerTokens`` has the same ``send_reasoning``); settable."""
        return self.send_reasoning

    @send_reasoning_content.setter
    def send_reasoning_content(self, value: bool) -> None:
        self.send_reasoning = value


def unknown_setting(name: str, value: Any, fields: Set[str]) -> RequestValidationError:
    """The error for a name that is neither one of ``fields`` nor an alias."""
    known = sorted(fields | ALIASES.keys())
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    # The value is not shown: a misspelled api_key would be the key.
    return RequestValidationError(
        name,
        f"not a PowerTokens setting ({hint}see help(PowerTokens) for the fields)",
        f"<{type(value).__name__}>",
    )


def invalid_setting(name: str | None, value: Any, exc: ValidationError) -> RequestValidationError:
    """pydantic's first complaint as a RequestValidationError naming the field (the
    value is never shown for ``api_key``)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    field = name or ".".join(str(p) for p in error["loc"]) or "settings"
    if name is None:
        value = "<hidden>" if "api_key" in field else exc.errors()[0].get("input")
    elif "api_key" in field:
        value = "<hidden>"
    return RequestValidationError(field, error["msg"], value)


def resolve_aliases(
    model: str, kwargs: dict[str, Any], fields: Set[str]
) -> tuple[str, dict[str, Any]]:
    """Aliases mapped onto their fields; names not in ``fields`` refused (close matches
    named)."""
    for name in kwargs:
        if name not in fields and name not in ALIASES:
            raise unknown_setting(name, kwargs[name], fields)
    if not any(alias in kwargs for alias in ALIASES):
        return model, kwargs
    kwargs = dict(kwargs)
    for alias, target in ALIASES.items():
        if alias not in kwargs or alias == "api_base":  # api_base: a named argument
            continue
        value = kwargs.pop(alias)
        given = model != DEFAULT_MODEL if target == "model" else target in kwargs
        if given:
            raise RequestValidationError(
                alias, f"an alias of {target!r}: give one of the two, not both", value
            )
        if target == "model":
            model = value
        else:
            kwargs[target] = value
    return model, kwargs
