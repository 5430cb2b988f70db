"""RAG query engines and a condense-plus-context chat engine, fully offline: a
deterministic bag-of-words embedding, the LLM passed explicitly (Settings never
resolves to OpenAI), the emulator answering from the retrieved context."""

from __future__ import annotations

import hashlib
import math
import re

import pytest
from llama_index.core import Document, VectorStoreIndex
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.chat_engine import CondensePlusContextChatEngine
from llama_index.core.embeddings import BaseEmbedding
from llama_index.core.memory import ChatMemoryBuffer

from llama_index_powertokens import PowerTokens
from powertokens.emulator import Emulator

DIM = 4096
_WORD = re.compile(r"[a-z0-9]+")
_STOP = frozenset(
    ("the", "a", "an", "of", "is", "in", "what", "which", "who", "how", "to", "and", "was")
)


def _vector(text: str) -> list[float]:
    vector = [0.0] * DIM
    for word in _WORD.findall(text.lower()):
        if word not in _STOP:
            vector[int(hashlib.md5(word.encode()).hexdigest(), 16) % DIM] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class WordEmbedding(BaseEmbedding):
    """Hashed bag of words: texts sharing words are close. Deterministic, offline."""

    def _get_text_embedding(self, text: str) -> list[float]:
        return _vector(text)

    def _get_query_embedding(self, query: str) -> list[float]:
        return _vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return _vector(query)


DOCS = [
    "Freedonia is a small mountain country. The capital of Freedonia is Fredville.",
    "Sylvania borders Freedonia to the east. Sylvania exports cheese and timber.",
    "The Fredville observatory was built in 1911. It tracks comets every winter.",
]


@pytest.fixture
def index() -> VectorStoreIndex:
    documents = [Document(text=t) for t in DOCS]
    return VectorStoreIndex.from_documents(documents, embed_model=WordEmbedding())


QUESTION = "What is the capital of Freedonia?"
ANSWER = "Fredville"


@pytest.mark.parametrize("streaming", [False, True])
def test_query_engine_sync(
    index: VectorStoreIndex, llm: PowerTokens, emu: Emulator, streaming: bool
) -> None:
    engine = index.as_query_engine(llm=llm, similarity_top_k=2, streaming=streaming)
    response = engine.query(QUESTION)
    if streaming:
        tokens = list(response.response_gen)  # type: ignore[union-attr]
        text = "".join(tokens)
        assert len(tokens) > 1
    else:
        text = str(response)
    assert ANSWER in text
    assert "Context information is below" in emu.requests[0].json["messages"][-1]["content"]
    assert "Freedonia" in response.source_nodes[0].get_content()


@pytest.mark.parametrize("streaming", [False, True])
async def test_query_engine_async(
    index: VectorStoreIndex, llm: PowerTokens, streaming: bool
) -> None:
    engine = index.as_query_engine(llm=llm, similarity_top_k=2, streaming=streaming)
    response = await engine.aquery(QUESTION)
    if streaming:
        tokens = [t async for t in response.async_response_gen()]  # type: ignore[union-attr]
        text = "".join(tokens)
        assert len(tokens) > 1
    else:
        text = str(response)
    assert ANSWER in text


def _engine(index: VectorStoreIndex, llm: PowerTokens) -> CondensePlusContextChatEngine:
    # Every document in context: the emulator's rewording of the condense prompt is not
    # a real standalone question, so retrieval must not hinge on it.
    # ChatMemoryBuffer: the default Memory opens an aiosqlite connection it never closes.
    return CondensePlusContextChatEngine.from_defaults(
        index.as_retriever(similarity_top_k=len(DOCS)),
        llm=llm,
        memory=ChatMemoryBuffer.from_defaults(token_limit=50_000),
    )


def test_condense_plus_context_chat_engine(
    index: VectorStoreIndex, llm: PowerTokens, emu: Emulator
) -> None:
    engine = _engine(index, llm)
    first = engine.chat(QUESTION)
    assert ANSWER in str(first)
    second = engine.stream_chat("When was the Fredville observatory built?")
    assert "1911" in "".join(second.response_gen)
    third = engine.chat("What does Sylvania export?")
    assert "cheese" in str(third)
    history = engine.chat_history
    assert [m.role.value for m in history] == ["user", "assistant"] * 3
    # later turns condense the question with the history first (a completion call)
    assert len(emu.requests) == 5
    assert emu.requests[1].json["messages"][0]["role"] == "user"


async def test_condense_plus_context_chat_engine_async(
    index: VectorStoreIndex, llm: PowerTokens
) -> None:
    engine = _engine(index, llm)
    first = await engine.achat(QUESTION)
    assert ANSWER in str(first)
    second = await engine.astream_chat("When was the Fredville observatory built?")
    text = "".join([t async for t in second.async_response_gen()])
    assert "1911" in text
    assert isinstance(engine.chat_history[-1], ChatMessage)
    assert engine.chat_history[-1].content == text
