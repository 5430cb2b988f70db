"""Token usage summed over every model call of the tour, whichever framework made it.

LangChain reports usage in ``AIMessage.usage_metadata``, read here in a callback's
``on_llm_end``; LlamaIndex in the ``additional_kwargs`` of the final ``ChatResponse``
(see :mod:`.rag`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.outputs import ChatGeneration, LLMResult

__all__ = ["LangChainUsage", "Tally"]


@dataclass
class Tally:
    """Calls and tokens so far."""

    calls: int = 0
    prompt: int = 0
    completion: int = 0
    cached: int = 0
    reasoning: int = 0

    @property
    def total(self) -> int:
        return self.prompt + self.completion

    def add(self, prompt: int, completion: int, cached: int = 0, reasoning: int = 0) -> None:
        self.calls += 1
        self.prompt += prompt
        self.completion += completion
        self.cached += cached
        self.reasoning += reasoning


class LangChainUsage(BaseCallbackHandler):
    """Adds each LangChain chat model call's ``usage_metadata`` to a :class:`Tally`."""

    def __init__(self, tally: Tally) -> None:
        self.tally = tally

    def on_llm_end(self, response: LLMResult, **kwargs: Any) -> None:
        for generations in response.generations:
            for generation in generations:
                if not isinstance(generation, ChatGeneration):
                    continue
                usage = getattr(generation.message, "usage_metadata", None)
                if usage:
                    self.tally.add(
                        usage.get("input_tokens", 0),
                        usage.get("output_tokens", 0),
                        usage.get("input_token_details", {}).get("cache_read", 0) or 0,
                        usage.get("output_token_details", {}).get("reasoning", 0) or 0,
                    )
