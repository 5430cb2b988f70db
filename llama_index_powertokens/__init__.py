"""LlamaIndex integration for PowerTokens (``PowerTokens`` LLM): arriving with issue 4."""

__all__: list[str] = []
