"""Canned wire bytes and the in-process transport that answers them.

Every contender gets the same bytes (docs/wire.md framing: compact JSON, ``data:`` lines, a
``: PING`` keep-alive, the final chunk carrying ``finish_reason`` and ``usage``, then
``[DONE]``), delivered in 4 KiB reads as a socket would, so a per-call figure is the
client's own cost and nothing else.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx

BASE_URL = "https://powertokens.test/v1"
API_KEY = "pt-bench-key"
MODEL = "glm-5"
READ_SIZE = 4096

SYSTEM = "You are a concise assistant."
QUESTION = "Explain vector databases in three sentences."

# The tools offered in the tool-call case (wire form: every framework accepts it).
WEATHER_TOOL: dict[str, Any] = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string"}},
            "required": ["city"],
        },
    },
}
TOOL_CALLS = (
    ("call_0", "get_weather", {"city": "Paris", "unit": "celsius"}),
    ("call_1", "get_weather", {"city": "Beijing", "unit": "celsius"}),
)

_USAGE = {
    "prompt_tokens": 21,
    "completion_tokens": 2000,
    "total_tokens": 2021,
    "prompt_tokens_details": {"cached_tokens": 0},
    "completion_tokens_details": {"reasoning_tokens": 1000},
}


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def _chunk(delta: dict[str, Any], finish: str | None = None, **extra: Any) -> bytes:
    body = {
        "id": "chatcmpl_bench",
        "object": "chat.completion.chunk",
        "created": 1790000000,
        "model": MODEL,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
        **extra,
    }
    return b"data: " + _dumps(body) + b"\n\n"


@dataclass(frozen=True)
class Canned:
    """One answer on the wire and what a correct client must make of it."""

    body: bytes
    content_type: str
    text: str
    """The answer text (content only: OpenAI clients drop ``reasoning_content``)."""
    tool_calls: tuple[tuple[str, str, dict[str, Any]], ...] = ()
    chunks: int = 0
    """``data:`` events before ``[DONE]`` (0 for a non-stream answer)."""


def completion() -> Canned:
    """A non-stream answer: reasoning, a paragraph of text, usage."""
    text = (
        "A vector database stores embeddings and finds the nearest ones to a query "
        "vector quickly. It indexes them (HNSW, IVF) so that search stays fast at scale. "
        "Retrieval-augmented generation uses it to find the passages a model should read."
    )
    body = {
        "id": "chatcmpl_bench",
        "object": "chat.completion",
        "created": 1790000000,
        "model": MODEL,
        "choices": [
            {
                "index": 0,
                "message": {
                    "role": "assistant",
                    "content": text,
                    "reasoning_content": "The user wants a short definition; three sentences.",
                },
                "finish_reason": "stop",
            }
        ],
        "usage": {**_USAGE, "completion_tokens": 60, "total_tokens": 81},
    }
    return Canned(_dumps(body), "application/json", text)


def stream(chunks: int) -> Canned:
    """``chunks`` events: the first half reasoning, the second half content (each delta
    repeats ``role`` and reasoning deltas carry ``"content":""``, as real streams do),
    then the finish chunk with usage."""
    half = chunks // 2
    out = [b": PING\n\n"]
    words: list[str] = []
    for i in range(chunks):
        if i < half:
            delta = {"role": "assistant", "content": "", "reasoning_content": f" thought{i}"}
        else:
            word = f" word{i}"
            words.append(word)
            delta = {"role": "assistant", "content": word}
        out.append(_chunk(delta))
    out.append(_chunk({"role": "assistant", "content": ""}, "stop", usage=_USAGE))
    out.append(b"data: [DONE]\n\n")
    return Canned(b"".join(out), "text/event-stream", "".join(words), chunks=chunks + 1)


def tool_stream(reasoning: int = 40, pieces: int = 12) -> Canned:
    """Reasoning, then two tool calls with their arguments streamed in ``pieces`` pieces
    (the ``tool_stream`` form: id and name first, then argument fragments by index)."""
    out = [b": PING\n\n"]
    for i in range(reasoning):
        out.append(_chunk({"role": "assistant", "content": "", "reasoning_content": f" step{i}"}))
    for index, (call_id, name, args) in enumerate(TOOL_CALLS):
        text = json.dumps(args)
        size = max(1, -(-len(text) // pieces))
        first = {"index": index, "id": call_id, "type": "function",
                 "function": {"name": name, "arguments": ""}}  # fmt: skip
        out.append(_chunk({"role": "assistant", "tool_calls": [first]}))
        for start in range(0, len(text), size):
            piece = {"index": index, "function": {"arguments": text[start : start + size]}}
            out.append(_chunk({"role": "assistant", "tool_calls": [piece]}))
    out.append(_chunk({"role": "assistant", "content": ""}, "tool_calls", usage=_USAGE))
    out.append(b"data: [DONE]\n\n")
    events = sum(1 for part in out if part.startswith(b"data: {"))
    return Canned(b"".join(out), "text/event-stream", "", TOOL_CALLS, chunks=events)


class _Reads(httpx.SyncByteStream, httpx.AsyncByteStream):
    """The body in fixed-size reads, for sync and async clients alike."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def __iter__(self) -> Iterator[bytes]:
        body = self._body
        for start in range(0, len(body), READ_SIZE):
            yield body[start : start + READ_SIZE]

    async def __aiter__(self) -> AsyncIterator[bytes]:
        body = self._body
        for start in range(0, len(body), READ_SIZE):
            yield body[start : start + READ_SIZE]


@dataclass
class Answerer:
    """The mock server: answers every request with ``canned`` (switchable per case)."""

    canned: Canned
    requests: int = 0
    bodies: list[bytes] = field(default_factory=list)
    keep_bodies: bool = False

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.keep_bodies:
            self.bodies.append(request.content)
        canned = self.canned
        headers = {"content-type": canned.content_type, "x-oneapi-request-id": "bench-1"}
        return httpx.Response(200, headers=headers, stream=_Reads(canned.body))


def clients(
    answer: Callable[[httpx.Request], httpx.Response],
) -> tuple[httpx.Client, httpx.AsyncClient]:
    """A sync and an async ``httpx`` client whose transport is ``answer``."""
    transport = httpx.MockTransport(answer)
    return (
        httpx.Client(transport=transport, timeout=60.0),
        httpx.AsyncClient(transport=transport, timeout=60.0),
    )
