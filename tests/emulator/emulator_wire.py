"""Helpers shared by the emulator tests: requests and a strict SSE framing check."""

from __future__ import annotations

import json
from typing import Any

SEED_REQUEST: dict[str, Any] = {
    "model": "glm-5-turbo",
    "messages": [
        {"role": "system", "content": "You are a concise and professional assistant."},
        {"role": "user", "content": "Explain vector databases in three sentences."},
    ],
    "temperature": 0.7,
    "max_tokens": 1024,
}

PING = b": PING\n\n"
DONE = b"data: [DONE]\n\n"


def chat(text: str, **fields: Any) -> dict[str, Any]:
    """A one-message request for ``text`` (thinking off unless asked)."""
    body: dict[str, Any] = {
        "model": "glm-5",
        "messages": [{"role": "user", "content": text}],
        "thinking": {"type": "disabled"},
    }
    body.update(fields)
    return body


def sse_payloads(raw: bytes, *, done: bool = True) -> list[str]:
    """Check the framing of a whole stream body and return each event's data, in order.

    The body must be ``: PING`` + blank line, then ``data: <payload>`` events each ended by
    a blank line, and (when ``done``) ``data: [DONE]`` last.
    """
    assert raw.startswith(PING), raw[:40]
    if done:
        assert raw.endswith(DONE), raw[-40:]
    events = raw[len(PING) :].split(b"\n\n")
    assert events[-1] == b"", "the body must end with a blank line"
    payloads = []
    for event in events[:-1]:
        assert event.startswith(b"data: "), event[:40]
        assert b"\n" not in event, event
        assert b"\r" not in event, event
        payloads.append(event[len(b"data: ") :].decode("utf-8"))
    return payloads


def sse_chunks(raw: bytes) -> list[dict[str, Any]]:
    """The JSON chunks of a well-formed stream (without ``[DONE]``)."""
    payloads = sse_payloads(raw)
    assert payloads[-1] == "[DONE]"
    assert "[DONE]" not in payloads[:-1]
    return [json.loads(p) for p in payloads[:-1]]


def joined(chunks: list[dict[str, Any]], field: str) -> str:
    """Concatenate one delta field over the chunks."""
    return "".join(c["choices"][0]["delta"].get(field) or "" for c in chunks if c.get("choices"))
