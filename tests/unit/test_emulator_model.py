"""The emulator's pure parts, without sockets: tokens, the model, tools, faults, wire forms."""

from __future__ import annotations

import json
from typing import Any

import pytest

from powertokens.emulator import Fault, FaultSpecError, parse_fault
from powertokens.emulator.faults import take_marker
from powertokens.emulator.http.validation import validate
from powertokens.emulator.http.wire import ReplyMeta, completion_body, stream_chunks
from powertokens.emulator.model import generate, message_tokens, prompt_tokens, thinking_enabled
from powertokens.emulator.model.cache import PromptCache
from powertokens.emulator.model.text import count_tokens, pieces, proper_names, sentences
from powertokens.emulator.model.tools import ToolSpec, fill_arguments, plan_calls

META = ReplyMeta("chatcmpl_1", 1_700_000_000, "glm-5")


def request(text: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {"model": "glm-5", "messages": [{"role": "user", "content": text}]}
    body.update(fields)
    return body


def tool(name: str, parameters: dict[str, Any], description: str = "") -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": description, "parameters": parameters},
    }


WEATHER = tool(
    "get_weather",
    {
        "type": "object",
        "properties": {
            "city": {"type": "string"},
            "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            "days": {"type": "integer"},
        },
        "required": ["city"],
    },
    "Get the current weather for a city",
)


# Tokens ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Hello, world!",
        "  leading and trailing  ",
        "line\u2028sep \u0085 nel\r\nCRLF\ttab",
        "emoji 🎉👩‍💻 flags 🇫🇷 astral 𝔘𝔫𝔦",
        "中文：你好，世界！ and 日本語",
        "don't stop-believing 3.14 snake_case",
    ],
)
def test_pieces_concatenate_to_the_text(text: str) -> None:
    parts = pieces(text)
    assert "".join(parts) == text
    assert sum(count_tokens(p) for p in parts) == count_tokens(text)
    assert all(count_tokens(p) <= 1 for p in parts)


@pytest.mark.parametrize(
    ("text", "tokens"),
    [("Hello, world!", 4), ("你好世界", 4), ("a  b", 2), ("", 0), ("3.14", 3), ("🎉🎉", 2)],
)
def test_count_tokens(text: str, tokens: int) -> None:
    assert count_tokens(text) == tokens


def test_sentences_and_names() -> None:
    assert sentences("One. Two? Three!\nFour\n\n----\n") == ["One.", "Two?", "Three!", "Four"]
    assert proper_names("What's the weather in New York and Paris?") == ["New York", "Paris"]
    assert proper_names("Alice is 30.") == ["Alice"]


# Thinking --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (request("hi"), True),  # glm-5 thinks by default
        (request("hi", thinking={"type": "disabled"}), False),
        (request("hi", model="glm-4.5-air", thinking={"type": "enabled"}), True),
        (request("hi there", model="glm-4.5-air"), False),  # dynamic: short, no question
        (request("Why is the sky blue?", model="glm-4.5-air"), True),
        (request(" ".join(["word"] * 13), model="glm-4.5-air"), True),
    ],
)
def test_thinking_enabled(body: dict[str, Any], expected: bool) -> None:
    assert thinking_enabled(body) is expected
    reply = generate(body)
    assert bool(reply.reasoning) is expected
    assert reply.usage.reasoning_tokens == count_tokens(reply.reasoning)


def test_reasoning_describes_the_plan() -> None:
    body = request("Paris is in France. Rome is in Italy. Where is Rome?")
    reply = generate(body)
    assert reply.content == "Rome is in Italy."
    assert reply.reasoning.startswith("The user asks: Where is Rome?")
    assert "the best match mentions rome" in reply.reasoning


# Answer rules ----------------------------------------------------------------------------


def test_rule_order_tool_results_first() -> None:
    messages = [
        {"role": "user", "content": "echo: weather in Paris"},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": "{}"},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "Sunny"},
    ]
    reply = generate({"model": "glm-5", "messages": messages, "tools": [WEATHER]})
    assert reply.content == "According to get_weather: Sunny."
    assert reply.finish_reason == "stop"
    assert reply.tool_calls == ()


def test_tools_win_over_echo_and_echo_wins_over_context() -> None:
    tools_reply = generate(request("echo: weather in Paris", tools=[WEATHER]))
    assert tools_reply.finish_reason == "tool_calls"
    assert tools_reply.content == ""
    echo = generate(request("Rome is in Italy. echo: Where is Rome?"))
    assert echo.content == "Where is Rome?"


def test_echo_keeps_every_character() -> None:
    text = "a\u2028b  \U0001f389\r\n\u00e9\u0301 "
    assert generate(request(f"echo: {text}")).content == text
    assert generate(request(f"echo:{text}")).content == text


def test_fallback_restates_the_question() -> None:
    reply = generate(request("Explain vector databases in three sentences."))
    assert reply.content.startswith("You asked about vector databases.")
    assert generate(request("Hello!")).content.startswith("Hello! This is the PowerTokens")


def test_seed_varies_the_fallback_only() -> None:
    texts = {generate(request("Tell me about otters."), seed=s).content for s in range(3)}
    assert len(texts) == 3
    assert all(t.startswith("You asked about otters.") for t in texts)


def test_rag_prompt_picks_the_best_sentence_earliest_on_ties() -> None:
    prompt = (
        "Context information is below.\n---\nCats sleep a lot. Cats purr. Dogs bark loudly.\n---\n"
        "Given the context information and not prior knowledge, answer the query.\n"
        "Query: Do cats purr?\nAnswer: "
    )
    assert generate(request(prompt)).content == "Cats purr."
    tie = "Context: Cats sleep. Cats eat fish.\nQuestion: What about cats?"
    assert generate(request(tie)).content == "Cats sleep."


def test_json_answers() -> None:
    schema = {
        "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
        "required": ["name", "age"],
    }
    text = f"Bob Stone is 41 years old.\nAnswer in JSON matching this schema: {json.dumps(schema)}"
    assert json.loads(generate(request(text)).content) == {"name": "Bob Stone", "age": 41}
    plain = generate(request("Reply in json: what is 2 plus 2?"))
    assert set(json.loads(plain.content)) == {"answer"}


def test_images_are_mentioned() -> None:
    content = [
        {"type": "text", "text": "What is this?"},
        {"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/"}},
    ]
    reply = generate({"model": "glm-5", "messages": [{"role": "user", "content": content}]})
    assert reply.content.startswith("I received an image (image/jpeg).")


# Tools -----------------------------------------------------------------------------------


def test_tool_arguments_from_text() -> None:
    body = request("Weather in Paris for 3 days, in fahrenheit", tools=[WEATHER])
    [call] = generate(body).tool_calls
    assert call.id.startswith("call_")
    assert json.loads(call.arguments) == {"city": "Paris", "unit": "fahrenheit", "days": 3}


def test_tool_call_ids_are_deterministic_per_request() -> None:
    body = request("What's the weather in Paris and London?", tools=[WEATHER])
    first, second = generate(body), generate(body)
    assert [c.id for c in first.tool_calls] == [c.id for c in second.tool_calls]
    assert len({c.id for c in first.tool_calls}) == 2
    assert [json.loads(c.arguments)["city"] for c in first.tool_calls] == ["Paris", "London"]


@pytest.mark.parametrize(
    ("text", "cities"),
    [
        ("What is the weather in San Francisco, CA?", ["San Francisco"]),
        ("Weather in Paris, Rome and London?", ["Paris", "Rome", "London"]),
        ("Weather for Austin, TX or Boston, MA", ["Austin", "Boston"]),
    ],
)
def test_parallel_calls_need_a_real_list(text: str, cities: list[str]) -> None:
    calls = generate(request(text, tools=[WEATHER])).tool_calls
    assert [json.loads(c.arguments)["city"] for c in calls] == cities


def test_nested_pydantic_schema() -> None:
    schema = {
        "$defs": {
            "Address": {
                "type": "object",
                "properties": {"city": {"type": "string"}, "zip": {"type": "integer"}},
                "required": ["city"],
            }
        },
        "type": "object",
        "properties": {
            "name": {"type": "string"},
            "age": {"type": "integer"},
            "nickname": {"anyOf": [{"type": "string"}, {"type": "null"}], "default": None},
            "verified": {"type": "boolean"},
            "address": {"$ref": "#/$defs/Address"},
            "scores": {"type": "array", "items": {"type": "number"}},
        },
        "required": ["name", "age", "address", "verified"],
    }
    args, all_found = fill_arguments(schema, "Extract: Ada Lovelace, 36, lives in London.")
    assert args == {
        "name": "Ada Lovelace",
        "age": 36,
        "verified": False,
        "address": {"city": "London"},
    }
    assert all_found is False  # "verified" was not in the text
    defaults, _ = fill_arguments(schema, "nothing here")
    assert defaults == {"name": "", "age": 0, "verified": False, "address": {"city": ""}}


def test_single_tool_called_on_directive_or_when_data_fills_it() -> None:
    person = ToolSpec(
        "Person",
        "",
        {
            "type": "object",
            "properties": {"name": {"type": "string"}, "age": {"type": "integer"}},
            "required": ["name", "age"],
        },
    )
    assert plan_calls([person], "Grace Hopper was 85.", "")[0].arguments == {
        "name": "Grace Hopper",
        "age": 85,
    }
    assert plan_calls([person], "the weather is nice", "") == []
    assert plan_calls([person], "the weather is nice", "Extract the data.") != []
    assert plan_calls([person], "please use the tool", "") != []


def test_description_overlap_selects_a_tool() -> None:
    search = ToolSpec(
        "lookup",
        "Search the company handbook for holiday policy",
        {"type": "object", "properties": {"query": {"type": "string"}}, "required": ["query"]},
    )
    [call] = plan_calls([search, ToolSpec("other", "", {})], "What is the holiday policy?", "")
    assert call.name == "lookup"
    assert call.arguments == {"query": "What is the holiday policy?"}


REACT_SYSTEM = """You are designed to help with a variety of tasks.

## Tools

You have access to the following tools:
> Tool Name: get_weather
Tool Description: get_weather(city: str) -> str
Get the current weather for a city.
Tool Args: {"properties": {"city": {"title": "City", "type": "string"}}, "required": ["city"]}

## Output Format

```
Thought: ...
Action: tool name (one of get_weather) if using a tool.
Action Input: the input to the tool, in a JSON format representing the kwargs
```
"""


def test_react_text_protocol() -> None:
    system = {"role": "system", "content": REACT_SYSTEM}
    question = {"role": "user", "content": "What is the weather in Paris?"}
    first = generate({"model": "glm-5", "messages": [system, question]})
    assert first.tool_calls == ()
    assert first.content.startswith("Thought: ")
    assert first.content.endswith('\nAction: get_weather\nAction Input: {"city": "Paris"}')
    observed = [
        system,
        question,
        {"role": "assistant", "content": first.content},
        {"role": "user", "content": "Observation: Sunny, 21 C"},
    ]
    second = generate({"model": "glm-5", "messages": observed})
    assert second.content.endswith("\nAnswer: According to get_weather: Sunny, 21 C.")
    plain = generate({"model": "glm-5", "messages": [system, {"role": "user", "content": "Hi!"}]})
    assert "\nAnswer: Hello!" in plain.content


# Limits, finish reasons, usage -------------------------------------------------------------


def test_max_tokens_truncates_and_reports_length() -> None:
    off = {"type": "disabled"}
    reply = generate(request("echo: one two three four five", max_tokens=3, thinking=off))
    assert reply.content == "one two three"
    assert reply.finish_reason == "length"


def test_reasoning_spends_max_tokens_first() -> None:
    body = request("echo: one two three four five")
    thought = generate(body).reasoning
    spent = count_tokens(thought)
    cut = generate({**body, "max_tokens": 3})
    assert (cut.content, cut.finish_reason) == ("", "length")
    assert thought.startswith(cut.reasoning)
    assert count_tokens(cut.reasoning) == 3
    assert (cut.usage.completion_tokens, cut.usage.reasoning_tokens) == (3, 3)
    rest = generate({**body, "max_tokens": spent + 2})
    assert (rest.reasoning, rest.content, rest.finish_reason) == (thought, "one two", "length")
    tool_body = request("Weather in Paris", tools=[WEATHER], max_tokens=2)
    assert generate(tool_body).tool_calls == ()


def test_stop_sequence_truncates_before_it() -> None:
    reply = generate(request("echo: alpha beta STOP gamma", stop=["STOP"]))
    assert reply.content == "alpha beta "
    assert reply.finish_reason == "stop"
    assert generate(request("echo: a STOP b", stop="STOP")).content == "a "


@pytest.mark.parametrize(
    ("reason", "content"),
    [
        ("sensitive", ""),
        ("network_error", "one two"),
        ("length", "one two"),
        ("model_context_window_exceeded", "one two"),
    ],
)
def test_finish_override(reason: str, content: str) -> None:
    reply = generate(request("echo: one two three four"), finish_override=reason)
    assert (reply.content, reply.finish_reason) == (content, reason)


def test_usage_arithmetic() -> None:
    body = request("echo: a b c", tools=[WEATHER], thinking={"type": "enabled"})
    body["messages"].insert(0, {"role": "system", "content": "Be brief."})
    reply = generate(body)
    usage = reply.usage
    assert usage.prompt_tokens == prompt_tokens(body)
    assert usage.prompt_tokens == sum(message_tokens(m) for m in body["messages"]) + count_tokens(
        json.dumps(body["tools"], ensure_ascii=False)
    )
    assert message_tokens({"role": "user", "content": "a b c"}) == 3 + 4
    assert usage.completion_tokens == (
        count_tokens(reply.reasoning)
        + count_tokens(reply.content)
        + sum(count_tokens(c.arguments) for c in reply.tool_calls)
    )
    assert usage.total_tokens == usage.prompt_tokens + usage.completion_tokens
    assert usage.as_dict()["completion_tokens_details"] == {
        "reasoning_tokens": usage.reasoning_tokens
    }


def test_cached_tokens_round_down_to_16() -> None:
    system = {"role": "system", "content": "word " * 40}
    body = {"model": "glm-5", "messages": [system, {"role": "user", "content": "hi"}]}
    reply = generate(body, cached_messages=1)
    assert reply.usage.cached_tokens == message_tokens(system) // 16 * 16 == 32


def test_prompt_cache_hits_proper_prefixes_only() -> None:
    cache = PromptCache()
    system = {"role": "system", "content": "s"}
    turn = [system, {"role": "user", "content": "q"}]
    longer = [*turn, {"role": "assistant", "content": "a"}, {"role": "user", "content": "q2"}]
    assert cache.lookup_and_store("glm-5", turn) == 0
    assert cache.lookup_and_store("glm-5", turn) == 1  # only the system prompt
    assert cache.lookup_and_store("glm-5", longer) == 2
    assert cache.lookup_and_store("glm-4.7", longer) == 0  # per model
    cache.clear()
    assert cache.lookup_and_store("glm-5", longer) == 0


# Wire forms ------------------------------------------------------------------------------


def test_stream_chunks_match_completion_body() -> None:
    reply = generate(request("What's the weather in Paris and London?", tools=[WEATHER]))
    body = completion_body(reply, META)
    message = body["choices"][0]["message"]
    assert message["content"] == ""
    for tool_stream in (False, True):
        chunks = stream_chunks(reply, META, tool_stream=tool_stream)
        calls: dict[int, dict[str, str]] = {}
        for chunk in chunks:
            for part in chunk["choices"][0]["delta"].get("tool_calls", []):
                call = calls.setdefault(part["index"], {"id": "", "arguments": ""})
                call["id"] = part.get("id") or call["id"]
                call["arguments"] += part["function"]["arguments"]
        assert [calls[i] for i in sorted(calls)] == [
            {"id": c["id"], "arguments": c["function"]["arguments"]} for c in message["tool_calls"]
        ]
        final = chunks[-1]
        assert final["choices"][0]["finish_reason"] == "tool_calls"
        assert final["usage"] == body["usage"]
    [one] = [
        c
        for c in stream_chunks(reply, META, one_chunk=True)
        if c["choices"][0]["delta"].get("tool_calls")
    ]
    assert len(one["choices"][0]["delta"]["tool_calls"]) == 2


# Faults ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        ("429:1302", Fault("429:1302", "status", status=429, code="1302")),
        (
            "429:1305:retry-after=2:retry-after-ms=1500",
            Fault(
                "429:1305:retry-after=2:retry-after-ms=1500",
                "status",
                status=429,
                code="1305",
                retry_after="2",
                retry_after_ms="1500",
            ),
        ),
        ("503:model_not_found", Fault("503:model_not_found", "status", 503, "model_not_found")),
        ("quota:1308", Fault("quota:1308", "quota", status=429, code="1308")),
        ("html:502", Fault("html:502", "html", status=502)),
        ("empty:500", Fault("empty:500", "empty", status=500)),
        ("stream-error:1305", Fault("stream-error:1305", "stream-error", code="1305")),
        (
            "stream-error:1305:after=3",
            Fault("stream-error:1305:after=3", "stream-error", code="1305", count=3),
        ),
        ("cut:4", Fault("cut:4", "cut", count=4)),
        ("stall:2", Fault("stall:2", "stall", count=2, seconds=30.0)),
        ("stall:2:0.5", Fault("stall:2:0.5", "stall", count=2, seconds=0.5)),
        ("delay:250", Fault("delay:250", delay=0.25)),
        ("malformed:1", Fault("malformed:1", "malformed", count=1)),
        ("done-no-finish:0", Fault("done-no-finish:0", "done-no-finish")),
        ("finish:sensitive", Fault("finish:sensitive", "finish", finish_reason="sensitive")),
        ("usage-chunk", Fault("usage-chunk", usage_chunk=True)),
        (
            "tool-stream, tool-calls-one-chunk ,pace:5,cut:1",
            Fault(
                "tool-stream, tool-calls-one-chunk ,pace:5,cut:1",
                "cut",
                count=1,
                pace=0.005,
                tool_stream=True,
                tool_calls_one_chunk=True,
            ),
        ),
    ],
)
def test_parse_fault(spec: str, expected: Fault) -> None:
    assert parse_fault(spec) == expected


@pytest.mark.parametrize(
    "spec",
    [
        "",
        "boom",
        "42:1302",
        "600:1302",
        "429:13020",
        "429:nope",
        "quota:1234",
        "html:abc",
        "cut:-1",
        "stall:1:2:3",
        "finish:stop",
        "cut:1,,usage-chunk",
        "cut:1,malformed:1",
        "stream-error:abc",
        "delay:fast",
        "usage-chunk:1",
    ],
)
def test_parse_fault_rejects_unknown_specs(spec: str) -> None:
    with pytest.raises(FaultSpecError, match="Unknown fault spec"):
        parse_fault(spec)


def test_take_marker() -> None:
    assert take_marker("hi [[fault:cut:2]] there") == ("cut:2", "hi  there")
    assert take_marker("no marker") == (None, "no marker")


# Validation (pure) -----------------------------------------------------------------------


def test_validate_returns_service_errors() -> None:
    assert validate(request("hi")) is None
    error = validate(request("hi", top_p=0))
    assert error is not None
    assert (error.status, error.code, error.type) == (400, "1214", "upstream_error")
    assert "top_p" in error.message
    unknown = validate(request("hi", model="glm-x"))
    assert unknown is not None
    assert (unknown.status, unknown.code, unknown.type) == (503, "model_not_found", "new_api_error")
