"""Building the request body: pure, shared by every client and adapter."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any, TypedDict

from pydantic import BaseModel

from ._catalog import DEFAULT_MODEL
from ._models import ChatCompletionRequest
from ._validation import normalize_thinking, validate_request

__all__ = ["ChatParams", "build_body", "encode_body"]

MessageLike = Mapping[str, Any] | BaseModel
ToolLike = Mapping[str, Any] | BaseModel


class ChatParams(TypedDict, total=False):
    """The optional request fields a chat call takes (the seed's list, plus escapes)."""

    model: str
    thinking: bool | str | Mapping[str, Any] | None
    temperature: float | None
    top_p: float | None
    max_tokens: int | None
    stop: str | Sequence[str] | None
    tools: Sequence[ToolLike] | None
    tool_choice: str | None
    extra_body: Mapping[str, Any] | None
    """Fields beyond the seed, sent as given (the gateway drops what it does not know)."""


def _dump(item: MessageLike | ToolLike) -> dict[str, Any]:
    if isinstance(item, BaseModel):
        return item.model_dump(mode="json", exclude_none=True)
    return dict(item)


def build_body(
    messages: Sequence[MessageLike] | ChatCompletionRequest,
    params: Mapping[str, Any],
    *,
    stream: bool,
) -> dict[str, Any]:
    """The validated JSON-ready body for ``messages`` and ``params``.

    Raises :class:`RequestValidationError` before anything is sent.
    """
    if isinstance(messages, ChatCompletionRequest):
        body = messages.to_wire()
    else:
        if isinstance(messages, (str, bytes)) or not isinstance(messages, Sequence):
            raise TypeError("messages must be a list of message dicts or models")
        body = {"model": DEFAULT_MODEL, "messages": [_dump(m) for m in messages]}
    for key, value in params.items():
        if value is None or key == "extra_body":
            continue
        if key == "tools":
            body["tools"] = [_dump(t) for t in value]
        elif key == "stop":
            body["stop"] = [value] if isinstance(value, str) else list(value)
        elif key == "thinking":
            body["thinking"] = normalize_thinking(value)
        else:
            body[key] = value
    if stream:
        body["stream"] = True
    else:
        body.pop("stream", None)
    if not body.get("stop"):
        body.pop("stop", None)  # an empty list asks for nothing
    extra = params.get("extra_body")
    if extra:
        body.update(extra)
    validate_request(body)
    return body


def encode_body(body: Mapping[str, Any]) -> bytes:
    """Compact UTF-8 JSON, encoded once and re-sent unchanged on every retry."""
    return json.dumps(body, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
