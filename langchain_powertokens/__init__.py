"""LangChain integration for PowerTokens (``ChatPowerTokens``): arriving with issue 3."""

__all__: list[str] = []
