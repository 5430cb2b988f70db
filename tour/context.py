"""What every step gets: the console, the service, the model name and the usage tally."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .console import Console
from .service import Service
from .usage import LangChainUsage, Tally

if TYPE_CHECKING:
    from langchain_powertokens import ChatPowerTokens
    from llama_index_powertokens import PowerTokens

__all__ = ["Context", "StepFailed"]


class StepFailed(Exception):
    """A step could not finish; the message says why."""


@dataclass
class Context:
    console: Console
    service: Service
    model: str
    docs: Path | None = None
    """The RAG step's folder (None: ``examples/data``)."""
    tally: Tally = field(default_factory=Tally)

    def chat_model(self, **fields: Any) -> ChatPowerTokens:
        """``ChatPowerTokens`` for this service, its usage counted in the tally."""
        from langchain_powertokens import ChatPowerTokens

        return ChatPowerTokens(
            model=self.model,
            api_key=self.service.api_key,
            base_url=self.service.base_url,
            callbacks=[LangChainUsage(self.tally)],
            **fields,
        )

    def llama_index_llm(self, **fields: Any) -> PowerTokens:
        """The LlamaIndex ``PowerTokens`` LLM for this service."""
        from llama_index_powertokens import PowerTokens

        return PowerTokens(
            model=self.model,
            api_key=self.service.api_key,
            base_url=self.service.base_url,
            **fields,
        )
