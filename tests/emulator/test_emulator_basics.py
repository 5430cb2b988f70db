"""The README's example request, response shapes, stream framing and the emulator's bookkeeping."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from powertokens.emulator import Emulator
from powertokens.emulator.model.text import count_tokens
from tests.emulator.emulator_wire import SEED_REQUEST, chat, joined, sse_chunks, sse_payloads


def _check_usage(usage: dict[str, Any]) -> None:
    assert set(usage) == {
        "prompt_tokens",
        "completion_tokens",
        "total_tokens",
        "prompt_tokens_details",
        "completion_tokens_details",
    }
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]
    assert usage["prompt_tokens"] > 0
    assert isinstance(usage["prompt_tokens_details"]["cached_tokens"], int)
    assert isinstance(usage["completion_tokens_details"]["reasoning_tokens"], int)


def _check_seed_body(body: dict[str, Any]) -> None:
    assert set(body) == {"id", "object", "created", "model", "choices", "usage"}
    assert body["id"].startswith("chatcmpl_")
    assert body["object"] == "chat.completion"
    assert isinstance(body["created"], int)
    assert body["model"] == "glm-5-turbo"
    [choice] = body["choices"]
    assert choice["index"] == 0
    assert choice["finish_reason"] == "stop"
    message = choice["message"]
    assert message["role"] == "assistant"
    assert "vector databases" in message["content"]
    # glm-5-turbo thinks by default (docs/wire.md "Models").
    assert message["reasoning_content"]
    assert "tool_calls" not in message
    _check_usage(body["usage"])
    assert body["usage"]["prompt_tokens_details"]["cached_tokens"] == 0


def test_seed_request_non_stream(client: httpx.Client) -> None:
    response = client.post("/chat/completions", json=SEED_REQUEST)
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/json")
    assert response.headers["x-oneapi-request-id"].isdigit()
    _check_seed_body(response.json())


async def test_seed_request_non_stream_async(aclient: httpx.AsyncClient) -> None:
    response = await aclient.post("/chat/completions", json=SEED_REQUEST)
    assert response.status_code == 200
    _check_seed_body(response.json())


def test_seed_request_streamed(client: httpx.Client) -> None:
    response = client.post("/chat/completions", json={**SEED_REQUEST, "stream": True})
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/event-stream"
    assert response.headers["transfer-encoding"] == "chunked"
    assert response.headers["x-oneapi-request-id"].isdigit()
    chunks = sse_chunks(response.content)
    ids = {c["id"] for c in chunks}
    assert len(ids) == 1
    assert ids.pop().startswith("chatcmpl_")
    for chunk in chunks:
        assert chunk["object"] == "chat.completion.chunk"
        assert chunk["model"] == "glm-5-turbo"
        assert isinstance(chunk["created"], int)
    *body, final = chunks
    for chunk in body:
        [choice] = chunk["choices"]
        assert choice["finish_reason"] is None
        assert choice["delta"]["role"] == "assistant"
        assert "usage" not in chunk
    assert final["choices"][0]["finish_reason"] == "stop"
    assert final["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    _check_usage(final["usage"])


def test_reasoning_deltas_come_first_and_carry_empty_content(client: httpx.Client) -> None:
    chunks = sse_chunks(
        client.post("/chat/completions", json={**SEED_REQUEST, "stream": True}).content
    )
    kinds = [
        "reasoning" if "reasoning_content" in c["choices"][0]["delta"] else "content"
        for c in chunks[:-1]
    ]
    assert kinds == sorted(kinds, key=lambda k: k != "reasoning")
    assert "reasoning" in kinds
    assert "content" in kinds
    for chunk in chunks:
        delta = chunk["choices"][0]["delta"]
        if "reasoning_content" in delta:
            assert delta["content"] == ""


@pytest.mark.parametrize(
    "request_body",
    [
        SEED_REQUEST,
        chat("echo: tabs\tand\nnewlines, \u2028 line separator, \u0085 next line, emoji 🎉👩‍💻"),
        chat("Paris is in France. Rome is in Italy. Where is Rome?", thinking={"type": "enabled"}),
        chat("echo: one two three four five six", max_tokens=4),
        chat("echo: 東京は日本の首都です。", stop=["首都"]),
    ],
    ids=["seed", "unicode", "context", "max_tokens", "stop"],
)
def test_stream_pieces_equal_non_stream_reply(
    client: httpx.Client, request_body: dict[str, Any]
) -> None:
    whole = client.post("/chat/completions", json=request_body).json()
    streamed = client.post("/chat/completions", json={**request_body, "stream": True})
    chunks = sse_chunks(streamed.content)
    message = whole["choices"][0]["message"]
    assert joined(chunks, "content") == message["content"]
    assert joined(chunks, "reasoning_content") == message.get("reasoning_content", "")
    final = chunks[-1]
    assert final["choices"][0]["finish_reason"] == whole["choices"][0]["finish_reason"]
    assert final["usage"] == whole["usage"]
    # One token per chunk.
    pieces = [c["choices"][0]["delta"]["content"] for c in chunks[:-1]]
    assert all(count_tokens(p) <= 1 for p in pieces)


def test_thinking_disabled_has_no_reasoning(client: httpx.Client) -> None:
    body = client.post("/chat/completions", json=chat("Hello there")).json()
    assert "reasoning_content" not in body["choices"][0]["message"]
    assert body["usage"]["completion_tokens_details"]["reasoning_tokens"] == 0


def test_same_request_same_reply(client: httpx.Client) -> None:
    first = client.post("/chat/completions", json=SEED_REQUEST).json()
    second = client.post("/chat/completions", json=SEED_REQUEST).json()
    assert first["choices"] == second["choices"]
    assert first["id"] != second["id"]


def test_request_ids_are_unique_per_request(client: httpx.Client) -> None:
    ids = {
        client.post("/chat/completions", json=chat("hi")).headers["x-oneapi-request-id"]
        for _ in range(5)
    }
    assert len(ids) == 5


def test_unknown_fields_are_ignored(client: httpx.Client) -> None:
    extra = {"stream_options": {"include_usage": True}, "do_sample": True, "user_id": "u"}
    response = client.post("/chat/completions", json=chat("echo: ok", **extra))
    assert response.status_code == 200
    assert response.json()["choices"][0]["message"]["content"] == "ok"


def test_prompt_cache_reports_cached_prefix(client: httpx.Client) -> None:
    system = {"role": "system", "content": " ".join(["Answer from the handbook."] * 10)}
    first = [system, {"role": "user", "content": "What is the handbook?"}]
    follow_up = [
        *first,
        {"role": "assistant", "content": "A guide."},
        {"role": "user", "content": "More?"},
    ]
    cold = client.post("/chat/completions", json={"model": "glm-5", "messages": first}).json()
    warm = client.post("/chat/completions", json={"model": "glm-5", "messages": follow_up}).json()
    assert cold["usage"]["prompt_tokens_details"]["cached_tokens"] == 0
    cached = warm["usage"]["prompt_tokens_details"]["cached_tokens"]
    assert cached > 0
    assert cached % 16 == 0
    assert cached <= cold["usage"]["prompt_tokens"]


def test_request_log_redacts_the_token(client: httpx.Client, emu: Emulator) -> None:
    client.post("/chat/completions", json=chat("hi", stream=False))
    [record] = emu.requests
    assert record.method == "POST"
    assert record.path == "/v1/chat/completions"
    assert record.headers["authorization"] == "[REDACTED]"
    assert record["json"]["messages"][0]["content"] == "hi"
    assert record.fault is None
    assert record.status == 200
    assert "pt-emulator-test-token" not in json.dumps(record.to_dict())
    assert emu.request_count == 1


def test_keep_alive_reuses_one_connection(client: httpx.Client, emu: Emulator) -> None:
    for _ in range(3):
        client.post("/chat/completions", json=chat("hi", stream=True)).raise_for_status()
    assert emu.open_connections == 1


def test_reset_clears_log_counters_and_faults(client: httpx.Client, emu: Emulator) -> None:
    client.post("/chat/completions", json=chat("hi"))
    emu.push_fault("500:1234")
    emu.reset()
    assert emu.requests == []
    assert emu.request_count == 0
    assert emu.disconnects == 0
    assert client.post("/chat/completions", json=chat("hi")).status_code == 200


def test_unknown_path_is_404_with_gateway_body(client: httpx.Client) -> None:
    response = client.get("/models")
    assert response.status_code == 404
    error = response.json()["error"]
    assert error["message"].startswith("Invalid URL (GET /v1/models)")
    assert error["message"].endswith(f"(request id: {response.headers['x-oneapi-request-id']})")
    assert client.get("/chat/completions").status_code == 404


def test_admin_endpoints(emu: Emulator) -> None:
    base = emu.url.removesuffix("/v1")
    with httpx.Client(base_url=base, timeout=10.0) as admin:
        assert admin.get("/_emulator/health").json() == {"status": "ok"}
        queued = admin.post("/_emulator/faults", json={"faults": ["429:1302", "html:502"]})
        assert queued.json() == {"queued": 2}
        bad = admin.post("/_emulator/faults", json={"faults": ["429:1302", "nonsense"]})
        assert bad.status_code == 400
        assert "nonsense" in bad.json()["error"]["message"]
        auth = {"Authorization": "Bearer t"}
        assert admin.post("/v1/chat/completions", json=chat("hi"), headers=auth).status_code == 429
        assert admin.post("/v1/chat/completions", json=chat("hi"), headers=auth).status_code == 502
        assert admin.post("/v1/chat/completions", json=chat("hi"), headers=auth).status_code == 200
        log = admin.get("/_emulator/requests").json()
        assert log["request_count"] == 3
        assert [r["fault"] for r in log["requests"]] == ["429:1302", "html:502", None]
        assert log["requests"][0]["headers"]["authorization"] == "[REDACTED]"
        assert admin.post("/_emulator/reset").json() == {"status": "ok"}
        assert admin.get("/_emulator/requests").json()["requests"] == []


def test_sse_payloads_helper_rejects_bad_framing() -> None:
    with pytest.raises(AssertionError):
        sse_payloads(b"data: {}\n\n")
    assert sse_payloads(b": PING\n\ndata: 1\n\ndata: [DONE]\n\n") == ["1", "[DONE]"]
