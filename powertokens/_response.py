"""Reading answers: pure functions from status, headers and bytes to a completion or
the typed error (``docs/wire.md``, "Errors"); transport exceptions to ours."""

from __future__ import annotations

import json
from collections.abc import Mapping

import httpx
from pydantic import ValidationError

from ._config import REQUEST_ID_HEADER
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    make_status_error,
)
from ._json import loads
from ._models import ChatCompletion

__all__ = ["decode_completion", "is_event_stream", "request_id", "status_error", "transport_error"]


def request_id(headers: Mapping[str, str]) -> str | None:
    return headers.get(REQUEST_ID_HEADER)


def is_event_stream(response: httpx.Response) -> bool:
    """Whether a stream request got a stream (a server may answer with whole JSON)."""
    return "text/event-stream" in response.headers.get("content-type", "text/event-stream")


def status_error(response: httpx.Response, content: bytes) -> APIStatusError:
    """The typed error for an HTTP error answer (JSON, HTML or empty body)."""
    body: object
    try:
        body = json.loads(content) if content else None
    except ValueError:
        body = content.decode("utf-8", errors="replace")
    return make_status_error(
        response.status_code, body, response.headers, request_id=request_id(response.headers)
    )


def decode_completion(response: httpx.Response, content: bytes) -> ChatCompletion:
    """A whole answer, or raise the typed error it carries."""
    if response.status_code >= 400:
        raise status_error(response, content)
    rid = request_id(response.headers)
    try:
        # The common case in one step: pydantic reads the JSON bytes straight into the
        # model, with no intermediate dicts. An error body ({"error": ...}, no choices)
        # or anything it refuses takes the careful path below.
        completion = ChatCompletion.model_validate_json(content)
    except ValidationError:
        completion = None
    if completion is None or (not completion.choices and "error" in (completion.model_extra or {})):
        completion = _decode_carefully(response, content, rid)
    if completion.request_id is None and rid:
        completion.request_id = rid
    return completion


def _decode_carefully(response: httpx.Response, content: bytes, rid: str | None) -> ChatCompletion:
    try:
        data = loads(content)
    except ValueError as exc:
        raise APIStatusError(
            f"the service answered {response.status_code} with a body that is not JSON",
            status_code=response.status_code,
            request_id=rid,
            body=content.decode("utf-8", errors="replace"),
            headers=response.headers,
        ) from exc
    if isinstance(data, dict) and "error" in data and "choices" not in data:
        raise make_status_error(response.status_code, data, response.headers, request_id=rid)
    return ChatCompletion.model_validate(data)


def transport_error(exc: Exception) -> APIConnectionError:
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request timed out ({type(exc).__name__})")
    detail = str(exc) or type(exc).__name__
    return APIConnectionError(f"connection error: {detail}")
