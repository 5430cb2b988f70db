"""``response_format`` (``bind`` and ``create_agent(..., ProviderStrategy(...))``) over
the tool-calling path, invoke and stream, sync and async, against the emulator."""

from __future__ import annotations

import json
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from pydantic import BaseModel

from langchain_powertokens import ChatPowerTokens, PowerTokensRequestValidationError
from powertokens.emulator import Emulator

from .conftest import Factory
from .helpers import Run, add_up

QUESTION = "Tell me about Paris in France"


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
OPENAI_FORM = {
    "type": "json_schema",
    "json_schema": {"name": "CityInfo", "schema": CITY_SCHEMA, "strict": True},
}


def last_body(emu: Emulator) -> dict[str, Any]:
    body = emu.requests[-1]["json"]
    assert isinstance(body, dict)
    return body


@pytest.mark.parametrize(
    "form", [CityInfo, CITY_SCHEMA, OPENAI_FORM], ids=["pydantic", "schema", "openai"]
)
async def test_invoke_answers_json_text_and_parsed(
    run: Run, model: ChatPowerTokens, emu: Emulator, form: Any
) -> None:
    message = await run.invoke(model.bind(response_format=form), QUESTION)
    data = json.loads(message.text)
    assert set(data) == {"city", "country"}
    assert message.tool_calls == []
    parsed = message.additional_kwargs["parsed"]
    if form is CityInfo:
        assert parsed == CityInfo(**data)
    else:
        assert parsed == data
    body = last_body(emu)
    assert "response_format" not in body
    assert [t["function"]["name"] for t in body["tools"]] == ["CityInfo"]
    assert "Call the CityInfo tool" in body["messages"][0]["content"]


@pytest.mark.parametrize("headers", [None, {"X-PowerTokens-Tool-Stream": "1"}])
async def test_a_stream_yields_the_json_as_text_and_parsed_last(
    run: Run, make_model: Factory, headers: dict[str, str] | None
) -> None:
    model = make_model(default_headers=headers)
    chunks = await run.stream(model.bind(response_format=CityInfo), QUESTION)
    assert all(not c.tool_call_chunks for c in chunks)
    full = add_up(chunks)
    data = json.loads(full.text)
    assert full.additional_kwargs["parsed"] == CityInfo(**data)
    assert full.tool_calls == []
    if headers:
        assert sum(1 for c in chunks if c.text) > 1  # the JSON arrives piece by piece


async def test_json_object_mode(run: Run, model: ChatPowerTokens, emu: Emulator) -> None:
    bound = model.bind(response_format={"type": "json_object"})
    message = await run.invoke(bound, 'echo:Here it is: {"a": 1}')
    assert json.loads(message.text) == {"a": 1}
    assert message.additional_kwargs["parsed"] == {"a": 1}
    assert message.additional_kwargs["raw_text"] == 'Here it is: {"a": 1}'
    assert "one JSON object" in last_body(emu)["messages"][0]["content"]
    full = add_up(await run.stream(bound, 'echo:{"a": 1}'))
    assert full.additional_kwargs["parsed"] == {"a": 1}


async def test_an_answer_without_json_fails_clearly(run: Run, model: ChatPowerTokens) -> None:
    bound = model.bind(response_format={"type": "json_object"})
    with pytest.raises(OutputParserException, match="no JSON object"):
        await run.invoke(bound, "echo:no json here")
    with pytest.raises(OutputParserException, match="no JSON object"):
        await run.stream(bound, "echo:no json here")


@pytest.mark.parametrize("bad", [42, {"type": "xml"}, {"type": "json_schema", "json_schema": {}}])
async def test_an_unknown_form_is_refused_before_sending(
    run: Run, model: ChatPowerTokens, emu: Emulator, bad: Any
) -> None:
    with pytest.raises(PowerTokensRequestValidationError, match="response_format"):
        await run.invoke(model.bind(response_format=bad), QUESTION)
    with pytest.raises(PowerTokensRequestValidationError, match="response_format"):
        await run.stream(model.bind(response_format=bad), QUESTION)
    assert emu.request_count == 0


async def test_create_agent_with_provider_strategy(run: Run, model: ChatPowerTokens) -> None:
    agents = pytest.importorskip("langchain.agents")
    from langchain.agents.structured_output import ProviderStrategy

    agent = agents.create_agent(model, tools=[], response_format=ProviderStrategy(CityInfo))
    result = await run.invoke(agent, {"messages": [("user", QUESTION)]})
    assert isinstance(result["structured_response"], CityInfo)


async def test_beside_other_tools_a_tool_step_is_left_alone(
    run: Run, model: ChatPowerTokens, emu: Emulator
) -> None:
    weather = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The weather in a city.",
            "parameters": {
                "type": "object",
                "properties": {"city": {"type": "string"}},
                "required": ["city"],
            },
        },
    }
    bound = model.bind_tools([weather], response_format=CityInfo)
    message = await run.invoke(bound, "What is the weather in Paris?")
    assert [c["name"] for c in message.tool_calls] == ["get_weather"]
    assert "parsed" not in message.additional_kwargs
    body = last_body(emu)
    assert [t["function"]["name"] for t in body["tools"]] == ["get_weather", "CityInfo"]
    assert "tool_choice" not in body
    assert "arguments of the CityInfo tool" in body["messages"][0]["content"]
