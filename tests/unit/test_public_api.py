"""The public names: what users import, pinned so a change to them is deliberate.

A name leaves or joins an ``__all__`` only with a CHANGELOG line; the wire models users
never build (the parts of a response) stay importable but are not listed.
"""

from __future__ import annotations

import importlib

import pytest

PUBLIC: dict[str, list[str]] = {
    "powertokens": [
        "APIConnectionError",
        "APIError",
        "APIStatusError",
        "APITimeoutError",
        "API_KEY_ENV",
        "AssistantMessage",
        "AsyncPowerTokens",
        "AsyncStream",
        "AuthenticationError",
        "BASE_URL_ENV",
        "BadRequestError",
        "ChatCompletion",
        "ChatCompletionChunk",
        "ChatCompletionRequest",
        "ChatParams",
        "ConcurrencyLimit",
        "ConflictError",
        "ContentFilterError",
        "ContextOverflowError",
        "DEFAULT_BASE_URL",
        "DEFAULT_MAX_EVENT_BYTES",
        "DEFAULT_MODEL",
        "DeadlineExceededError",
        "FairUseThrottleError",
        "FunctionCall",
        "FunctionDefinition",
        "ImageURL",
        "ImageURLPart",
        "InternalServerError",
        "InvalidResponseError",
        "KNOWN_MODELS",
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
    ],
    "langchain_powertokens": [
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
    ],
    "llama_index_powertokens": [
        "PowerTokens",
        "ThinkingBudgetExceededError",
        "ToolCallArgumentsError",
    ],
    # the server, the fault language and the request record: never the model's Usage or
    # ToolCall, which would shadow the core's names of the same spelling
    "powertokens.emulator": [
        "Emulator",
        "Fault",
        "FaultSpecError",
        "RecordedRequest",
        "parse_fault",
    ],
    "powertokens.lib": [
        "Redacted",
        "check_api_key",
        "check_fallback_models",
        "check_reasoning_sent",
        "estimate_message_tokens",
        "estimate_prompt_tokens",
        "estimate_text_tokens",
        "extract_json",
        "not_per_call",
        "resolve_api_key",
        "resolve_base_url",
        "shown_url",
    ],
}

# reached through a response's attributes, never built by users: importable, not listed
RESPONSE_PARTS = [
    "ChatCompletionMessage",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "CompletionTokensDetails",
    "PromptTokensDetails",
]


@pytest.mark.parametrize("module", sorted(PUBLIC))
def test_all_lists_exactly_the_public_names(module: str) -> None:
    imported = importlib.import_module(module)
    assert sorted(imported.__all__) == PUBLIC[module]
    assert len(set(imported.__all__)) == len(imported.__all__)
    missing = [name for name in imported.__all__ if not hasattr(imported, name)]
    assert not missing


def test_the_response_parts_stay_importable_but_unlisted() -> None:
    import powertokens
    from powertokens import _models

    for name in RESPONSE_PARTS:
        assert name not in powertokens.__all__
        assert getattr(powertokens, name) is getattr(_models, name)


def test_the_llamahub_path_exports_the_same_classes() -> None:
    import llama_index_powertokens
    from llama_index.llms import powertokens as hub

    for name in hub.__all__:
        assert getattr(hub, name) is getattr(llama_index_powertokens, name)


def test_the_adapters_import_only_public_core_names() -> None:
    """The adapters are built like a user's framework integration would be: on the
    public core (``powertokens``, ``powertokens.lib``), never its private modules."""
    import ast
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    private = []
    for package in ("langchain_powertokens", "llama_index_powertokens"):
        for path in sorted((root / package).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names = []
                if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                    names = [node.module]
                elif isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                private += [
                    f"{path.name}: {name}"
                    for name in names
                    if name.startswith("powertokens.")
                    and any(part.startswith("_") for part in name.split(".")[1:])
                ]
    assert private == []
