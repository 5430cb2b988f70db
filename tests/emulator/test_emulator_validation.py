"""Every request check answers with the service's status, error body, code and request id."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from powertokens.emulator import Emulator
from tests.emulator.emulator_wire import chat

USER = {"role": "user", "content": "hi"}


def _tool(name: str = "get_weather", kind: str = "function") -> dict[str, Any]:
    return {"type": kind, "function": {"name": name, "parameters": {"type": "object"}}}


# (id, request body, status, code, words the message must contain)
CASES: list[tuple[str, Any, int, str, list[str]]] = [
    ("model-missing", {"messages": [USER]}, 400, "1213", ["model"]),
    ("model-not-string", {"model": 5, "messages": [USER]}, 400, "1214", ["model", "5"]),
    ("model-unknown", {"model": "glm-9", "messages": [USER]}, 503, "model_not_found", ["glm-9"]),
    ("messages-missing", {"model": "glm-5"}, 400, "1213", ["messages"]),
    ("messages-empty", {"model": "glm-5", "messages": []}, 400, "1213", ["messages"]),
    ("messages-not-list", {"model": "glm-5", "messages": "hi"}, 400, "1214", ["messages"]),
    (
        "role-unknown",
        {"model": "glm-5", "messages": [{"role": "bot", "content": "x"}]},
        400,
        "1214",
        ["messages[0].role", '"bot"'],
    ),
    (
        "content-not-string-or-parts",
        {"model": "glm-5", "messages": [{"role": "user", "content": 42}]},
        400,
        "1214",
        ["messages[0].content", "42"],
    ),
    (
        "part-type-unknown",
        {"model": "glm-5", "messages": [{"role": "user", "content": [{"type": "audio"}]}]},
        400,
        "1214",
        ["messages[0].content[0].type", '"audio"'],
    ),
    (
        "image-without-url",
        {
            "model": "glm-5",
            "messages": [{"role": "user", "content": [{"type": "image_url", "image_url": {}}]}],
        },
        400,
        "1214",
        ["image_url.url"],
    ),
    (
        "tool-message-without-id",
        {"model": "glm-5", "messages": [USER, {"role": "tool", "content": "22 C"}]},
        400,
        "1213",
        ["messages[1].tool_call_id"],
    ),
    (
        "only-system",
        {"model": "glm-5", "messages": [{"role": "system", "content": "Be brief."}]},
        400,
        "1214",
        ["not system or assistant"],
    ),
    (
        "only-assistant",
        {"model": "glm-5", "messages": [{"role": "assistant", "content": "Hi"}]},
        400,
        "1214",
        ["not system or assistant"],
    ),
    ("temperature-high", chat("hi", temperature=1.5), 400, "1214", ["temperature", "1.5"]),
    ("temperature-low", chat("hi", temperature=-0.1), 400, "1214", ["temperature", "-0.1"]),
    ("temperature-string", chat("hi", temperature="hot"), 400, "1214", ["temperature", "hot"]),
    ("top-p-low", chat("hi", top_p=0.001), 400, "1214", ["top_p", "0.001"]),
    ("top-p-high", chat("hi", top_p=1.5), 400, "1214", ["top_p", "1.5"]),
    ("max-tokens-zero", chat("hi", max_tokens=0), 400, "1214", ["max_tokens", "0"]),
    ("max-tokens-float", chat("hi", max_tokens=10.5), 400, "1214", ["max_tokens", "10.5"]),
    ("max-tokens-over-limit", chat("hi", max_tokens=128_001), 400, "1214", ["128000"]),
    ("stop-two", chat("hi", stop=["a", "b"]), 400, "1214", ["stop", "2"]),
    ("stream-not-bool", chat("hi", stream="yes"), 400, "1214", ["stream", "yes"]),
    (
        "tools-too-many",
        chat("hi", tools=[_tool(f"t{i}") for i in range(129)]),
        400,
        "1214",
        ["tools", "129", "128"],
    ),
    (
        "tool-type",
        chat("hi", tools=[_tool(kind="retrieval")]),
        400,
        "1214",
        ["tools[0].type", "retrieval"],
    ),
    (
        "tool-name",
        chat("hi", tools=[_tool("get weather!")]),
        400,
        "1214",
        ["tools[0].function.name", "get weather!"],
    ),
    ("tool-choice-none", chat("hi", tool_choice="none"), 400, "1214", ["Tool choice must be auto"]),
    (
        "tool-choice-named",
        chat("hi", tool_choice={"type": "function", "function": {"name": "x"}}),
        400,
        "1214",
        ["Tool choice must be auto"],
    ),
    ("thinking-not-object", chat("hi", thinking="on"), 400, "1214", ["thinking", "on"]),
    (
        "thinking-type",
        chat("hi", thinking={"type": "auto"}),
        400,
        "1214",
        ["thinking.type", "auto"],
    ),
]


def _check_error(response: httpx.Response, status: int, code: str, words: list[str]) -> None:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    request_id = response.headers["x-oneapi-request-id"]
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["code"] == code
    assert error["param"] == ""
    assert error["type"] == ("upstream_error" if code.isdigit() else "new_api_error")
    assert error["message"].endswith(f" (request id: {request_id})")
    for word in words:
        assert word in error["message"]


@pytest.mark.parametrize(
    ("body", "status", "code", "words"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_validation_errors(
    client: httpx.Client, body: Any, status: int, code: str, words: list[str]
) -> None:
    _check_error(client.post("/chat/completions", json=body), status, code, words)


@pytest.mark.parametrize(
    ("body", "status", "code", "words"), [c[1:] for c in CASES[:6]], ids=[c[0] for c in CASES[:6]]
)
async def test_validation_errors_async(
    aclient: httpx.AsyncClient, body: Any, status: int, code: str, words: list[str]
) -> None:
    _check_error(await aclient.post("/chat/completions", json=body), status, code, words)


def test_validation_happens_before_streaming(client: httpx.Client) -> None:
    response = client.post("/chat/completions", json=chat("hi", temperature=2, stream=True))
    _check_error(response, 400, "1214", ["temperature"])


@pytest.mark.parametrize(
    ("content", "words"),
    [(b"{not json", ["Invalid request body"]), (b"[1, 2]", ["expected a JSON object"])],
)
def test_body_that_is_not_a_json_object(
    client: httpx.Client, content: bytes, words: list[str]
) -> None:
    response = client.post("/chat/completions", content=content)
    _check_error(response, 400, "invalid_request", words)


@pytest.mark.parametrize(
    "body",
    [
        chat("hi", stop="END"),
        chat("hi", stop=["END"]),
        chat("hi", stop=[]),
        chat("hi", tool_choice="auto", tools=[_tool()]),
        chat("hi", temperature=0, top_p=0.01, max_tokens=1),
        chat("hi", temperature=1, top_p=1, max_tokens=128_000),
        chat("hi", thinking={"type": "enabled", "clear_thinking": False}),
        {
            "model": "glm-4.5-air",
            "messages": [
                {"role": "system", "content": "Be brief."},
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": "https://example.com/cat.png"}},
                    ],
                },
                {
                    "role": "assistant",
                    "content": None,
                    "tool_calls": [
                        {
                            "id": "c1",
                            "type": "function",
                            "function": {"name": "look", "arguments": "{}"},
                        },
                    ],
                },
                {"role": "tool", "tool_call_id": "c1", "content": "a cat"},
            ],
        },
    ],
    ids=[
        "stop-string",
        "stop-list",
        "stop-empty",
        "tool-choice-auto",
        "lower-bounds",
        "upper-bounds",
        "thinking",
        "all-roles",
    ],
)
def test_valid_edge_requests_are_accepted(client: httpx.Client, body: dict[str, Any]) -> None:
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text


def test_prompt_longer_than_the_context_window(client: httpx.Client) -> None:
    huge = "word " * 130_000
    body = {"model": "glm-4.5-air", "messages": [{"role": "user", "content": huge}]}
    _check_error(client.post("/chat/completions", json=body), 400, "1261", ["Prompt exceeds"])


# Auth ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def keyed() -> Iterator[Emulator]:
    with Emulator(api_keys={"good-key"}) as emu:
        yield emu


@pytest.mark.parametrize(
    ("headers", "status", "words"),
    [
        ({}, 401, ["No token provided"]),
        ({"Authorization": "Bearer"}, 401, ["No token provided"]),
        ({"Authorization": "Basic Zm9vOmJhcg=="}, 401, ["No token provided"]),
        ({"Authorization": "Bearer bad-key"}, 401, ["Invalid token"]),
        ({"Authorization": "Bearer good-key"}, 200, []),
        ({"Authorization": "bearer good-key"}, 200, []),
    ],
    ids=["missing", "empty", "basic", "wrong", "right", "lower-case-scheme"],
)
def test_auth(keyed: Emulator, headers: dict[str, str], status: int, words: list[str]) -> None:
    keyed.reset()
    response = httpx.post(f"{keyed.url}/chat/completions", json=chat("hi"), headers=headers)
    if status == 200:
        assert response.status_code == 200
    else:
        _check_error(response, status, "", words)
        assert "bad-key" not in response.text
        assert response.json()["error"]["type"] == "new_api_error"
    assert keyed.request_count == 1
    logged = keyed.requests[0].headers.get("authorization")
    assert logged in (None, "[REDACTED]")


def test_any_token_is_accepted_without_api_keys(client: httpx.Client) -> None:
    response = client.post(
        "/chat/completions", json=chat("hi"), headers={"Authorization": "Bearer whatever"}
    )
    assert response.status_code == 200


def test_auth_failure_does_not_consume_a_queued_fault(keyed: Emulator) -> None:
    keyed.reset()
    keyed.push_fault("500:1234")
    url = f"{keyed.url}/chat/completions"
    assert httpx.post(url, json=chat("hi")).status_code == 401
    ok = {"Authorization": "Bearer good-key"}
    assert httpx.post(url, json=chat("hi"), headers=ok).status_code == 500
