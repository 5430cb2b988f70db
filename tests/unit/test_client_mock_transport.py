"""The clients over httpx.MockTransport: no sockets, canned wire bytes."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from powertokens import (
    AsyncPowerTokens,
    PowerTokens,
    RateLimitError,
    RetryPolicy,
    StreamInterruptedError,
)

MESSAGES = [{"role": "user", "content": "hi"}]
FAST = RetryPolicy(max_retries=2, initial_delay=0.0001, max_delay=0.0002)

COMPLETION = {
    "id": "chatcmpl_zhipu_123",
    "object": "chat.completion",
    "created": 1775174400,
    "model": "glm-5",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "Hello.", "reasoning_content": "Greet."},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 4, "completion_tokens": 2, "total_tokens": 6},
}


def sse(*events: Any) -> bytes:
    out = b": PING\n\n"
    for event in events:
        data = event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)
        out += f"data: {data}\n\n".encode()
    return out


def chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "id": "c1",
        "model": "glm-5",
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }


STREAM = sse(
    chunk({"role": "assistant", "content": "", "reasoning_content": "Greet."}),
    chunk({"role": "assistant", "content": "Hel"}),
    chunk({"role": "assistant", "content": "lo."}),
    chunk({"role": "assistant", "content": ""}, "stop", usage=COMPLETION["usage"]),
    "[DONE]",
)


class ByteStream(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body delivered in pieces of ``size`` bytes, to split frames and characters."""

    def __init__(self, body: bytes, size: int) -> None:
        self.pieces = [body[i : i + size] for i in range(0, len(body), size)]

    def __iter__(self) -> Iterator[bytes]:
        yield from self.pieces

    async def __aiter__(self) -> Any:
        for piece in self.pieces:
            yield piece


class Script:
    """Answers requests in order from a list of (status, headers, body) and records them."""

    def __init__(self, *answers: tuple[int, dict[str, str], bytes], size: int = 7) -> None:
        self.answers = list(answers)
        self.requests: list[httpx.Request] = []
        self.size = size

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        status, headers, body = self.answers.pop(0)
        return httpx.Response(status, headers=headers, stream=ByteStream(body, self.size))


JSON = {"content-type": "application/json", "x-oneapi-request-id": "rid-1"}
EVENTS = {"content-type": "text/event-stream", "x-oneapi-request-id": "rid-2"}
RATE_LIMITED = (
    429,
    JSON,
    b'{"error":{"message":"busy (request id: r9)","type":"upstream_error",'
    b'"param":"","code":"1302"}}',
)


def make_sync(script: Script) -> PowerTokens:
    http = httpx.Client(transport=httpx.MockTransport(script))
    client = PowerTokens(api_key="k", base_url="https://example.test/v1", http_client=http)
    client.retry_policy = FAST
    return client


def make_async(script: Script) -> AsyncPowerTokens:
    http = httpx.AsyncClient(transport=httpx.MockTransport(script))
    client = AsyncPowerTokens(api_key="k", base_url="https://example.test/v1", http_client=http)
    client.retry_policy = FAST
    return client


def test_non_stream_with_retry_sync() -> None:
    script = Script(RATE_LIMITED, (200, JSON, json.dumps(COMPLETION).encode()))
    answer = make_sync(script).chat(MESSAGES, model="glm-5")
    assert (answer.content, answer.reasoning_content, answer.request_id) == (
        "Hello.",
        "Greet.",
        "rid-1",
    )
    assert len(script.requests) == 2
    assert script.requests[0].content == script.requests[1].content
    request = script.requests[0]
    assert request.url == "https://example.test/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer k"
    assert json.loads(request.content) == {"model": "glm-5", "messages": MESSAGES}


async def test_non_stream_with_retry_async() -> None:
    script = Script(RATE_LIMITED, (200, JSON, json.dumps(COMPLETION).encode()))
    answer = await make_async(script).chat(MESSAGES, model="glm-5")
    assert answer.content == "Hello."
    assert len(script.requests) == 2


@pytest.mark.parametrize("size", [1, 2, 3, 5, 64, 10_000])
def test_stream_at_any_read_size_sync(size: int) -> None:
    script = Script((200, EVENTS, STREAM), size=size)
    with make_sync(script).stream(MESSAGES) as stream:
        deltas = list(stream)
    assert "".join(d.content for d in deltas) == "Hello."
    assert stream.completion is not None
    assert stream.completion.request_id == "rid-2"
    assert stream.completion.usage is not None
    assert json.loads(script.requests[0].content)["stream"] is True


@pytest.mark.parametrize("size", [1, 4, 10_000])
async def test_stream_at_any_read_size_async(size: int) -> None:
    script = Script((200, EVENTS, STREAM), size=size)
    async with make_async(script).stream(MESSAGES) as stream:
        deltas = [d async for d in stream]
    assert "".join(d.reasoning for d in deltas) == "Greet."
    assert stream.completion is not None
    assert stream.completion.content == "Hello."


def test_first_event_error_is_retried_later_error_is_raised() -> None:
    overloaded = {"error": {"code": 1305, "message": "overloaded"}}
    script = Script(
        (200, EVENTS, sse(overloaded, "[DONE]")),
        (200, EVENTS, sse(chunk({"content": "Hel"}), overloaded, "[DONE]")),
    )
    client = make_sync(script)
    with pytest.raises(RateLimitError) as err, client.stream(MESSAGES) as stream:
        for _ in stream:
            pass
    assert err.value.partial_text == "Hel"
    assert len(script.requests) == 2


def test_a_json_answer_to_a_stream_request_is_accepted() -> None:
    script = Script((200, JSON, json.dumps(COMPLETION).encode()))
    with make_sync(script).stream(MESSAGES) as stream:
        deltas = list(stream)
    assert [d.content for d in deltas] == ["Hello."]
    assert stream.completion is not None
    assert stream.completion.finish_reason == "stop"


def test_a_json_error_answer_to_a_stream_request_is_raised_and_retried() -> None:
    script = Script(RATE_LIMITED, RATE_LIMITED, RATE_LIMITED)
    with pytest.raises(RateLimitError), make_sync(script).stream(MESSAGES) as stream:
        list(stream)
    assert len(script.requests) == 3


def test_done_without_finish_is_an_error_not_a_short_answer() -> None:
    script = Script((200, EVENTS, sse(chunk({"content": "Hel"}), "[DONE]")))
    with pytest.raises(StreamInterruptedError) as err, make_sync(script).stream(MESSAGES) as stream:
        list(stream)
    assert err.value.partial_text == "Hel"
    assert len(script.requests) == 1


def test_our_timeouts_apply_to_an_injected_client() -> None:
    # httpx's own default (5 s) would cut off a model that thinks for minutes.
    script = Script((200, JSON, json.dumps(COMPLETION).encode()), (200, EVENTS, STREAM))
    client = make_sync(script)
    client.chat(MESSAGES)
    with client.stream(MESSAGES) as stream:
        list(stream)
    whole, streamed = (r.extensions["timeout"] for r in script.requests)
    assert whole["read"] == 600.0
    assert streamed["read"] == 120.0  # the stream-idle gap
    assert whole["connect"] == streamed["connect"] == 10.0


def test_the_stream_knows_its_request_id() -> None:
    script = Script((200, EVENTS, STREAM))
    with make_sync(script).stream(MESSAGES) as stream:
        next(iter(stream))
        assert stream.request_id == "rid-2"
