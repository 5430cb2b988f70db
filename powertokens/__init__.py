"""PowerTokens: a fast, typed client for Zhipu's GLM chat models.

The transport core shared by ``langchain_powertokens`` and ``llama_index_powertokens``:
request and response models, sync and async clients with retries and streaming,
typed errors, and (in :mod:`powertokens.emulator`) a local emulator of the service.

Data flows one way: ``chat()``/``stream()`` build and check the request (several stop
sequences, any ``tool_choice``: the policies the API lacks are applied here, once);
the answer's bytes go through the SSE decoder and the accumulator, which hands out
deltas already cut at the stop sequences. Helpers for framework adapters are in
:mod:`powertokens.lib`.

Model limits and capabilities live in one catalog (:func:`model_info`, :func:`models`);
:func:`register_model` adds a newer model (or, with ``replace=True``, new facts for a
built-in one) at run time, and :func:`unregister_model` takes it out again.
"""

from ._accumulator import StreamAccumulator, StreamDelta
from ._budget import ThinkingBudgetExceededError, ThinkingBudgetWarning
from ._catalog import (
    DEFAULT_MODEL,
    KNOWN_MODELS,
    ModelInfo,
    model_info,
    models,
    register_model,
    unregister_model,
)
from ._client import AsyncPowerTokens, PowerTokens
from ._config import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL, Timeout
from ._exceptions import (
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
)
from ._limits import validate_request
from ._models import (
    AssistantMessage,
    ChatCompletion,
    ChatCompletionChunk,
    ChatCompletionRequest,
    FunctionCall,
    FunctionDefinition,
    ImageURL,
    ImageURLPart,
    SystemMessage,
    TextPart,
    Thinking,
    Tool,
    ToolCall,
    ToolMessage,
    Usage,
    UserMessage,
)

# The parts of a response, reached through its attributes (``completion.choices[0].message``)
# and never built by users: importable from here (and ``powertokens._models``), not in
# ``__all__``.
from ._models import ChatCompletionMessage as ChatCompletionMessage
from ._models import Choice as Choice
from ._models import ChoiceDelta as ChoiceDelta
from ._models import ChunkChoice as ChunkChoice
from ._models import CompletionTokensDetails as CompletionTokensDetails
from ._models import PromptTokensDetails as PromptTokensDetails
from ._pools import ConcurrencyLimit
from ._request import ChatParams, build_body, normalize_thinking, validate_params
from ._retry import RetryPolicy
from ._sse import DEFAULT_MAX_EVENT_BYTES, ServerSentEvent, SSEDecoder
from ._streaming import AsyncStream, Stream
from ._tool_calls import StreamedToolCall, ToolCallDelta
from ._tool_choice import ToolChoice, resolve_tool_choice
from ._version import __version__

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_EVENT_BYTES",
    "DEFAULT_MODEL",
    "KNOWN_MODELS",
    "APIConnectionError",
    "APIError",
    "APIStatusError",
    "APITimeoutError",
    "AssistantMessage",
    "AsyncPowerTokens",
    "AsyncStream",
    "AuthenticationError",
    "BadRequestError",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionRequest",
    "ChatParams",
    "ConcurrencyLimit",
    "ConflictError",
    "ContentFilterError",
    "ContextOverflowError",
    "DeadlineExceededError",
    "FairUseThrottleError",
    "FunctionCall",
    "FunctionDefinition",
    "ImageURL",
    "ImageURLPart",
    "InternalServerError",
    "InvalidResponseError",
    "ModelInfo",
    "ModelOverloadedError",
    "NotFoundError",
    "PermissionDeniedError",
    "PoolTimeoutError",
    "PowerTokens",
    "PowerTokensError",
    "QuotaExceededError",
    "RateLimitError",
    "RequestValidationError",
    "RetryPolicy",
    "SSEDecoder",
    "ServerSentEvent",
    "Stream",
    "StreamAccumulator",
    "StreamDelta",
    "StreamInterruptedError",
    "StreamedToolCall",
    "SystemMessage",
    "TextPart",
    "Thinking",
    "ThinkingBudgetExceededError",
    "ThinkingBudgetWarning",
    "Timeout",
    "Tool",
    "ToolCall",
    "ToolCallDelta",
    "ToolChoice",
    "ToolMessage",
    "Usage",
    "UserMessage",
    "__version__",
    "build_body",
    "model_info",
    "models",
    "normalize_thinking",
    "register_model",
    "resolve_tool_choice",
    "unregister_model",
    "validate_params",
    "validate_request",
]
