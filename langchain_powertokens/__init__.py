"""LangChain integration for PowerTokens: :class:`ChatPowerTokens`.

Importing this package registers the content-block translator for
``model_provider="powertokens"`` with langchain-core (see ``_blocks``).
"""

from ._blocks import register as _register_blocks
from ._errors import (
    PowerTokensAPIError,
    PowerTokensAPIStatusError,
    PowerTokensAuthenticationError,
    PowerTokensBadRequestError,
    PowerTokensConflictError,
    PowerTokensConnectionError,
    PowerTokensContentFilterError,
    PowerTokensContextOverflowError,
    PowerTokensDeadlineExceededError,
    PowerTokensFairUseThrottleError,
    PowerTokensInternalServerError,
    PowerTokensInvalidResponseError,
    PowerTokensModelOverloadedError,
    PowerTokensNotFoundError,
    PowerTokensPermissionDeniedError,
    PowerTokensPoolTimeoutError,
    PowerTokensQuotaExceededError,
    PowerTokensRateLimitError,
    PowerTokensRequestValidationError,
    PowerTokensStreamInterruptedError,
    PowerTokensThinkingBudgetExceededError,
    PowerTokensTimeoutError,
)
from .chat_models import ChatPowerTokens

_register_blocks()

__all__ = [
    "ChatPowerTokens",
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
    "PowerTokensThinkingBudgetExceededError",
    "PowerTokensTimeoutError",
]
