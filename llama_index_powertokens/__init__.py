"""LlamaIndex integration for PowerTokens: ``PowerTokens``, a ``FunctionCallingLLM`` for
Zhipu's GLM models behind RAG query engines, chat engines and agents."""

from .base import PowerTokens

__all__ = ["PowerTokens"]
