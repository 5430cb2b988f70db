"""Reading answers: pure functions from status, headers and bytes to a completion or
the typed error (``docs/wire.md``, "Errors"); transport exceptions to ours."""

from __future__ import annotations

from collections.abc import Mapping

import httpx
from pydantic import ValidationError

from ._config import REQUEST_ID_HEADER
from ._error_map import make_status_error
from ._exceptions import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    InvalidResponseError,
)
from ._json import loads
from ._models import ChatCompletion

__all__ = [
    "HTTPX_ERRORS",
    "SEND_ERRORS",
    "decode_completion",
    "is_event_stream",
    "request_id",
    "status_error",
    "transport_error",
]

HTTPX_ERRORS = (httpx.HTTPError, httpx.InvalidURL, httpx.StreamError)
"""What httpx may raise while sending or reading: every one becomes one of ours."""
SEND_ERRORS = (*HTTPX_ERRORS, RuntimeError)
"""Also httpx's ``RuntimeError`` for a closed client (an injected one, closed by its owner)."""


def request_id(headers: Mapping[str, str]) -> str | None:
    return headers.get(REQUEST_ID_HEADER)


def is_event_stream(response: httpx.Response) -> bool:
    """Whether a stream request got a stream (a server may answer with whole JSON)."""
    return "text/event-stream" in response.headers.get("content-type", "text/event-stream")


def status_error(response: httpx.Response, content: bytes) -> APIStatusError:
    """The typed error for an HTTP error answer (JSON, HTML or empty body)."""
    body: object
    try:
        body = loads(content) if content else None
    except ValueError:  # not JSON, or nested too deep: shown as text
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
        raise _unreadable(response, content, rid, "not JSON", exc) from exc
    if isinstance(data, dict) and "error" in data and "choices" not in data:
        raise make_status_error(response.status_code, data, response.headers, request_id=rid)
    try:
        return ChatCompletion.model_validate(data)
    except ValidationError as exc:
        raise _unreadable(response, content, rid, _first_problem(exc), exc) from exc


_EXCERPT = 200


def _unreadable(
    response: httpx.Response, content: bytes, rid: str | None, why: str, cause: Exception
) -> InvalidResponseError:
    """A 2xx (or 3xx) answer that is not a completion: never retried, it may be billed."""
    excerpt = content[: _EXCERPT * 4].decode("utf-8", errors="replace")[:_EXCERPT]
    shown = excerpt if len(content) <= _EXCERPT else excerpt + "..."
    return InvalidResponseError(
        f"the service answered with a body this client cannot read ({why}): {shown!r}",
        status_code=response.status_code,
        request_id=rid,
        body=excerpt,
        headers=response.headers,
    )


def _first_problem(exc: ValidationError) -> str:
    """The first field pydantic refused, as ``choices.0.message.content: <why>``."""
    errors = exc.errors(include_url=False, include_input=False)
    if not errors:
        return "not a chat completion"
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "the body"
    more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"


def transport_error(exc: Exception, response: httpx.Response | None = None) -> APIError:
    """Our error for what httpx raised; only transport failures are retried.

    The result has ``exc`` as its cause, except for a header httpx refused to write:
    that message shows the header's value (it may be a credential), so it is left out.
    """
    error = _transport_error(exc, response)
    if isinstance(exc, httpx.LocalProtocolError):
        error.__suppress_context__ = True
    else:
        error.__cause__ = exc
    return error


def _transport_error(exc: Exception, response: httpx.Response | None) -> APIError:
    name = type(exc).__name__
    if isinstance(exc, httpx.TimeoutException):
        return APITimeoutError(f"request timed out ({name})")
    detail = str(exc) or name
    if isinstance(exc, httpx.DecodingError):
        encoding = response.headers.get("content-encoding") if response is not None else None
        return InvalidResponseError(
            f"the service's answer could not be decoded"
            f"{f' (Content-Encoding: {encoding})' if encoding else ''}: {detail}",
            status_code=response.status_code if response is not None else None,
            request_id=request_id(response.headers) if response is not None else None,
            headers=response.headers if response is not None else None,
        )
    if isinstance(exc, httpx.LocalProtocolError):
        # h11's text quotes the refused header, value included: not shown.
        return APIError(
            f"the request could not be written ({name}): a header name or value holds a "
            "character HTTP does not allow (CR, LF, NUL, ...); check default_headers and "
            "extra_headers"
        )
    if isinstance(exc, httpx.UnsupportedProtocol):
        return APIError(f"the request could not be sent: {detail}")
    if isinstance(exc, httpx.TransportError):
        return APIConnectionError(f"connection error: {detail}")  # retried
    if isinstance(exc, httpx.TooManyRedirects):
        return APIError(f"the request was redirected too many times: {detail}")
    if isinstance(exc, RuntimeError) and not isinstance(exc, httpx.StreamError):
        return APIError(f"the HTTP client cannot send: {detail}")
    return APIError(f"the request failed ({name}): {detail}")
