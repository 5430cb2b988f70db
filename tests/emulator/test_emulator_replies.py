"""What the model answers over the wire: tool calls (whole and streamed), tool results,
echo, RAG sentence selection, images."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from powertokens.emulator import Emulator
from tests.emulator.emulator_wire import chat, joined, sse_chunks

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {
                "city": {"type": "string", "description": "City name"},
                "unit": {"type": "string", "enum": ["celsius", "fahrenheit"]},
            },
            "required": ["city"],
        },
    },
}


def _tool_calls_from_stream(chunks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Accumulate streamed tool calls by index (docs/wire.md "Stream")."""
    calls: dict[int, dict[str, Any]] = {}
    for chunk in chunks:
        for part in chunk["choices"][0]["delta"].get("tool_calls") or []:
            call = calls.setdefault(part["index"], {"id": "", "name": "", "arguments": ""})
            if part.get("id"):
                call["id"] = part["id"]
            function = part.get("function") or {}
            if function.get("name"):
                call["name"] = function["name"]
            call["arguments"] += function.get("arguments") or ""
    return [calls[i] for i in sorted(calls)]


def test_tool_call_non_stream(client: httpx.Client) -> None:
    body = chat("What's the weather in Paris in fahrenheit?", tools=[WEATHER])
    response = client.post("/chat/completions", json=body).json()
    choice = response["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    message = choice["message"]
    assert message["content"] == ""
    [call] = message["tool_calls"]
    assert call["id"].startswith("call_")
    assert call["type"] == "function"
    assert call["index"] == 0
    assert call["function"]["name"] == "get_weather"
    assert isinstance(call["function"]["arguments"], str)
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris", "unit": "fahrenheit"}


def test_parallel_tool_calls(client: httpx.Client) -> None:
    body = chat("What's the weather in Paris and London?", tools=[WEATHER])
    message = client.post("/chat/completions", json=body).json()["choices"][0]["message"]
    cities = [json.loads(c["function"]["arguments"])["city"] for c in message["tool_calls"]]
    assert cities == ["Paris", "London"]
    assert [c["index"] for c in message["tool_calls"]] == [0, 1]
    assert len({c["id"] for c in message["tool_calls"]}) == 2


def test_tool_calls_stream_whole_by_default(client: httpx.Client) -> None:
    body = chat("What's the weather in Paris and London?", tools=[WEATHER])
    whole = client.post("/chat/completions", json=body).json()
    chunks = sse_chunks(client.post("/chat/completions", json={**body, "stream": True}).content)
    with_calls = [c for c in chunks if c["choices"][0]["delta"].get("tool_calls")]
    assert len(with_calls) == 2
    for index, chunk in enumerate(with_calls):
        [part] = chunk["choices"][0]["delta"]["tool_calls"]
        expected = whole["choices"][0]["message"]["tool_calls"][index]
        assert part == expected  # id, type, name and full arguments in one chunk
    assert chunks[-1]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1]["usage"] == whole["usage"]
    assert joined(chunks, "content") == ""


def test_tool_calls_one_chunk_modifier(client: httpx.Client) -> None:
    body = chat("What's the weather in Paris and London?", tools=[WEATHER], stream=True)
    headers = {"X-PowerTokens-Fault": "tool-calls-one-chunk"}
    chunks = sse_chunks(client.post("/chat/completions", json=body, headers=headers).content)
    with_calls = [c for c in chunks if c["choices"][0]["delta"].get("tool_calls")]
    [chunk] = with_calls
    assert [p["index"] for p in chunk["choices"][0]["delta"]["tool_calls"]] == [0, 1]


@pytest.mark.parametrize(
    "how",
    [
        {"headers": {"X-PowerTokens-Tool-Stream": "1"}},
        {"headers": {"X-PowerTokens-Fault": "tool-stream"}},
    ],
    ids=["header", "modifier"],
)
def test_tool_stream_mode(client: httpx.Client, how: dict[str, Any]) -> None:
    body = chat("What's the weather in Paris and London?", tools=[WEATHER])
    whole = client.post("/chat/completions", json=body).json()["choices"][0]["message"]
    response = client.post("/chat/completions", json={**body, "stream": True}, **how)
    chunks = sse_chunks(response.content)
    parts = [p for c in chunks for p in c["choices"][0]["delta"].get("tool_calls") or []]
    heads = [p for p in parts if "id" in p]
    assert [h["function"] for h in heads] == [
        {"name": "get_weather", "arguments": ""},
        {"name": "get_weather", "arguments": ""},
    ]
    pieces = [p for p in parts if "id" not in p]
    assert len(pieces) > 2
    assert all(
        set(p) == {"index", "function"} and set(p["function"]) == {"arguments"} for p in pieces
    )
    calls = _tool_calls_from_stream(chunks)
    assert [(c["id"], c["name"], c["arguments"]) for c in calls] == [
        (c["id"], c["function"]["name"], c["function"]["arguments"]) for c in whole["tool_calls"]
    ]


def test_tool_stream_emulator_setting() -> None:
    with Emulator(tool_stream=True) as emu:
        body = chat("What's the weather in Rome?", tools=[WEATHER], stream=True)
        raw = httpx.post(
            f"{emu.url}/chat/completions", json=body, headers={"Authorization": "Bearer t"}
        ).content
    chunks = sse_chunks(raw)
    [call] = _tool_calls_from_stream(chunks)
    assert json.loads(call["arguments"]) == {"city": "Rome"}
    assert sum(1 for c in chunks if c["choices"][0]["delta"].get("tool_calls")) > 2


def test_no_tool_call_when_nothing_fits(client: httpx.Client) -> None:
    body = chat("echo: just text", tools=[WEATHER])
    choice = client.post("/chat/completions", json=body).json()["choices"][0]
    assert choice["finish_reason"] == "stop"
    assert "tool_calls" not in choice["message"]
    assert choice["message"]["content"] == "just text"


@pytest.mark.parametrize("stream", [False, True])
def test_tool_results_are_answered(client: httpx.Client, stream: bool) -> None:
    messages = [
        {"role": "user", "content": "What's the weather in Paris and London?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "London"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "Sunny, 22 C"},
        {"role": "tool", "tool_call_id": "call_2", "content": "Rain, 14 C."},
    ]
    body = {"model": "glm-5", "messages": messages, "tools": [WEATHER], "stream": stream}
    response = client.post("/chat/completions", json=body)
    expected = "According to get_weather: Sunny, 22 C. According to get_weather: Rain, 14 C."
    if stream:
        chunks = sse_chunks(response.content)
        assert joined(chunks, "content") == expected
        assert chunks[-1]["choices"][0]["finish_reason"] == "stop"
    else:
        choice = response.json()["choices"][0]
        assert choice["message"]["content"] == expected
        assert choice["finish_reason"] == "stop"


ECHOES = [
    "line\u2028separator and paragraph\u2029separator",
    "next\u0085line, nbsp\u00a0and zero\u200bwidth",
    "emoji 🎉 family 👩‍👩‍👧 flag 🇫🇷 and astral 𝔘𝔫𝔦",
    "中文字符与标点：你好，世界！",
    '  leading spaces, "quotes", back\\slash, \ttab\r\nCRLF  ',
]


@pytest.mark.parametrize("text", ECHOES)
def test_echo_round_trips_exact_text(client: httpx.Client, text: str) -> None:
    body = chat(f"echo: {text}")
    assert (
        client.post("/chat/completions", json=body).json()["choices"][0]["message"]["content"]
        == text
    )
    raw = client.post("/chat/completions", json={**body, "stream": True}).content
    assert joined(sse_chunks(raw), "content") == text


@pytest.mark.parametrize("text", ECHOES[:3])
async def test_echo_round_trips_async(aclient: httpx.AsyncClient, text: str) -> None:
    body = chat(f"echo: {text}", stream=True)
    async with aclient.stream("POST", "/chat/completions", json=body) as response:
        raw = b"".join([part async for part in response.aiter_raw(7)])
    assert joined(sse_chunks(raw), "content") == text


LLAMA_INDEX_PROMPT = (
    "Context information is below.\n---------------------\nfile_path: notes.txt\n\n"
    "The Eiffel Tower is in Paris. The Colosseum is an amphitheatre in Rome. "
    "Big Ben is a clock tower in London.\n---------------------\n"
    "Given the context information and not prior knowledge, answer the query.\n"
    "Query: Which amphitheatre is in Rome?\nAnswer: "
)
LANGCHAIN_PROMPT = (
    "You are an assistant for question-answering tasks. Use the following pieces of "
    "retrieved context to answer the question.\nQuestion: Where is Big Ben? \n"
    "Context: The Eiffel Tower is in Paris. Big Ben is a clock tower in London. \nAnswer:"
)


@pytest.mark.parametrize(
    ("messages", "expected"),
    [
        (
            [{"role": "user", "content": LLAMA_INDEX_PROMPT}],
            "The Colosseum is an amphitheatre in Rome.",
        ),
        ([{"role": "user", "content": LANGCHAIN_PROMPT}], "Big Ben is a clock tower in London."),
        (
            [
                {
                    "role": "system",
                    "content": "Answer briefly. Tokyo is the capital of Japan. "
                    "Ottawa is the capital of Canada.",
                },
                {"role": "user", "content": "What is the capital of Canada?"},
            ],
            "Ottawa is the capital of Canada.",
        ),
        (
            [
                {"role": "user", "content": "My favourite colour is teal."},
                {"role": "assistant", "content": "Noted."},
                {"role": "user", "content": "What is my favourite colour?"},
            ],
            "My favourite colour is teal.",
        ),
    ],
    ids=["llama-index", "langchain", "system-context", "memory"],
)
def test_answers_from_context(
    client: httpx.Client, messages: list[dict[str, Any]], expected: str
) -> None:
    body = {"model": "glm-4.7", "messages": messages}
    message = client.post("/chat/completions", json=body).json()["choices"][0]["message"]
    assert message["content"] == expected
    assert "best match" in message["reasoning_content"]


def test_images_are_mentioned(client: httpx.Client) -> None:
    content = [
        {"type": "text", "text": "Describe these."},
        {"type": "image_url", "image_url": {"url": "https://img.example.com/cat.jpg"}},
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
    ]
    body = {"model": "glm-5", "messages": [{"role": "user", "content": content}]}
    text = client.post("/chat/completions", json=body).json()["choices"][0]["message"]["content"]
    assert text.startswith("I received 2 images (img.example.com, image/png).")


# Concurrency limit and disconnects ---------------------------------------------------------


@pytest.fixture(scope="module")
def limited() -> Iterator[Emulator]:
    with Emulator(max_concurrency=2) as emu:
        yield emu


def test_concurrency_limit(limited: Emulator) -> None:
    limited.reset()
    auth = {"Authorization": "Bearer t"}
    stall = {**auth, "X-PowerTokens-Fault": "stall:1"}
    body = chat("echo: hold the slot", stream=True)
    with httpx.Client(base_url=limited.url, timeout=10.0) as c:
        first = c.send(
            c.build_request("POST", "/chat/completions", json=body, headers=stall), stream=True
        )
        second = c.send(
            c.build_request("POST", "/chat/completions", json=body, headers=stall), stream=True
        )
        assert (first.status_code, second.status_code) == (200, 200)
        assert limited.in_flight == 2
        rejected = c.post("/chat/completions", json=chat("hi"), headers=auth)
        assert rejected.status_code == 429
        error = rejected.json()["error"]
        assert error["code"] == "1302"
        assert error["type"] == "upstream_error"
        first.close()
        second.close()
        assert limited.wait_until(lambda e: e.in_flight == 0)
        assert c.post("/chat/completions", json=chat("hi"), headers=auth).status_code == 200
    assert limited.disconnects == 2
    assert limited.request_count == 4


def test_client_disconnect_is_counted(client: httpx.Client, emu: Emulator) -> None:
    body = chat("echo: " + "word " * 50, stream=True)
    headers = {"X-PowerTokens-Fault": "stall:3"}
    with client.stream("POST", "/chat/completions", json=body, headers=headers) as response:
        assert next(response.iter_raw()).startswith(b": PING")
    # Leaving the block closed the connection mid-stream.
    assert emu.wait_until(lambda e: e.disconnects == 1 and e.in_flight == 0)


def test_finished_streams_are_not_disconnects(client: httpx.Client, emu: Emulator) -> None:
    for _ in range(3):
        client.post("/chat/completions", json=chat("echo: x", stream=True)).raise_for_status()
    assert emu.disconnects == 0
