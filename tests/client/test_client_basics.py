"""The clients against the emulator: the README's first example, streaming, tools, config."""

from __future__ import annotations

import asyncio
import json
import logging
from typing import Any

import httpx
import pytest

from powertokens import (
    AsyncPowerTokens,
    AuthenticationError,
    PowerTokens,
    RequestValidationError,
)
from powertokens.emulator import Emulator

from .conftest import KEY, Api

SEED_MESSAGES = [
    {"role": "system", "content": "You are a concise and professional assistant."},
    {"role": "user", "content": "Explain vector databases in three sentences."},
]
SEED_PARAMS: dict[str, Any] = {"model": "glm-5-turbo", "temperature": 0.7, "max_tokens": 1024}


def comparable(completion: Any) -> dict[str, Any]:
    """A completion without the fields that legitimately differ between two calls."""
    data = completion.model_dump(exclude_none=True)
    for key in ("id", "created", "request_id"):
        data.pop(key, None)
    return data


async def test_seed_example_returns_the_seed_shape(api: Api, emu: Emulator) -> None:
    answer = await api.chat(SEED_MESSAGES, **SEED_PARAMS)
    assert answer.id
    assert answer.object == "chat.completion"
    assert isinstance(answer.created, int)
    assert answer.model == "glm-5-turbo"
    assert answer.finish_reason == "stop"
    assert answer.choices[0].message.role == "assistant"
    assert answer.content
    assert answer.reasoning_content  # thinking is on by default for glm-5-turbo
    assert answer.usage is not None
    assert answer.usage.total_tokens == answer.usage.prompt_tokens + answer.usage.completion_tokens
    assert answer.usage.prompt_tokens_details is not None
    assert answer.request_id  # from X-Oneapi-Request-Id
    (sent,) = emu.requests
    assert _body(sent) == {**SEED_PARAMS, "messages": SEED_MESSAGES}


async def test_stream_final_completion_equals_non_stream(api: Api) -> None:
    whole = await api.chat(SEED_MESSAGES, **SEED_PARAMS)
    deltas, final, error = await api.stream(SEED_MESSAGES, **SEED_PARAMS)
    assert error is None
    assert final is not None
    assert comparable(final) == comparable(whole)
    assert "".join(d.content for d in deltas) == whole.content
    assert "".join(d.reasoning for d in deltas) == whole.reasoning_content
    assert len(deltas) > 3  # token by token, not one lump
    assert sum(d.usage is not None for d in deltas) == 1
    # reasoning strictly before content (docs/wire.md)
    kinds = [("r" if d.reasoning else "c") for d in deltas if d.reasoning or d.content]
    assert kinds == sorted(kinds, key=lambda k: k == "c")


async def test_thinking_disabled_has_no_reasoning(api: Api) -> None:
    answer = await api.chat(SEED_MESSAGES, thinking=False)
    assert answer.reasoning_content == ""
    deltas, final, _ = await api.stream(SEED_MESSAGES, thinking=False)
    assert final is not None
    assert not any(d.reasoning for d in deltas)


@pytest.mark.parametrize("text", ["a\u2028b\u0085c 你好 🙂 \r\n end", "\nleading newline"])
async def test_exact_text_survives_the_stream(api: Api, text: str) -> None:
    messages = [{"role": "user", "content": f"echo:{text}"}]
    whole = await api.chat(messages, thinking=False)
    deltas, final, _ = await api.stream(messages, thinking=False)
    assert whole.content == text
    assert final is not None
    assert final.content == text
    assert "".join(d.content for d in deltas) == text


WEATHER_TOOL = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Get the current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string", "description": "City name"}},
            "required": ["city"],
        },
    },
}


@pytest.mark.parametrize("tool_stream", [False, True], ids=["whole-calls", "argument-fragments"])
async def test_tool_calls_stream_and_non_stream_agree(api: Api, tool_stream: bool) -> None:
    messages = [{"role": "user", "content": "What is the weather in Paris and London?"}]
    headers = {"X-PowerTokens-Tool-Stream": "1"} if tool_stream else None
    whole = await api.chat(messages, tools=[WEATHER_TOOL], extra_headers=headers)
    deltas, final, error = await api.stream(messages, tools=[WEATHER_TOOL], extra_headers=headers)
    assert error is None
    assert final is not None
    assert whole.finish_reason == final.finish_reason == "tool_calls"
    calls = final.message.tool_calls or []
    assert [c.function.name for c in calls] == ["get_weather", "get_weather"]
    assert [c.parsed_arguments() for c in calls] == [{"city": "Paris"}, {"city": "London"}]
    assert [c.parsed_arguments() for c in whole.message.tool_calls or []] == [
        c.parsed_arguments() for c in calls
    ]
    pieces = [t for d in deltas for t in d.tool_calls]
    if tool_stream:
        assert len(pieces) > len(calls)  # arguments arrived in fragments
    else:
        assert len(pieces) == len(calls)


async def test_tool_results_are_answered(api: Api) -> None:
    messages = [
        {"role": "user", "content": "What is the weather in Paris?"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": "18 degrees and sunny"},
    ]
    answer = await api.chat(messages, tools=[WEATHER_TOOL])
    assert answer.finish_reason == "stop"
    assert "18 degrees and sunny" in answer.content


async def test_validation_happens_before_any_request(api: Api, emu: Emulator) -> None:
    with pytest.raises(RequestValidationError, match="temperature"):
        await api.chat(SEED_MESSAGES, temperature=1.5)
    _, _, error = await api.stream(SEED_MESSAGES, stop=["a", ""])
    assert isinstance(error, RequestValidationError)
    assert error.field == "stop"
    assert emu.request_count == 0


async def test_wrong_key_is_an_authentication_error_not_retried(emu: Emulator) -> None:
    with (
        PowerTokens(api_key="wrong", base_url=emu.url) as client,
        pytest.raises(AuthenticationError) as err,
    ):
        client.chat(SEED_MESSAGES)
    assert err.value.status_code == 401
    assert err.value.request_id
    assert emu.request_count == 1


def test_missing_key_fails_at_call_time_with_a_clear_error(
    emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOKENS_API_KEY", raising=False)
    client = PowerTokens(base_url=emu.url)
    with pytest.raises(RequestValidationError, match="POWERTOKENS_API_KEY"):
        client.chat(SEED_MESSAGES)
    assert emu.request_count == 0


def test_key_and_url_from_the_environment(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOKENS_API_KEY", KEY)
    monkeypatch.setenv("POWERTOKENS_BASE_URL", emu.url)
    with PowerTokens() as client:
        assert client.base_url == emu.url
        assert client.chat(SEED_MESSAGES).content


def test_the_key_is_not_in_repr_or_logs(emu: Emulator, caplog: pytest.LogCaptureFixture) -> None:
    emu.push_fault("429:1302", times=1)
    caplog.set_level(logging.DEBUG)
    with PowerTokens(api_key=KEY, base_url=emu.url) as client:
        client.retry_policy = client.retry_policy.__class__(initial_delay=0.001)
        client.chat(SEED_MESSAGES)
        assert KEY not in repr(client)
        assert "api_key=<set>" in repr(client)
    assert "retrying" in caplog.text
    assert KEY not in caplog.text
    for record in caplog.records:
        assert KEY not in str(record.args)


def test_default_and_extra_headers_are_sent(emu: Emulator) -> None:
    with PowerTokens(api_key=KEY, base_url=emu.url, default_headers={"X-Team": "a"}) as client:
        client.chat(SEED_MESSAGES, extra_headers={"X-Trace": "b"})
    (sent,) = emu.requests
    headers = {k.lower(): v for k, v in _headers(sent).items()}
    assert headers["x-team"] == "a"
    assert headers["x-trace"] == "b"
    assert headers["user-agent"].startswith("powertokens-python/")
    assert KEY not in json.dumps(headers)  # the log redacts the bearer token


def test_an_injected_http_client_is_used_and_not_closed(emu: Emulator) -> None:
    seen: list[str] = []
    http = httpx.Client(event_hooks={"request": [lambda r: seen.append(str(r.url))]})
    with PowerTokens(api_key=KEY, base_url=emu.url, http_client=http) as client:
        client.chat(SEED_MESSAGES)
    assert seen == [f"{emu.url}/chat/completions"]
    assert not http.is_closed
    http.close()


async def test_an_injected_async_client_is_used(emu: Emulator) -> None:
    async with httpx.AsyncClient() as http:
        client = AsyncPowerTokens(api_key=KEY, base_url=emu.url, http_client=http)
        answer = await client.chat(SEED_MESSAGES)
        await client.close()
        assert answer.content
        assert not http.is_closed


def test_early_break_closes_the_response(client: PowerTokens, emu: Emulator) -> None:
    with client.stream(SEED_MESSAGES) as stream:
        for _ in stream:
            break
    # the half-read connection was closed, not returned to the pool for reuse
    assert emu.wait_until(lambda e: e.open_connections == 0, timeout=5)


def _body(entry: Any) -> dict[str, Any]:
    body = entry["json"] if isinstance(entry, dict) else entry.json
    return dict(body)


def _headers(entry: Any) -> dict[str, str]:
    return dict(entry["headers"] if isinstance(entry, dict) else entry.headers)


def test_one_async_client_across_two_event_loops(emu: Emulator) -> None:
    client = AsyncPowerTokens(api_key=KEY, base_url=emu.url, max_concurrent_requests=1)

    async def ask() -> str:
        async with client.stream(SEED_MESSAGES) as stream:
            return (await stream.final_completion()).content

    first = asyncio.run(ask())
    second = asyncio.run(ask())  # the first loop's pool is dead; a fresh one is used
    assert first == second != ""
    assert emu.request_count == 2
