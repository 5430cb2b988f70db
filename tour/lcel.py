"""Step 1: an LCEL chain ``prompt | ChatPowerTokens | StrOutputParser``, streamed.

The parser turns each message chunk into its answer text, so the chain's stream carries
the answer only. The reasoning still streams: each model chunk reaches the callbacks
(``on_llm_new_token(..., chunk=...)``) with it in ``additional_kwargs["reasoning_content"]``,
and a small callback prints it apart from the answer.
"""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.runnables import RunnableConfig

from .console import Streamer
from .context import Context

__all__ = ["run"]

NOTES = """\
A vector database stores embeddings: lists of numbers that capture the meaning of a text.
It answers a query by finding the stored embeddings nearest to the query's embedding.
Retrieval-augmented generation uses those nearest texts as context for the model's answer."""
QUESTION = "What does a vector database store, and how does it answer a query?"


class ReasoningToConsole(BaseCallbackHandler):
    """Prints the reasoning of each streamed chunk (the parser drops it from the chain's
    output)."""

    def __init__(self, streamer: Streamer) -> None:
        self.streamer = streamer

    def on_llm_new_token(self, token: Any, *, chunk: Any = None, **kwargs: Any) -> None:
        message = getattr(chunk, "message", None)
        if message is not None:
            self.streamer.reasoning(message.additional_kwargs.get("reasoning_content", ""))


def run(ctx: Context) -> None:
    console = ctx.console
    prompt = ChatPromptTemplate.from_messages(
        [
            (
                "system",
                "You are a concise and professional assistant. Reply in at most two "
                "sentences, using these notes when they help.\nNotes:\n{notes}",
            ),
            ("human", "{question}"),
        ]
    )
    chain = prompt | ctx.chat_model() | StrOutputParser()
    console.label("chain", f'prompt | ChatPowerTokens(model="{ctx.model}") | StrOutputParser()')
    console.label("question", QUESTION)
    streamer = console.streamer(ctx.model)
    try:
        config: RunnableConfig = {"callbacks": [ReasoningToConsole(streamer)]}
        for text in chain.stream({"notes": NOTES, "question": QUESTION}, config=config):
            streamer.answer(text)  # the parser's output: answer text only
    finally:
        streamer.close()
    console.note(
        "The chain streamed the answer; the reasoning came from the model's chunks "
        "through a callback."
    )
