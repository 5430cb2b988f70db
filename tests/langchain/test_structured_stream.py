"""``with_structured_output(...).stream()`` yields growing partial objects while the tool
arguments stream in (as langchain-openai's tool parsers do), and the whole answer last."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from pydantic import BaseModel

from .conftest import Factory
from .helpers import Run

QUESTION = "Tell me about Paris in France"
TOOL_STREAM = {"X-PowerTokens-Tool-Stream": "1"}


class CityInfo(BaseModel):
    """Facts about a city."""

    city: str
    country: str


CITY_SCHEMA = {
    "title": "CityInfo",
    "description": "Facts about a city.",
    "type": "object",
    "properties": {"city": {"type": "string"}, "country": {"type": "string"}},
    "required": ["city", "country"],
}


def grows(values: list[dict[str, Any]]) -> bool:
    """Each value holds the previous one's keys, with strings only extended."""
    for before, after in itertools.pairwise(values):
        for key, old in before.items():
            new = after.get(key)
            if isinstance(old, str) and not (isinstance(new, str) and new.startswith(old)):
                return False
    return True


async def test_a_dict_schema_streams_growing_dicts(run: Run, make_model: Factory) -> None:
    model = make_model(default_headers=TOOL_STREAM)
    structured = model.with_structured_output(CITY_SCHEMA)
    results = await run.stream(structured, QUESTION)
    assert len(results) > 2
    assert grows(results)
    final = await run.invoke(structured, QUESTION)
    assert results[-1] == final
    assert set(final) == {"city", "country"}


async def test_a_pydantic_schema_streams_growing_objects(run: Run, make_model: Factory) -> None:
    model = make_model(default_headers=TOOL_STREAM)
    structured = model.with_structured_output(CityInfo)
    results = await run.stream(structured, QUESTION)
    assert all(isinstance(r, CityInfo) for r in results)
    assert len(results) > 1  # from the first moment both fields have begun
    assert grows([r.model_dump() for r in results])
    assert results[-1] == await run.invoke(structured, QUESTION)


async def test_a_call_in_one_piece_gives_one_object(run: Run, make_model: Factory) -> None:
    results = await run.stream(make_model().with_structured_output(CityInfo), QUESTION)
    assert len(results) == 1
    assert isinstance(results[0], CityInfo)


async def test_an_answer_in_text_still_parses_at_the_end(run: Run, make_model: Factory) -> None:
    structured = make_model().with_structured_output(method="json_mode")
    assert await run.stream(structured, 'echo:{"a": 1, "b": "x"}') == [{"a": 1, "b": "x"}]
    with pytest.raises(OutputParserException, match="no JSON object"):
        await run.stream(structured, "echo:nothing to see")
