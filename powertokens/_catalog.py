"""Facts about the GLM models behind PowerTokens (``docs/wire.md``, "Model facts").

One table holds every model-specific fact the core and the adapters use: the core's
``max_tokens`` check, LangChain's model profile and LlamaIndex's ``metadata`` all read
:func:`model_info`. The five built-in models are :data:`KNOWN_MODELS`; a newer model can
be added at run time, without a release, with :func:`register_model`:

    import powertokens

    powertokens.register_model(
        powertokens.ModelInfo("glm-5.1", context_window=200_000, max_output_tokens=128_000)
    )

The model name stays an open string: a name the table has not heard of still works,
with conservative defaults (the smallest known window, no ``max_tokens`` check), and a
lookup never raises.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from types import MappingProxyType
from typing import Any

from ._exceptions import RequestValidationError

__all__ = [
    "DEFAULT_MODEL",
    "KNOWN_MODELS",
    "ModelInfo",
    "model_info",
    "models",
    "register_model",
    "unregister_model",
]

DEFAULT_MODEL = "glm-5-turbo"

_THINKING_DEFAULTS = ("enabled", "dynamic", "disabled")


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Limits and defaults of one model.

    The limits are enforced by the client (``max_tokens`` above ``max_output_tokens`` is
    refused before sending); the ``supports_*`` flags describe the model to the
    adapters (LangChain's profile, LlamaIndex's metadata) and change nothing on the wire.
    """

    name: str
    context_window: int
    """Prompt plus output, in tokens."""
    max_output_tokens: int
    """The largest ``max_tokens`` the model accepts."""
    thinking_default: str = "enabled"
    """What the model does without a ``thinking`` field: ``"enabled"``, ``"disabled"``
    or ``"dynamic"`` (the model decides per request)."""
    known: bool = True
    """False for a name this table has not heard of (the defaults are guesses)."""
    supports_thinking: bool = True
    """The model can think (returns ``reasoning_content``) when asked to."""
    supports_preserved_thinking: bool = False
    """The model keeps earlier turns' reasoning in context when sent
    ``thinking.clear_thinking: false`` (the GLM-5 and GLM-4.7 families)."""
    supports_tools: bool = True
    """The model takes ``tools`` and answers with tool calls."""
    supports_images: bool = True
    """The endpoint takes ``image_url`` parts in user messages for this model."""


_BUILTIN: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo("glm-5-turbo", 200_000, 128_000, "enabled", supports_preserved_thinking=True),
        ModelInfo("glm-5", 200_000, 128_000, "enabled", supports_preserved_thinking=True),
        ModelInfo("glm-4.7", 200_000, 128_000, "enabled", supports_preserved_thinking=True),
        ModelInfo("glm-4.7-flash", 200_000, 128_000, "enabled", supports_preserved_thinking=True),
        ModelInfo("glm-4.5-air", 128_000, 96_000, "dynamic"),
    )
}

KNOWN_MODELS: Mapping[str, ModelInfo] = MappingProxyType(_BUILTIN)
"""The built-in models (read-only); :func:`models` also lists registered ones."""

# Unknown models: assume the smallest known window, so prompt packing stays safe.
_UNKNOWN_CONTEXT = 128_000
_UNKNOWN_OUTPUT = 96_000

# Readers take the current dict without a lock (one attribute read); writers build a new
# dict under the lock and swap it in, so a reader never sees a half-made table.
_lock = threading.Lock()
_table: dict[str, ModelInfo] = dict(_BUILTIN)


def model_info(name: str) -> ModelInfo:
    """Return the facts for ``name``; unknown names get conservative defaults."""
    info = _table.get(name)
    if info is not None:
        return info
    return _unknown(name)


@lru_cache(maxsize=64)
def _unknown(name: str) -> ModelInfo:
    # Cached: building a frozen dataclass costs microseconds, and callers such as
    # LlamaIndex's ``metadata`` look the same name up on every call.
    return ModelInfo(name, _UNKNOWN_CONTEXT, _UNKNOWN_OUTPUT, "dynamic", known=False)


def models() -> dict[str, ModelInfo]:
    """Every model the catalog knows, built-in and registered, by name (a copy)."""
    return dict(_table)


def _fail(field: str, limit: str, value: Any) -> RequestValidationError:
    return RequestValidationError(f"ModelInfo.{field}", limit, value)


def _positive_int(field: str, value: Any) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise _fail(field, "must be an integer >= 1", value)


def _check(info: Any) -> None:
    if not isinstance(info, ModelInfo):
        raise RequestValidationError("info", "must be a powertokens.ModelInfo", info)
    if not isinstance(info.name, str) or not info.name or info.name.strip() != info.name:
        raise _fail("name", "must be a non-empty string without surrounding spaces", info.name)
    _positive_int("context_window", info.context_window)
    _positive_int("max_output_tokens", info.max_output_tokens)
    if info.max_output_tokens > info.context_window:
        limit = f"must be <= context_window ({info.context_window})"
        raise _fail("max_output_tokens", limit, info.max_output_tokens)
    if info.thinking_default not in _THINKING_DEFAULTS:
        limit = "must be one of " + ", ".join(repr(v) for v in _THINKING_DEFAULTS)
        raise _fail("thinking_default", limit, info.thinking_default)
    if info.known is not True:
        raise _fail("known", "must be True for a registered model", info.known)
    for field in (
        "supports_thinking",
        "supports_preserved_thinking",
        "supports_tools",
        "supports_images",
    ):
        value = getattr(info, field)
        if not isinstance(value, bool):
            raise _fail(field, "must be True or False", value)


def register_model(info: ModelInfo, *, replace: bool = False) -> None:
    """Add a model to the catalog, for this process and every client in it.

    From then on the client checks ``max_tokens`` against ``info.max_output_tokens``
    for that name, and the adapters read its limits and ``supports_*`` flags. A name
    already in the catalog (built-in or registered) is only overridden with
    ``replace=True``; registering the same facts again is a no-op. Thread-safe.

    Raises :class:`RequestValidationError` for a bad value (naming the field), or for a
    name already in the catalog with other facts and ``replace`` false.
    """
    global _table
    _check(info)
    with _lock:
        current = _table.get(info.name)
        if current == info:
            return
        if current is not None and not replace:
            raise _fail(
                "name",
                "is already in the model catalog; pass replace=True to override it",
                info.name,
            )
        _table = {**_table, info.name: info}


def unregister_model(name: str) -> None:
    """Undo :func:`register_model` for ``name``: a built-in model gets its own facts back,
    any other name becomes unknown again. Raises :class:`RequestValidationError` for a
    name that was never registered. Thread-safe."""
    global _table
    if not isinstance(name, str):
        raise RequestValidationError("name", "must be a string", name)
    with _lock:
        current = _table.get(name)
        builtin = _BUILTIN.get(name)
        if current is None or current is builtin:
            raise RequestValidationError("name", "is not a registered model", name)
        table = dict(_table)
        if builtin is not None:
            table[name] = builtin
        else:
            del table[name]
        _table = table
