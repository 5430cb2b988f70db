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
    (no key at all)            PowerTokensAuthenticationError      ModelAuthenticationError
    PermissionDeniedError      PowerTokensPermissionDeniedError    ModelPermissionDeniedError
    NotFoundError              PowerTokensNotFoundError            ModelNotFoundError
    ConflictError              PowerTokensConflictError            ModelAPIError
    RateLimitError             PowerTokensRateLimitError           ModelRateLimitError
    ModelOverloadedError       PowerTokensModelOverloadedError     ModelRateLimitError
    FairUseThrottleError       PowerTokensFairUseThrottleError     ModelRateLimitError
    QuotaExceededError         PowerTokensQuotaExceededError       ModelRateLimitError
    InternalServerError        PowerTokensInternalServerError      ModelAPIError
    APIStatusError (other)     PowerTokensAPIStatusError           ModelAPIError
    DeadlineExceededError      PowerTokensDeadlineExceededError    ModelTimeoutError
    APITimeoutError            PowerTokensTimeoutError             ModelTimeoutError
    APIConnectionError         PowerTokensConnectionError          ModelConnectionError
    StreamInterruptedError     PowerTokensStreamInterruptedError   ModelAPIError
    InvalidResponseError       PowerTokensInvalidResponseError     ModelAPIError
    APIError (other)           PowerTokensAPIError                 ModelAPIError

The conversion keeps every attribute (``status_code``, ``code``, ``message``,
``request_id``, ``body``, ``headers``, ``partial`` ...) and ``is_retryable`` comes
from the core class, which knows the business code (a quota 429 is not retryable; an
overloaded model's 1312 is, and ``suggested_model`` names its alternative).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

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
    OutputParserException,
)

from powertokens import (
    APIConnectionError,
    APIError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentFilterError,
    ContextOverflowError,
    DeadlineExceededError,
    FairUseThrottleError,
    InternalServerError,
    InvalidResponseError,
    ModelOverloadedError,
    NotFoundError,
    PermissionDeniedError,
    PoolTimeoutError,
    PowerTokensError,
    QuotaExceededError,
    RateLimitError,
    RequestValidationError,
    StreamInterruptedError,
    ThinkingBudgetExceededError,
)
from powertokens.lib import Redacted

if TYPE_CHECKING:
    from pydantic import ValidationError

__all__ = [
    "PowerTokensAPIError",
    "PowerTokensAPIStatusError",
    "PowerTokensAuthenticationError",
    "PowerTokensBadRequestError",
    "PowerTokensConflictError",
    "PowerTokensConnectionError",
    "PowerTokensContentFilterError",
    "PowerTokensContextOverflowError",
    "PowerTokensDeadlineExceededError",
    "PowerTokensFairUseThrottleError",
    "PowerTokensInternalServerError",
    "PowerTokensInvalidResponseError",
    "PowerTokensModelOverloadedError",
    "PowerTokensNotFoundError",
    "PowerTokensPermissionDeniedError",
    "PowerTokensPoolTimeoutError",
    "PowerTokensQuotaExceededError",
    "PowerTokensRateLimitError",
    "PowerTokensRequestValidationError",
    "PowerTokensStreamInterruptedError",
    "PowerTokensTimeoutError",
    "construction_error",
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


class PowerTokensConflictError(ConflictError, ModelAPIError):
    """A request with this id is already running (code 1231); not retried."""


class PowerTokensRateLimitError(RateLimitError, ModelRateLimitError):
    """Too many requests right now; already retried ``max_retries`` times."""


class PowerTokensModelOverloadedError(ModelOverloadedError, ModelRateLimitError):
    """This model is overloaded (code 1312); already retried ``max_retries`` times.

    ``suggested_model`` is the alternative the service named, or None.
    """


class PowerTokensFairUseThrottleError(FairUseThrottleError, ModelRateLimitError):
    """The account is throttled under the fair-use policy (code 1313); not retried."""


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


class PowerTokensDeadlineExceededError(DeadlineExceededError, ModelTimeoutError):
    """The call passed its deadline (``total_timeout``, ``Timeout(total=...)``)."""


class PowerTokensConnectionError(APIConnectionError, ModelConnectionError):
    """The service could not be reached."""


class PowerTokensStreamInterruptedError(StreamInterruptedError, ModelAPIError):
    """A stream broke before its ``finish_reason``; ``partial`` holds what arrived."""


class PowerTokensInvalidResponseError(InvalidResponseError, ModelAPIError):
    """The service answered with a body this client cannot read; not retried."""


class PowerTokensAPIError(APIError, ModelAPIError):
    """Any other failure talking to the service."""


class PowerTokensThinkingBudgetExceededError(ThinkingBudgetExceededError, OutputParserException):
    """Structured output (``with_structured_output``, ``response_format``) found an
    empty answer: the model's thinking used up ``max_tokens`` (``finish_reason=
    "length"``, reasoning, no text and no tool call). Raised by the output parser, so it
    is an ``OutputParserException`` too (``include_raw=True`` reports it as
    ``parsing_error``). Remedy: raise ``max_tokens``, or pass ``thinking=False`` for
    that call."""

    def __init__(self, wanted: str, reasoning_tokens: int | None = None) -> None:
        ThinkingBudgetExceededError.__init__(self, wanted, reasoning_tokens)
        self.llm_output = ""
        self.observation = None
        self.send_to_llm = False


def thinking_budget_error(
    message: Any, wanted: str
) -> PowerTokensThinkingBudgetExceededError | None:
    """The error for a LangChain message flagged ``thinking_exhausted_budget`` that
    holds no tool call and no text (None for any other message)."""
    if not message.response_metadata.get("thinking_exhausted_budget"):
        return None
    if getattr(message, "tool_calls", None) or message.text:
        return None
    usage = getattr(message, "usage_metadata", None) or {}
    spent = (usage.get("output_token_details") or {}).get("reasoning")
    return PowerTokensThinkingBudgetExceededError(wanted, spent)


# Most specific first: the first class the error is an instance of wins.
_DUALS: tuple[tuple[type[PowerTokensError], type[PowerTokensError]], ...] = (
    (RequestValidationError, PowerTokensRequestValidationError),
    (ContextOverflowError, PowerTokensContextOverflowError),
    (ContentFilterError, PowerTokensContentFilterError),
    (BadRequestError, PowerTokensBadRequestError),
    (AuthenticationError, PowerTokensAuthenticationError),
    (PermissionDeniedError, PowerTokensPermissionDeniedError),
    (NotFoundError, PowerTokensNotFoundError),
    (ConflictError, PowerTokensConflictError),
    (ModelOverloadedError, PowerTokensModelOverloadedError),
    (FairUseThrottleError, PowerTokensFairUseThrottleError),
    (QuotaExceededError, PowerTokensQuotaExceededError),
    (RateLimitError, PowerTokensRateLimitError),
    (InternalServerError, PowerTokensInternalServerError),
    (APIStatusError, PowerTokensAPIStatusError),
    (PoolTimeoutError, PowerTokensPoolTimeoutError),
    (DeadlineExceededError, PowerTokensDeadlineExceededError),
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
    if isinstance(error, RequestValidationError) and error.field == "api_key" and not error.value:
        return _missing_key()
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


class _MissingAPIKeyError(PowerTokensAuthenticationError):
    """No API key anywhere (``api_key``, ``POWERTOKENS_API_KEY``), found at call time,
    before anything is sent. ``status_code`` is the 401 the service answers such a
    request with."""

    def __str__(self) -> str:
        return self.message


def _missing_key() -> PowerTokensAuthenticationError:
    return _MissingAPIKeyError(
        "No API key: pass api_key=... or set POWERTOKENS_API_KEY (nothing was sent)",
        status_code=401,
    )


# What a field takes, for values pydantic rejects on type before our own checks run.
_ALLOWED = {
    "thinking": 'must be True, False, "enabled", "disabled" or {"type": "enabled" | "disabled"}',
    "max_concurrent_requests": "must be an integer >= 1, or None for no limit",
    "max_event_bytes": "must be an integer >= 1 (bytes), or None for the default (16 MiB)",
    "max_retries": "must be an integer >= 0",
    "fallback_models": "must be a list of model names (strings), or None",
    "timeout": "must be a positive number of seconds, an httpx.Timeout or a powertokens.Timeout",
}
# Fields whose given value is never shown, only its type.
_SECRET_FIELDS = frozenset({"api_key", "default_headers"})


def construction_error(error: ValidationError) -> PowerTokensRequestValidationError:
    """A pydantic ``ValidationError`` from building the model, as the error a call would
    raise for the same value: field, rule and value, in the one taxonomy. Pydantic's
    own message is not reused: it shows the constructor's inputs, the key included."""
    details = error.errors()
    first = details[0]
    cause = (first.get("ctx") or {}).get("error")
    if isinstance(cause, RequestValidationError):
        field, limit, value = cause.field, cause.limit, cause.value
    else:
        loc = [str(part) for part in first.get("loc", ())]
        field = loc[0] if loc else "ChatPowerTokens"
        # Model-level errors get the whole input dict as "input": never shown.
        value = first.get("input") if loc else None
        if field in _ALLOWED:
            limit = _ALLOWED[field]
        elif isinstance(cause, Exception):
            limit = str(cause)
        else:
            limit = str(first.get("msg", "invalid value"))
            limit = limit[:1].lower() + limit[1:]
    # The core's own check already describes a secret without showing it (Redacted).
    if (
        field.split(".")[0] in _SECRET_FIELDS
        and value is not None
        and not isinstance(value, Redacted)
    ):
        value = _Hidden(type(value).__name__)
    others = sorted({str(d["loc"][0]) for d in details if d.get("loc")} - {field.split(".")[0]})
    if others:
        limit += f"; also invalid: {', '.join(others)}"
    return PowerTokensRequestValidationError(field, limit, value)


class _Hidden:
    """Stands for a value that must not be shown (its type only)."""

    def __init__(self, kind: str) -> None:
        self.kind = kind

    def __repr__(self) -> str:
        return f"<hidden {self.kind}>"
