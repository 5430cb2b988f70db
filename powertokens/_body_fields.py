"""Which names a call may send as request body fields.

A setting of the client (the key, the base URL, retries ...) given to one call, or put
among the extra body fields, would travel as a body field the gateway drops: the setting
silently ignored, a key sent in the body. Extra fields may add to the body but not change
what the call itself set (``stream``, ``messages``, an argument also given). Both are
refused before sending.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ._config import Redacted
from ._exceptions import RequestValidationError

__all__ = ["CLIENT_SETTINGS", "check_extra_body", "not_per_call"]

CLIENT_SETTINGS = frozenset(
    {
        "api_key",
        "base_url",
        "max_retries",
        "default_headers",
        "http_client",
        "max_concurrent_requests",
        "max_event_bytes",
    }
)
"""Settings of a client, not fields of a request: given to ``chat()``/``stream()``, they
would be sent in the body, where the gateway drops them (the key included)."""


def not_per_call(name: str, value: Any, *, owner: str, remedy: str) -> RequestValidationError:
    """The error for a setting of ``owner`` given to one call: it would otherwise be sent
    as a request field, which the gateway drops, so the setting would be silently ignored
    (and a key sent in the body). A key or headers are described, never shown."""
    if "key" in name or "secret" in name:
        value = Redacted(f"<a value of type {type(value).__name__}, not shown>")
    elif "headers" in name and isinstance(value, Mapping):
        value = Redacted(f"<headers {sorted(map(str, value))}, values not shown>")
    return RequestValidationError(
        name, f"is a setting of the {owner}, not a request field: {remedy}", value
    )


_NOT_IN_BODY = ("extra_body", "tool_hint", "parallel_tool_calls")


def check_extra_body(extra: Mapping[str, Any], params: Mapping[str, Any]) -> None:
    """Extra fields may add to the body, not change what the call itself set: such a
    field would silently win over the call's argument (or, for ``stream``, make the answer
    unreadable), and a client setting there would be dropped by the gateway."""
    for key, value in extra.items():
        field = f"extra_body[{key!r}]"
        if key in CLIENT_SETTINGS:
            remedy = "give it to the client or model itself, not in the request body"
            raise not_per_call(field, value, owner="client", remedy=remedy)
        if key == "stream":
            limit = "is chosen by the call: chat() for a whole answer, stream() for chunks"
            raise RequestValidationError(field, limit, value)
        if key == "messages":
            raise RequestValidationError(field, "is the call's own messages argument", value)
        if params.get(key) is not None and key not in _NOT_IN_BODY:
            limit = f"is also given as {key} (here or on the model): give it once"
            raise RequestValidationError(field, limit, value)
