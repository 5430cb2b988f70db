"""LlamaIndex integration for PowerTokens: ``PowerTokens``, a ``FunctionCallingLLM`` for
Zhipu's GLM models behind RAG query engines, chat engines and agents."""

from powertokens import ThinkingBudgetExceededError

from ._tools import ToolCallArgumentsError
from .base import PowerTokens

__all__ = ["PowerTokens", "ThinkingBudgetExceededError", "ToolCallArgumentsError"]
