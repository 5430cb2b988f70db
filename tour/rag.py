"""Step 3: a LlamaIndex RAG query engine over a small document set, answering with sources.

The index is built offline (a deterministic embedding, no download); the LLM and the
embedding are passed explicitly, so LlamaIndex's ``Settings`` never reach for OpenAI.
A streaming query engine hands out answer text only; the reasoning is read from the
instrumentation events of each streamed chat response (``thinking_delta``), the same
events that carry the final usage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from llama_index.core import Document, VectorStoreIndex
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import LLMChatEndEvent, LLMChatInProgressEvent
from pydantic import PrivateAttr

from .context import Context, StepFailed
from .embedding import WordHashEmbedding
from .usage import Tally

__all__ = ["DOCS", "load_documents", "run"]

DOCS = Path(__file__).resolve().parent.parent / "examples" / "data"
QUESTION = "How many output tokens can glm-4.5-air write?"
TOP_K = 2


def load_documents(folder: Path) -> list[Document]:
    """Every ``.md`` and ``.txt`` file of ``folder`` as a document, named by its file."""
    paths = sorted(p for p in folder.iterdir() if p.suffix in (".md", ".txt"))
    return [Document(text=p.read_text(encoding="utf-8"), metadata={"file": p.name}) for p in paths]


class _Events(BaseEventHandler):
    """Reasoning pieces to a callback, usage of each finished chat to the tally."""

    _tally: Tally = PrivateAttr()
    _on_thinking: Callable[[str], None] = PrivateAttr()

    @classmethod
    def class_name(cls) -> str:
        return "PowerTokensTourEvents"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        if isinstance(event, LLMChatInProgressEvent):
            self._on_thinking(event.response.additional_kwargs.get("thinking_delta") or "")
        elif isinstance(event, LLMChatEndEvent) and event.response is not None:
            usage = event.response.additional_kwargs
            if "total_tokens" in usage:
                self._tally.add(
                    usage["prompt_tokens"],
                    usage["completion_tokens"],
                    usage.get("cached_tokens", 0),
                    usage.get("reasoning_tokens", 0),
                )


@contextmanager
def llama_index_events(tally: Tally, on_thinking: Callable[[str], None]) -> Iterator[None]:
    """While open, LlamaIndex LLM calls stream their reasoning to ``on_thinking`` and add
    their usage to ``tally``."""
    handler = _Events()
    handler._tally = tally
    handler._on_thinking = on_thinking
    dispatcher = get_dispatcher()  # the root: every LlamaIndex event reaches it
    dispatcher.add_event_handler(handler)
    try:
        yield
    finally:
        dispatcher.event_handlers = [h for h in dispatcher.event_handlers if h is not handler]


def run(ctx: Context) -> None:
    console = ctx.console
    docs = ctx.docs or DOCS
    documents = load_documents(docs)
    if not documents:
        raise StepFailed(f"no .md or .txt files in {docs}")
    shown = docs.relative_to(Path.cwd()) if docs.is_relative_to(Path.cwd()) else docs
    count = f"{len(documents)} document{'s' * (len(documents) != 1)}"
    with console.progress(f"indexing {count} from {shown}") as progress:
        index = VectorStoreIndex.from_documents(documents, embed_model=WordHashEmbedding())
        chunks = len(index.docstore.docs)
        progress.result = f"{chunks} chunk{'s' * (chunks != 1)} indexed"
    llm = ctx.llama_index_llm()
    engine = index.as_query_engine(llm=llm, similarity_top_k=TOP_K, streaming=True)
    console.label("engine", f'index.as_query_engine(llm=PowerTokens(model="{ctx.model}"))')
    console.label("question", QUESTION)
    streamer = console.streamer(ctx.model)
    try:
        with llama_index_events(ctx.tally, streamer.reasoning):
            response = engine.query(QUESTION)
            for text in response.response_gen:  # type: ignore[union-attr]
                streamer.answer(text)
    finally:
        streamer.close()
        llm.close()
    for rank, source in enumerate(response.source_nodes, 1):
        lines = source.node.get_content().splitlines()
        text = " ".join(line for line in lines if line.strip() and not line.startswith("#"))
        excerpt = text if len(text) <= 60 else text[:59] + console.ellipsis
        score = f"{source.score:.2f}" if source.score is not None else "-"
        file = source.node.metadata.get("file", "?")
        console.label("sources" if rank == 1 else "", f"[{rank}] {file} (score {score}) {excerpt}")
