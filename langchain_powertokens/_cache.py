"""The LLM-cache key of a ``ChatPowerTokens`` call (``BaseChatModel._get_llm_string``).

langchain-core looks answers up by (prompt, key). Its own key is the model's
``dumpd`` (for a serializable class) or ``_identifying_params`` plus the call's
kwargs; the first changes with tracing tags and transport settings, the second
missed most fields that change the answer (stop, extra body fields, thinking ...),
so a cached answer came back for a different request.

Here the key is built the other way round: every field of the model is in it
except the ones listed in :data:`NEUTRAL_FIELDS`, which cannot change what the
service answers (the key, transport, observers). A field added later is therefore
in the key unless someone decides otherwise (``tests/langchain`` checks both sets
against the model's fields). The API key is never in the key: caches store keys
in files and databases.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from ._clients import SECRET_KWARGS

__all__ = ["NEUTRAL_FIELDS", "llm_string"]

NEUTRAL_FIELDS: frozenset[str] = frozenset(
    {
        # secrets: never written into a cache
        "api_key",
        # transport: how the request travels, not what it asks
        "timeout",
        "total_timeout",
        # only 1 is allowed (one answer per request): it cannot change the answer
        "n",
        "max_retries",
        "max_concurrent_requests",
        "max_event_bytes",
        "http_client",
        "http_async_client",
        # langchain-core: observers, the cache itself, pacing, token counting, the
        # runnable's name and the capability profile (derived from ``model``)
        "cache",
        "callbacks",
        "verbose",
        "tags",
        "metadata",
        "rate_limiter",
        "custom_get_token_ids",
        "name",
        "profile",
    }
)
"""Fields that do not change the request body, the endpoint or the result."""

# Header values may hold credentials: only a digest of them goes into the key (a key
# given to one call too, before the call refuses it).
_HASHED_FIELDS = frozenset({"default_headers"})
_HASHED_KWARGS = ("extra_headers", *SECRET_KWARGS)


def _digest(value: Any) -> str | None:
    if not value:
        return None
    text = json.dumps(value, sort_keys=True, default=repr)
    return hashlib.sha256(text.encode()).hexdigest()


def llm_string(model: Any, stop: list[str] | None, kwargs: dict[str, Any]) -> str:
    """The cache key: the class, every result-relevant field, the call's stop and kwargs."""
    cls = type(model)
    fields: dict[str, Any] = {}
    for name in cls.model_fields:
        if name in NEUTRAL_FIELDS:
            continue
        value = getattr(model, name)
        fields[name] = _digest(value) if name in _HASHED_FIELDS else value
    for name in _HASHED_KWARGS:
        if name in kwargs:
            kwargs = {**kwargs, name: _digest(kwargs[name])}
    payload = {
        "class": f"{cls.__module__}.{cls.__qualname__}",
        "fields": fields,
        "stop": stop,
        "kwargs": kwargs,
    }
    try:
        return json.dumps(payload, sort_keys=True, default=repr, ensure_ascii=False)
    except TypeError:  # dict keys that cannot be sorted together (e.g. 1 and "a")
        return repr(payload)
