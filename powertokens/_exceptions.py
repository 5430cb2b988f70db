"""The errors this package raises.

Every error is a :class:`PowerTokensError`; catch that to catch them all::

    PowerTokensError
     ├── RequestValidationError        bad input, raised before any request (also a ValueError)
     ├── APIError                      anything that went wrong talking to the service
     │    ├── APIConnectionError       the request never got an HTTP answer
     │    │    └── APITimeoutError     connect / read / stream-idle timeout
     │    │         ├── PoolTimeoutError  no request slot came free (not retried)
     │    │         └── DeadlineExceededError  timeout.total passed (not retried)
     │    ├── APIStatusError           the service answered with an error (HTTP or in-stream)
     │    │    ├── BadRequestError             400, codes 1210-1215
     │    │    │    ├── ContextOverflowError   1261: the prompt is longer than the context
     │    │    │    └── ContentFilterError     1300, 1301: blocked by the content filter
     │    │    ├── AuthenticationError         401, codes 1000-1004
     │    │    ├── PermissionDeniedError       403, codes 1110-1121, 1311 (model not in the plan)
     │    │    ├── NotFoundError               404, code 1211, gateway model_not_found
     │    │    ├── ConflictError               1231: a request with this id is running (not retried)
     │    │    ├── RateLimitError              429, codes 1302, 1303, 1305 (retried)
     │    │    │    ├── ModelOverloadedError   1312: this model is overloaded (retried;
     │    │    │    │                          ``suggested_model`` names the alternative)
     │    │    │    ├── FairUseThrottleError   1313: fair-use throttle on the account (not retried)
     │    │    │    └── QuotaExceededError     1113, 1304, 1308-1310, 1314-1321 (not retried)
     │    │    └── InternalServerError         5xx, codes 1230, 1234
     │    ├── StreamInterruptedError   a stream ended early: cut, malformed, no finish_reason
     │    └── InvalidResponseError     an answer this client cannot read (not retried)
     └── (nothing else)

The business ``code`` decides the class, not the HTTP status alone: some gateway
builds answer 500 for client errors, 1311 comes as a 403 or a 429, 1231 as a 400 or a
409 (``docs/wire.md``, "Errors"). Codes 1308-1321 are plan conditions: 1311, 1312 and
1313 have classes of their own, the others are quotas (an unlisted one in that range too).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from ._error_hints import reset_time, server_delay, suggested_model

if TYPE_CHECKING:
    from ._models import ChatCompletion

__all__ = [
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AuthenticationError",
    "BadRequestError",
    "ConflictError",
    "ContentFilterError",
    "ContextOverflowError",
    "DeadlineExceededError",
    "FairUseThrottleError",
    "InternalServerError",
    "InvalidResponseError",
    "ModelOverloadedError",
    "NotFoundError",
    "PermissionDeniedError",
    "PoolTimeoutError",
    "PowerTokensError",
    "QuotaExceededError",
    "RateLimitError",
    "RequestValidationError",
    "StreamInterruptedError",
]


class PowerTokensError(Exception):
    """Base class of every error raised by ``powertokens``."""

    is_retryable: bool = False
    """Whether sending the same request again may succeed."""

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuilt from args and state, not through __init__ (whose arguments differ per
        # class): so errors survive pickling (process pools, multiprocessing) and copy.
        return (_rebuild_error, (type(self), self.args), dict(self.__dict__))


def _rebuild_error(cls: type[PowerTokensError], args: tuple[Any, ...]) -> PowerTokensError:
    error = cls.__new__(cls)
    error.args = args
    return error


class RequestValidationError(PowerTokensError, ValueError):
    """A request broke a documented limit; raised before anything was sent.

    ``field`` names the offending field (dotted path), ``limit`` the rule it broke
    and ``value`` what was given.
    """

    def __init__(self, field: str, limit: str, value: Any) -> None:
        self.field = field
        self.limit = limit
        self.value = value
        shown = repr(value)
        if len(shown) > 200:
            shown = shown[:197] + "..."
        super().__init__(f"{field}: {limit} (got {shown})")


class APIError(PowerTokensError):
    """Something went wrong talking to the service.

    ``partial`` is set when the error broke a stream after output was delivered:
    a :class:`~powertokens.ChatCompletion` of what arrived (``finish_reason`` None).
    """

    partial: ChatCompletion | None = None

    def __init__(self, message: str, *, request_id: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id

    @property
    def partial_text(self) -> str:
        """The answer text received before the break ("" when none)."""
        return self.partial.content if self.partial is not None else ""


class APIConnectionError(APIError):
    """No HTTP answer: the connection failed, was refused or was dropped."""

    is_retryable = True


class APITimeoutError(APIConnectionError):
    """A connect, read or stream-idle timeout fired."""


class PoolTimeoutError(APITimeoutError):
    """No request slot came free within the pool timeout (``max_concurrent_requests``
    were in flight the whole time). Not retried: the wait was the retry."""

    is_retryable = False


class DeadlineExceededError(APITimeoutError):
    """The call passed its deadline, ``Timeout(total=...)``: retries and backoff
    included. Not retried. ``total`` is the deadline in seconds; ``partial`` holds
    what a stream delivered before it (None when nothing was)."""

    is_retryable = False

    def __init__(self, message: str, *, total: float, request_id: str | None = None) -> None:
        super().__init__(message, request_id=request_id)
        self.total = total


class APIStatusError(APIError):
    """The service answered with an error: an HTTP status, or an error event in a stream.

    Attributes: ``status_code`` (200 for an in-stream error), ``code`` (the business
    code as a string, e.g. ``"1302"``, or None), ``message``, ``request_id``,
    ``body`` (the decoded JSON body, or the text when it was not JSON), and
    ``headers``.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int,
        code: str | None = None,
        error_type: str | None = None,
        request_id: str | None = None,
        body: object = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = status_code
        self.code = code
        self.error_type = error_type
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        parts = [f"HTTP {self.status_code}"]
        if self.code:
            parts.append(f"code {self.code}")
        text = f"{', '.join(parts)}: {self.message}"
        if self.request_id:
            text += f" (request id: {self.request_id})"
        return text


class BadRequestError(APIStatusError):
    """The service rejected the request as invalid (400, codes 1210-1215)."""


class ContextOverflowError(BadRequestError):
    """The prompt does not fit in the model's context window (code 1261)."""


class ContentFilterError(BadRequestError):
    """The input or output was blocked by the content filter (codes 1300, 1301)."""


class AuthenticationError(APIStatusError):
    """The API key is missing, invalid or expired (401, codes 1000-1004)."""


class PermissionDeniedError(APIStatusError):
    """The account may not do this (403, codes 1110-1121); not retried (1120 is).

    Code 1311 (the subscribed plan does not include this model) is one too, whatever
    the status: the service sends it as a 403 or a 429, and waiting does not help.
    """


class NotFoundError(APIStatusError):
    """Unknown model or path (404, code 1211, gateway ``model_not_found``)."""


class ConflictError(APIStatusError):
    """A request with this id is already running (code 1231, a 400 or a 409); not retried.

    Sending it again would only collide with the running one. A 409 without this code
    stays an :class:`APIStatusError` and is retried.
    """

    is_retryable = False


class RateLimitError(APIStatusError):
    """Too many requests right now (429, codes 1302, 1303, 1305); retried.

    ``retry_after`` is the delay in seconds the server asked for, when it did.
    """

    is_retryable = True

    @property
    def retry_after(self) -> float | None:
        return server_delay(self.headers)


class ModelOverloadedError(RateLimitError):
    """This model is overloaded right now (code 1312); retried with backoff.

    ``suggested_model`` is the other model the service's message names ("... or switch
    to another model such as glm-4.7", "...或切换其他模型如 glm-4.7 等"), or None when it
    names none. Switching is the caller's choice: the client retries the same model,
    then the models of ``fallback_models``, if any, never the suggested one unless
    listed there. ``models_tried`` names every model tried, in order, when the
    ``fallback_models`` were used up (empty otherwise).
    """

    is_retryable = True
    models_tried: tuple[str, ...] = ()

    @property
    def suggested_model(self) -> str | None:
        return suggested_model(self.message)

    def __str__(self) -> str:
        text = super().__str__()
        if self.models_tried:
            text += f" [all overloaded: {', '.join(self.models_tried)} (fallback_models)]"
        return text


class FairUseThrottleError(RateLimitError):
    """The account's request rate is restricted under the fair-use policy (code 1313).

    Not retried: the restriction is on the account, not on this moment; the message
    says how to ask for it to be lifted.
    """

    is_retryable = False


class QuotaExceededError(RateLimitError):
    """A balance or plan quota is used up (1113, 1304, 1308-1310, 1314-1321); not retried.

    ``resets_at`` is the reset time the service names (codes 1308 and 1310: "Your
    limit will reset at 2026-11-26 18:00:00", "您的限额将在 2026-11-26 18:00:00 重置"),
    as the text it sent (the service's local time, no zone), or None.
    """

    is_retryable = False

    @property
    def resets_at(self) -> str | None:
        return reset_time(self.message)


class InternalServerError(APIStatusError):
    """The service failed (5xx, codes 1230, 1234); retried."""

    is_retryable = True


class StreamInterruptedError(APIError):
    """A stream ended before its ``finish_reason``; nothing is re-sent after delivery.

    ``partial`` is a :class:`~powertokens.ChatCompletion` of what arrived before the
    break (reasoning, text, tool calls), with ``finish_reason`` None.
    """

    is_retryable = False

    def __init__(
        self,
        message: str,
        *,
        partial: ChatCompletion | None = None,
        request_id: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.partial = partial
        if cause is not None:
            self.__cause__ = cause


class InvalidResponseError(APIError):
    """The service answered with a body this client cannot read: not JSON, JSON that is
    not a completion (``[]``, ``null``, a field of the wrong type), or a body whose
    ``Content-Encoding`` does not decode.

    Not retried: the answer came, so the request may have been carried out and billed.
    ``status_code`` is the HTTP status (None when the body broke before it was read),
    ``body`` a short excerpt of what arrived (at most 200 characters), ``headers`` the
    answer's headers. A stream that breaks this way after output was delivered raises
    :class:`StreamInterruptedError` instead, carrying the partial output.
    """

    def __init__(
        self,
        message: str,
        *,
        status_code: int | None = None,
        request_id: str | None = None,
        body: str = "",
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message, request_id=request_id)
        self.status_code = status_code
        self.body = body
        self.headers: dict[str, str] = dict(headers or {})

    def __str__(self) -> str:
        text = (
            self.message if self.status_code is None else f"HTTP {self.status_code}: {self.message}"
        )
        if self.request_id:
            text += f" (request id: {self.request_id})"
        return text
