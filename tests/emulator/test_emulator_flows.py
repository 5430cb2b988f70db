"""The deterministic model on the prompts LlamaIndex sends (its own templates, formatted
as LlamaIndex formats them), over raw loopback HTTP: refine prompts, a JSON schema in a
``PydanticOutputParser`` format string, tool arguments filled by field name, and
reasoning that spends ``max_tokens`` first (stream and not)."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from llama_index.core.output_parsers.pydantic import PYDANTIC_FORMAT_TMPL
from llama_index.core.prompts.chat_prompts import CHAT_REFINE_PROMPT
from llama_index.core.prompts.default_prompts import DEFAULT_REFINE_PROMPT

from .emulator_wire import chat, joined, sse_chunks

QUESTION = "What is the capital of Freedonia?"
FACT = "The capital of Freedonia is Fredville."


def _answer(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()["choices"][0]["message"]
    return message


def _refine_prompt(chat_template: bool, context: str, existing: str) -> str:
    args = {"context_msg": context, "query_str": QUESTION, "existing_answer": existing}
    if chat_template:
        [message] = CHAT_REFINE_PROMPT.format_messages(**args)
        return str(message.content)
    return DEFAULT_REFINE_PROMPT.format(**args)


@pytest.mark.parametrize("chat_template", [True, False], ids=["chat", "completion"])
def test_refine_rewrites_from_better_context(client: httpx.Client, chat_template: bool) -> None:
    restated = "You asked about capital Freedonia. This emulator is deterministic."
    for existing in ("Sylvania borders Freedonia to the east.", restated, ""):
        prompt = _refine_prompt(chat_template, f"Freedonia is a country. {FACT}", existing)
        assert _answer(client, chat(prompt))["content"] == FACT


@pytest.mark.parametrize("chat_template", [True, False], ids=["chat", "completion"])
def test_refine_repeats_the_answer_when_context_adds_nothing(
    client: httpx.Client, chat_template: bool
) -> None:
    prompt = _refine_prompt(chat_template, "Sylvania exports cheese.\nIt borders Freedonia.", FACT)
    message = _answer(client, chat(prompt, thinking={"type": "enabled"}))
    assert message["content"] == FACT
    assert "repeat" in message["reasoning_content"]


def test_reasoning_cut_by_max_tokens_streams_like_the_whole_reply(client: httpx.Client) -> None:
    body = chat("echo: one two three", thinking={"type": "enabled"}, max_tokens=2)
    whole = client.post("/chat/completions", json=body).json()
    message = whole["choices"][0]["message"]
    assert message["content"] == ""
    assert message["reasoning_content"] == "The user"
    assert whole["choices"][0]["finish_reason"] == "length"
    assert whole["usage"]["completion_tokens"] == 2
    assert whole["usage"]["completion_tokens_details"]["reasoning_tokens"] == 2
    chunks = sse_chunks(client.post("/chat/completions", json={**body, "stream": True}).content)
    assert joined(chunks, "reasoning_content") == "The user"
    assert joined(chunks, "content") == ""
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"] == whole["usage"]


def _schema_prompt(schema: dict[str, Any], text: str) -> str:
    """The prompt LlamaIndex's ``LLMTextCompletionProgram`` sends (doubled braces kept)."""
    template = PYDANTIC_FORMAT_TMPL.format(schema=json.dumps(schema))
    return f"Extract: {text}\n\n" + template.replace("{", "{{").replace("}", "}}")


BOOK = {
    "properties": {
        "pages": {"type": "integer"},
        "year": {"type": "integer"},
        "author": {"type": "string"},
        "title": {"type": "string"},
        "subtitle": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
        "rating": {"type": "number"},
    },
    "required": ["pages", "year", "author", "title"],
    "type": "object",
}


def test_json_schema_answer_has_exactly_its_keys_filled_by_name(client: httpx.Client) -> None:
    text = 'Published in 1851, "Moby Dick" by Herman Melville has 635 pages.'
    answer = json.loads(_answer(client, chat(_schema_prompt(BOOK, text)))["content"])
    assert answer == {
        "pages": 635,
        "year": 1851,
        "author": "Herman Melville",
        "title": "Moby Dick",
        "subtitle": None,
        "rating": 0,
    }


def _tool(name: str, description: str, properties: dict[str, Any]) -> dict[str, Any]:
    parameters = {"type": "object", "properties": properties, "required": list(properties)}
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


def _call(client: httpx.Client, text: str, tool: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    message = _answer(client, chat(text, tools=[tool]))
    [call] = message["tool_calls"]
    return call["function"]["name"], json.loads(call["function"]["arguments"])


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Lyon is a city in France with a population of 513000.", ("France", "Lyon", 513000)),
        ("The population of Lyon, a city in France, is 513000.", ("France", "Lyon", 513000)),
    ],
)
def test_tool_arguments_are_filled_by_field_name(
    client: httpx.Client, text: str, expected: tuple[str, str, int]
) -> None:
    record = _tool(
        "record_city",
        "Record a city.",
        {
            "country": {"type": "string"},
            "city": {"type": "string"},
            "population": {"type": "integer"},
        },
    )
    name, args = _call(client, f"Record the city: {text}", record)
    assert name == "record_city"
    assert (args["country"], args["city"], args["population"]) == expected


HANDOFF = _tool(
    "handoff",
    "Useful for handing off to another agent.\n\nCurrently available agents:\n"
    "{'WeatherAgent': 'Looks up the current weather for a city.', "
    "'MathAgent': 'Does arithmetic.'}\n",
    {"to_agent": {"type": "string"}, "reason": {"type": "string"}},
)


@pytest.mark.parametrize(
    ("text", "agent"),
    [
        ("What is the weather in Paris?", "WeatherAgent"),
        ("Please hand this to the MathAgent.", "MathAgent"),
        ("Hand off to the math agent, please.", "MathAgent"),
    ],
)
def test_handoff_names_the_agent(client: httpx.Client, text: str, agent: str) -> None:
    name, args = _call(client, text, HANDOFF)
    assert name == "handoff"
    assert args["to_agent"] == agent
    assert agent in args["reason"]


def test_no_handoff_when_no_agent_fits(client: httpx.Client) -> None:
    message = _answer(client, chat("Hello!", tools=[HANDOFF]))
    assert "tool_calls" not in message or not message["tool_calls"]
