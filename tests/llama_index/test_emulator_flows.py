"""LlamaIndex flows users test offline against the emulator's deterministic model:
refine / compact query engines, an AgentWorkflow hand-off, ``PydanticProgramMode.LLM``,
and an answer whose thinking used up ``max_tokens`` (plain and structured streams)."""

from __future__ import annotations

import warnings
from typing import Any

import pytest
from llama_index.core import Document, SummaryIndex, VectorStoreIndex
from llama_index.core.agent.workflow import AgentWorkflow, FunctionAgent, ToolCallResult
from llama_index.core.embeddings import MockEmbedding
from llama_index.core.program import LLMTextCompletionProgram
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from llama_index.core.types import PydanticProgramMode
from pydantic import BaseModel, Field

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


@QUIET
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_stream_structured_predict_in_llm_mode_raises_the_budget_error(
    emu: Emulator, mode: str
) -> None:
    """PydanticProgramMode.LLM streams text (stream_chat), not tool calls: same error."""
    llm = _budget_llm(emu, pydantic_program_mode=PydanticProgramMode.LLM)
    prompt = PromptTemplate("Facts about {city}")
    with pytest.raises(ThinkingBudgetExceededError):
        await _drain(llm, mode, prompt, city="Paris")
    assert "tools" not in emu.requests[-1].json  # the text path, not tool calling


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


# AgentWorkflow hand-off --------------------------------------------------------------------


def get_weather(city: str) -> str:
    """Get the current weather for a city."""
    return f"Sunny, 21 C in {city}"


def multiply(a: int, b: int) -> int:
    """Multiply two integers."""
    return a * b


def _workflow(llm: PowerTokens) -> AgentWorkflow:
    triage = FunctionAgent(
        name="TriageAgent",
        description="Talks to the user and routes each request.",
        system_prompt="You route requests to the right agent.",
        llm=llm,
        tools=[],
        can_handoff_to=["WeatherAgent", "MathAgent"],
    )
    weather = FunctionAgent(
        name="WeatherAgent",
        description="Looks up the current weather for a city.",
        llm=llm,
        tools=[FunctionTool.from_defaults(get_weather)],
    )
    math = FunctionAgent(
        name="MathAgent",
        description="Does arithmetic such as multiplication.",
        llm=llm,
        tools=[FunctionTool.from_defaults(multiply)],
    )
    return AgentWorkflow(agents=[triage, weather, math], root_agent="TriageAgent")


@pytest.mark.parametrize(
    ("question", "agent", "tool", "kwargs", "answer"),
    [
        (
            "What is the weather in Paris?",
            "WeatherAgent",
            "get_weather",
            {"city": "Paris"},
            "According to get_weather: Sunny, 21 C in Paris.",
        ),
        (
            "Ask the MathAgent to multiply 6 by 7.",
            "MathAgent",
            "multiply",
            {"a": 6, "b": 7},
            "According to multiply: 42.",
        ),
    ],
    ids=["by-description", "by-name"],
)
async def test_agent_workflow_hands_off_to_the_right_agent(
    emu: Emulator,
    question: str,
    agent: str,
    tool: str,
    kwargs: dict[str, Any],
    answer: str,
) -> None:
    llm = PowerTokens(api_key=KEY, base_url=emu.url)
    handler = _workflow(llm).run(user_msg=question)
    results = [e async for e in handler.stream_events() if isinstance(e, ToolCallResult)]
    assert str(await handler) == answer
    handoff, work = results
    assert handoff.tool_name == "handoff"
    assert handoff.tool_kwargs["to_agent"] == agent
    assert agent in handoff.tool_kwargs["reason"]
    assert (work.tool_name, work.tool_kwargs) == (tool, kwargs)


# PydanticProgramMode.LLM -----------------------------------------------------------------


class Album(BaseModel):
    """An album."""

    artist: str
    year: int
    rating: float
    title: str = Field(description="The album's title")
    explicit: bool = False
    label: str | None = None


ALBUM_TEXT = 'The album "Blue Train" by John Coltrane came out in 1957 and is rated 4.5.'
ALBUM = Album(artist="John Coltrane", year=1957, rating=4.5, title="Blue Train")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_structured_predict_in_llm_mode_fills_fields_by_name(
    emu: Emulator, mode: str
) -> None:
    llm = PowerTokens(api_key=KEY, base_url=emu.url, pydantic_program_mode=PydanticProgramMode.LLM)
    prompt = PromptTemplate("Extract the album from: {text}")
    if mode == "sync":
        album = llm.structured_predict(Album, prompt, text=ALBUM_TEXT)
    else:
        album = await llm.astructured_predict(Album, prompt, text=ALBUM_TEXT)
    assert album == ALBUM
    sent = emu.requests[-1].json
    assert "tools" not in sent
    assert "Here's a JSON schema to follow" in sent["messages"][-1]["content"]


def test_text_completion_program_gets_exactly_the_schema_keys(emu: Emulator) -> None:
    llm = PowerTokens(api_key=KEY, base_url=emu.url)
    program = LLMTextCompletionProgram.from_defaults(
        output_cls=CityInfo, prompt_template_str="Extract: {text}", llm=llm
    )
    city = program(text="Lyon is a city in France.")
    assert (city.city, city.country) == ("Lyon", "France")
    reply = emu.requests[-1]
    assert reply.json["messages"][-1]["content"].startswith("Extract: Lyon")
