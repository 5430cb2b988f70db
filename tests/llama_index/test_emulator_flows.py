"""LlamaIndex flows users test offline against the emulator's deterministic model:
refine / compact query engines, an AgentWorkflow hand-off, ``PydanticProgramMode.LLM``,
and an answer whose thinking used up ``max_tokens`` (plain and structured streams)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from llama_index.core import Document, SummaryIndex, VectorStoreIndex
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from llama_index_powertokens import PowerTokens, ThinkingBudgetExceededError
from powertokens import ThinkingBudgetWarning
from powertokens.emulator import Emulator

from .conftest import KEY

# LlamaIndex's own warnings: the workflow inspects the agent (a pydantic model).
pytestmark = [
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince211"),
]

QUIET = pytest.mark.filterwarnings("ignore::powertokens.ThinkingBudgetWarning")


class CityInfo(BaseModel):
    """Facts about a city."""

    city: str
    country: str


def _budget_llm(emu: Emulator, **fields: Any) -> PowerTokens:
    """Thinking on and a budget smaller than the emulator's reasoning sentence."""
    return PowerTokens(api_key=KEY, base_url=emu.url, max_tokens=3, thinking=True, **fields)


async def _drain(llm: PowerTokens, mode: str, prompt: PromptTemplate, **args: Any) -> list[Any]:
    """Every item of a structured stream, sync or async."""
    if mode == "sync":
        return list(llm.stream_structured_predict(CityInfo, prompt, **args))
    return [item async for item in await llm.astream_structured_predict(CityInfo, prompt, **args)]


# The thinking used up max_tokens ---------------------------------------------------------


def test_a_reasoning_only_length_answer_from_the_emulator(emu: Emulator) -> None:
    llm = _budget_llm(emu)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        response = llm.complete("What is the capital of France?")
    assert response.text == ""
    assert response.additional_kwargs["thinking_exhausted_budget"] is True
    assert any(issubclass(w.category, ThinkingBudgetWarning) for w in caught)
    assert emu.requests[-1].json["max_tokens"] == 3


@QUIET
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_stream_structured_predict_raises_the_budget_error(emu: Emulator, mode: str) -> None:
    llm = _budget_llm(emu)
    prompt = PromptTemplate("Facts about {city}")
    with pytest.raises(ThinkingBudgetExceededError) as info:
        await _drain(llm, mode, prompt, city="Paris")
    assert "max_tokens" in str(info.value)
    assert info.value.reasoning_tokens == 3
    assert emu.requests[-1].json["stream"] is True


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_stream_structured_predict_unchanged_with_room(emu: Emulator, mode: str) -> None:
    llm = PowerTokens(api_key=KEY, base_url=emu.url)
    prompt = PromptTemplate(
        "Extract the city and country: the city is Lyon, the country is France."
    )
    items = await _drain(llm, mode, prompt)
    assert items
    last = items[-1]
    assert (last.city, last.country) == ("Lyon", "France")


# Refine and compact response modes ---------------------------------------------------------

FILLER = " ".join(f"Hill number {n} is covered in pine forest." for n in range(1, 16))
DOCS = [
    f"Freedonia is a small mountain country. {FILLER}",
    f"Sylvania borders Freedonia to the east. Sylvania exports cheese and timber. {FILLER}",
    f"The capital of Freedonia is Fredville. {FILLER}",
]
QUESTION = "What is the capital of Freedonia?"


def _documents() -> list[Document]:
    return [Document(text=t) for t in DOCS]


@pytest.mark.parametrize("mode", ["refine", "compact"])
@pytest.mark.parametrize("kind", ["summary", "vector"])
def test_refine_and_compact_answer_from_the_documents(emu: Emulator, mode: str, kind: str) -> None:
    # A small context window makes compact pack the documents into several prompts too.
    llm = PowerTokens(api_key=KEY, base_url=emu.url, context_window=1200, max_tokens=200)
    if kind == "summary":
        index: SummaryIndex | VectorStoreIndex = SummaryIndex.from_documents(_documents())
        engine = index.as_query_engine(llm=llm, response_mode=mode)
    else:
        index = VectorStoreIndex.from_documents(
            _documents(), embed_model=MockEmbedding(embed_dim=8)
        )
        engine = index.as_query_engine(llm=llm, response_mode=mode, similarity_top_k=3)
    answer = str(engine.query(QUESTION))
    assert answer == "The capital of Freedonia is Fredville."
    prompts = [r.json["messages"][-1]["content"] for r in emu.requests]
    assert len(prompts) > 1
    assert any("Original Answer:" in p for p in prompts)


async def test_refine_async_keeps_the_answer_when_new_context_adds_nothing(emu: Emulator) -> None:
    llm = PowerTokens(api_key=KEY, base_url=emu.url)
    documents = [Document(text=t) for t in reversed(DOCS)]  # the fact comes first
    engine = SummaryIndex.from_documents(documents).as_query_engine(llm=llm, response_mode="refine")
    answer = str(await engine.aquery(QUESTION))
    assert answer == "The capital of Freedonia is Fredville."
    assert len(emu.requests) == 3
