"""Structured output: structured_predict, as_structured_llm, stream_structured_predict,
against the emulator (the model calls the tool) and against canned answers where the
model writes the JSON as text instead (the fallback)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from pydantic import BaseModel

from llama_index_powertokens import PowerTokens
from powertokens.emulator import Emulator

from .conftest import KEY, Runner


class Album(BaseModel):
    """Data model for an album."""

    title: str
    artist: str
    year: int


pytestmark = pytest.mark.filterwarnings(
    "ignore:The `json` method is deprecated:DeprecationWarning"  # LlamaIndex StructuredLLM
)

PROMPT = PromptTemplate("Extract the album from: {text}")
TEXT = 'The album "Blue" by Joni Mitchell came out in 1971.'
BLUE = Album(title="Blue", artist="Joni Mitchell", year=1971)


async def test_structured_predict(run: Runner, emu: Emulator) -> None:
    if run.mode == "sync":
        album = run.llm.structured_predict(Album, PROMPT, text=TEXT)
    else:
        album = await run.llm.astructured_predict(Album, PROMPT, text=TEXT)
    assert album == BLUE
    body = emu.requests[0].json
    assert body["tools"][0]["function"]["name"] == "Album"
    assert body.get("tool_choice", "auto") == "auto"


async def test_stream_structured_predict(run: Runner) -> None:
    if run.mode == "sync":
        parts = list(run.llm.stream_structured_predict(Album, PROMPT, text=TEXT))
    else:
        parts = [
            p async for p in await run.llm.astream_structured_predict(Album, PROMPT, text=TEXT)
        ]
    assert parts[-1] == BLUE


async def test_as_structured_llm(run: Runner) -> None:
    structured = run.llm.as_structured_llm(Album)
    messages = [ChatMessage(role="user", content=f"Extract the album from: {TEXT}")]
    if run.mode == "sync":
        response = structured.chat(messages)
        streamed = list(structured.stream_chat(messages))
    else:
        response = await structured.achat(messages)
        streamed = [r async for r in await structured.astream_chat(messages)]
    assert response.raw == BLUE
    assert json.loads(response.message.content or "") == BLUE.model_dump()
    assert streamed[-1].raw == BLUE


# -- the JSON-in-text fallback, on canned answers --------------------------------------

PROSE = 'Here you go:\n```json\n{"title": "Blue", "artist": "Joni Mitchell", "year": 1971}\n```'


def _whole(text: str) -> dict[str, Any]:
    return {
        "id": "c1",
        "object": "chat.completion",
        "model": "glm-5",
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 9, "completion_tokens": 20, "total_tokens": 29},
    }


def _sse(text: str) -> bytes:
    pieces = [text[i : i + 7] for i in range(0, len(text), 7)]
    events = [
        {"id": "c1", "choices": [{"index": 0, "delta": {"role": "assistant", "content": p}}]}
        for p in pieces
    ]
    events.append(
        {
            "id": "c1",
            "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
            "usage": {"prompt_tokens": 9, "completion_tokens": 20, "total_tokens": 29},
        }
    )
    body = "".join(f"data: {json.dumps(e)}\n\n" for e in events) + "data: [DONE]\n\n"
    return body.encode()


def _handler(text: str, seen: list[dict[str, Any]]) -> Callable[[httpx.Request], httpx.Response]:
    def handle(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        seen.append(body)
        if body.get("stream"):
            return httpx.Response(
                200, content=_sse(text), headers={"content-type": "text/event-stream"}
            )
        return httpx.Response(200, json=_whole(text))

    return handle


@pytest.fixture
def canned() -> tuple[PowerTokens, list[dict[str, Any]]]:
    seen: list[dict[str, Any]] = []
    transport = httpx.MockTransport(_handler(PROSE, seen))
    llm = PowerTokens(
        api_key=KEY,
        base_url="http://127.0.0.1:1/v1",
        http_client=httpx.Client(transport=transport),
        async_http_client=httpx.AsyncClient(transport=transport),
    )
    return llm, seen


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_fallback_json_in_text(
    canned: tuple[PowerTokens, list[dict[str, Any]]], mode: str
) -> None:
    llm, seen = canned
    if mode == "sync":
        album = llm.structured_predict(Album, PROMPT, text=TEXT)
        parts = list(llm.stream_structured_predict(Album, PROMPT, text=TEXT))
    else:
        album = await llm.astructured_predict(Album, PROMPT, text=TEXT)
        parts = [p async for p in await llm.astream_structured_predict(Album, PROMPT, text=TEXT)]
    assert album == BLUE
    assert parts[-1] == BLUE
    assert [bool(body.get("stream")) for body in seen] == [False, True]
    assert all(body["tools"][0]["function"]["name"] == "Album" for body in seen)


def test_fallback_never_invents_a_call_from_unrelated_json(
    canned: tuple[PowerTokens, list[dict[str, Any]]],
) -> None:
    llm, _ = canned
    plain = llm.chat([ChatMessage(role="user", content="hi")])  # no tool required: no fallback
    assert llm.get_tool_calls_from_response(plain, error_on_no_tool_call=False) == []
