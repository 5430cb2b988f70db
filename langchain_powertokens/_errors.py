"""Errors that belong to both trees: ``powertokens``' and langchain-core's.

Every error the adapter raises is an instance of the core error it came from (so
``except powertokens.RateLimitError`` keeps working) and of the matching class in
``langchain_core.exceptions`` (so framework code that catches ``ModelRateLimitError``
works with this model as with any partner package)::

    core error (powertokens)   dual class (here)                   langchain-core
    RequestValidationError     PowerTokensRequestValidationError   ModelInvalidRequestError
    BadRequestError            PowerTokensBadRequestError          ModelInvalidRequestError
    ContextOverflowError       PowerTokensContextOverflowError     ContextOverflowError
    ContentFilterError         PowerTokensContentFilterError       ModelInvalidRequestError
    AuthenticationError        PowerTokensAuthenticationError      ModelAuthenticationError
    PermissionDeniedError      PowerTokensPermissionDeniedError    ModelPermissionDeniedError
    NotFoundError              PowerTokensNotFoundError            ModelNotFoundError
    RateLimitError             PowerTokensRateLimitError           ModelRateLimitError
    QuotaExceededError         PowerTokensQuotaExceededError       ModelRateLimitError
    InternalServerError        PowerTokensInternalServerError      ModelAPIError
    APIStatusError (other)     PowerTokensAPIStatusError           ModelAPIError
    APITimeoutError            PowerTokensTimeoutError             ModelTimeoutError
    APIConnectionError         PowerTokensConnectionError          ModelConnectionError
    StreamInterruptedError     PowerTokensStreamInterruptedError   ModelAPIError
    InvalidResponseError       PowerTokensInvalidResponseError     ModelAPIError
    APIError (other)           PowerTokensAPIError                 ModelAPIError

The conversion keeps every attribute (``status_code``, ``code``, ``message``,
``request_id``, ``body``, ``headers``, ``partial`` ...) and ``is_retryable`` comes
from the core class, which knows the business code (a quota 429 is not retryable).
"""

from __future__ import annotations

from langchain_core.exceptions import (
    ContextOverflowError as LCContextOverflowError,
)
from langchain_core.exceptions import (
    ModelAPIError,
    ModelAuthenticationError,
    ModelConnectionError,
    ModelError,
    ModelInvalidRequestError,
    ModelNotFoundError,
    ModelPermissionDeniedError,
    ModelRateLimitError,
    ModelTimeoutError,
)

from powertokens import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ContentFilterError,
    ContextOverflowError,
    InternalServerError,
    InvalidResponseError,
    NotFoundError,
    PermissionDeniedError,
    PoolTimeoutError,
    PowerTokensError,
    QuotaExceededError,
    RateLimitError,
    RequestValidationError,
    StreamInterruptedError,
)

__all__ = [
    "PowerTokensAPIError",
    "PowerTokensAPIStatusError",
    "PowerTokensAuthenticationError",
    "PowerTokensBadRequestError",
    "PowerTokensConnectionError",
    "PowerTokensContentFilterError",
    "PowerTokensContextOverflowError",
    "PowerTokensInternalServerError",
    "PowerTokensInvalidResponseError",
    "PowerTokensNotFoundError",
    "PowerTokensPermissionDeniedError",
    "PowerTokensPoolTimeoutError",
    "PowerTokensQuotaExceededError",
    "PowerTokensRateLimitError",
    "PowerTokensRequestValidationError",
    "PowerTokensStreamInterruptedError",
    "PowerTokensTimeoutError",
    "to_langchain_error",
]


class PowerTokensRequestValidationError(RequestValidationError, ModelInvalidRequestError):
    """A documented limit was broken; nothing was sent (also a ``ValueError``)."""


class PowerTokensBadRequestError(BadRequestError, ModelInvalidRequestError):
    """The service rejected the request as invalid."""


class PowerTokensContextOverflowError(ContextOverflowError, LCContextOverflowError):
    """The prompt does not fit in the model's context window (code 1261)."""


class PowerTokensContentFilterError(ContentFilterError, ModelInvalidRequestError):
    """The input was blocked by the content filter (codes 1300, 1301)."""


class PowerTokensAuthenticationError(AuthenticationError, ModelAuthenticationError):
    """The API key is missing, invalid or expired."""


class PowerTokensPermissionDeniedError(PermissionDeniedError, ModelPermissionDeniedError):
    """The account may not do this."""


class PowerTokensNotFoundError(NotFoundError, ModelNotFoundError):
    """Unknown model or path."""


class PowerTokensRateLimitError(RateLimitError, ModelRateLimitError):
    """Too many requests right now; already retried ``max_retries`` times."""


class PowerTokensQuotaExceededError(QuotaExceededError, ModelRateLimitError):
    """A balance or plan quota is used up; not retried (see ``resets_at``)."""


class PowerTokensInternalServerError(InternalServerError, ModelAPIError):
    """The service failed; already retried ``max_retries`` times."""


class PowerTokensAPIStatusError(APIStatusError, ModelAPIError):
    """An error answer that fits no narrower class."""


class PowerTokensTimeoutError(APITimeoutError, ModelTimeoutError):
    """A connect, read or stream-idle timeout fired."""


class PowerTokensPoolTimeoutError(PoolTimeoutError, ModelTimeoutError):
    """No request slot came free within the pool timeout (``max_concurrent_requests``)."""


class PowerTokensConnectionError(APIConnectionError, ModelConnectionError):
    """The service could not be reached."""


class PowerTokensStreamInterruptedError(StreamInterruptedError, ModelAPIError):
    """A stream broke before its ``finish_reason``; ``partial`` holds what arrived."""


class PowerTokensInvalidResponseError(InvalidResponseError, ModelAPIError):
    """The service answered with a body this client cannot read; not retried."""


class PowerTokensAPIError(APIError, ModelAPIError):
    """Any other failure talking to the service."""


# Most specific first: the first class the error is an instance of wins.
_DUALS: tuple[tuple[type[PowerTokensError], type[PowerTokensError]], ...] = (
    (RequestValidationError, PowerTokensRequestValidationError),
    (ContextOverflowError, PowerTokensContextOverflowError),
    (ContentFilterError, PowerTokensContentFilterError),
    (BadRequestError, PowerTokensBadRequestError),
    (AuthenticationError, PowerTokensAuthenticationError),
    (PermissionDeniedError, PowerTokensPermissionDeniedError),
    (NotFoundError, PowerTokensNotFoundError),
    (QuotaExceededError, PowerTokensQuotaExceededError),
    (RateLimitError, PowerTokensRateLimitError),
    (InternalServerError, PowerTokensInternalServerError),
    (APIStatusError, PowerTokensAPIStatusError),
    (PoolTimeoutError, PowerTokensPoolTimeoutError),
    (APITimeoutError, PowerTokensTimeoutError),
    (APIConnectionError, PowerTokensConnectionError),
    (StreamInterruptedError, PowerTokensStreamInterruptedError),
    (InvalidResponseError, PowerTokensInvalidResponseError),
    (APIError, PowerTokensAPIError),
)


def _dual_class(error: PowerTokensError) -> type[PowerTokensError] | None:
    for core_class, dual in _DUALS:
        if isinstance(error, core_class):
            return dual
    return None


def to_langchain_error(error: PowerTokensError) -> PowerTokensError:
    """The same error as an instance of its dual class (unchanged if already one).

    A copy, not a re-construction: the core classes take different constructor
    arguments, so the instance state is carried over as it is.
    """
    if isinstance(error, ModelError):
        return error
    dual = _dual_class(error)
    if dual is None:
        return error
    converted = dual.__new__(dual)
    converted.args = error.args
    converted.__dict__.update(error.__dict__)
    converted.__cause__ = error.__cause__
    converted.__context__ = error.__context__
    converted.__suppress_context__ = error.__suppress_context__
    converted.__traceback__ = error.__traceback__
    return converted
