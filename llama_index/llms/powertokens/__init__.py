"""``from llama_index.llms.powertokens import PowerTokens``: the LlamaHub-style import path
of :mod:`llama_index_powertokens` (the same classes; ``llama_index`` and
``llama_index.llms`` are namespace packages shared with every LlamaIndex integration)."""

from llama_index_powertokens import PowerTokens, ToolCallArgumentsError

__all__ = ["PowerTokens", "ToolCallArgumentsError"]
