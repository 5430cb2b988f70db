"""The eight methods against the emulator, sync and async: text, reasoning, usage,
images, stop sequences, callbacks and instrumentation, settings and secrets."""

from __future__ import annotations

import base64
import inspect
import json
import logging
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from llama_index.core.base.llms.types import (
    ChatMessage,
    ImageBlock,
    TextBlock,
    ThinkingBlock,
)
from llama_index.core.callbacks import CallbackManager, TokenCountingHandler
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.events.llm import (
    LLMChatEndEvent,
    LLMChatInProgressEvent,
    LLMChatStartEvent,
)
from pydantic import Field

from llama_index_powertokens import PowerTokens
from powertokens import ChatCompletion
from powertokens.emulator import Emulator

from .conftest import KEY, Runner, user

QUESTION = "What is the capital of Freedonia?"


async def test_chat(run: Runner, emu: Emulator) -> None:
    response = await run.chat(user(QUESTION))
    thinking, text = response.message.blocks
    assert isinstance(thinking, ThinkingBlock)
    assert thinking.content
    assert isinstance(text, TextBlock)
    assert "Freedonia" in text.text
    assert response.message.content == text.text
    assert isinstance(response.raw, ChatCompletion)
    usage = response.raw.usage
    assert usage is not None
    assert response.additional_kwargs == {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
        "finish_reason": "stop",
    }
    assert thinking.num_tokens == usage.reasoning_tokens > 0
    [request] = emu.requests
    assert request.json["model"] == "glm-5-turbo"
    assert request.json["messages"] == [{"role": "user", "content": QUESTION}]
    assert not request.stream


async def test_stream_chat(run: Runner, emu: Emulator) -> None:
    responses = await run.stream_chat(user(QUESTION))
    thinking = "".join(r.additional_kwargs.get("thinking_delta") or "" for r in responses)
    answer = "".join(r.delta or "" for r in responses)
    last = responses[-1]
    assert thinking
    assert answer
    assert last.message.content == answer  # delta holds answer text only
    assert last.message.blocks[0] == ThinkingBlock(
        content=thinking, num_tokens=last.additional_kwargs["reasoning_tokens"]
    )
    assert last.raw["usage"]["total_tokens"] == last.additional_kwargs["total_tokens"] > 0
    assert all("usage" not in r.raw for r in responses[:-1])
    # every response carries the cumulative message
    assert [r.message.content for r in responses[-3:]] == [
        answer[: len(answer) - len(responses[-1].delta or "") - len(responses[-2].delta or "")],
        answer[: len(answer) - len(responses[-1].delta or "")],
        answer,
    ]
    assert emu.requests[0].stream


async def test_complete(run: Runner) -> None:
    response = await run.complete("echo: plain words")
    assert response.text == "plain words"
    assert response.additional_kwargs["reasoning_content"]
    assert response.additional_kwargs["total_tokens"] > 0


async def test_stream_complete(run: Runner) -> None:
    responses = await run.stream_complete("echo: one two three")
    assert "".join(r.delta or "" for r in responses) == "one two three"
    assert responses[-1].text == "one two three"
    assert any(r.additional_kwargs.get("thinking_delta") for r in responses)
    assert responses[-1].raw["usage"]["completion_tokens"] > 0


async def test_thinking_off(run: Runner, emu: Emulator) -> None:
    run.llm.thinking = False
    response = await run.chat(user("echo: no thoughts"))
    assert [type(b) for b in response.message.blocks] == [TextBlock]
    streamed = await run.stream_chat(user("echo: none here"))
    assert not any(r.additional_kwargs.get("thinking_delta") for r in streamed)
    assert [r.json["thinking"] for r in emu.requests] == [{"type": "disabled"}] * 2


async def test_per_call_parameters(run: Runner, emu: Emulator) -> None:
    await run.chat(user("echo: x"), temperature=0.2, top_p=0.5, max_tokens=50, thinking=True)
    body = emu.requests[0].json
    assert (body["temperature"], body["top_p"], body["max_tokens"]) == (0.2, 0.5, 50)
    assert body["thinking"] == {"type": "enabled"}


async def test_additional_kwargs_join_the_body(run: Runner, emu: Emulator) -> None:
    run.llm.additional_kwargs = {"request_tag": "nightly"}
    await run.chat(user("echo: x"), custom_field=7)
    run.llm.additional_kwargs["request_tag"] = "edited"  # edits in place count too
    await run.stream_chat(user("echo: y"))
    first, second = (r.json for r in emu.requests)
    assert (first["request_tag"], first["custom_field"]) == ("nightly", 7)
    assert second["request_tag"] == "edited"
    assert "custom_field" not in second


async def test_async_streams_are_coroutines_returning_async_generators(llm: PowerTokens) -> None:
    assert inspect.iscoroutinefunction(llm.astream_chat)
    assert inspect.iscoroutinefunction(llm.astream_complete)
    chat_stream = await llm.astream_chat(user("echo: a"))
    completion_stream = await llm.astream_complete("echo: b")
    assert isinstance(chat_stream, AsyncGenerator)
    assert isinstance(completion_stream, AsyncGenerator)
    assert [r.delta async for r in chat_stream][-2:] == ["a", ""]
    assert "".join([r.delta or "" async for r in completion_stream]) == "b"


async def test_several_stop_sequences(run: Runner, emu: Emulator) -> None:
    text = "echo: alpha beta. gamma END delta"
    whole = await run.chat(user(text), stop=["END", "."])
    streamed = await run.stream_chat(user(text), stop=["END", "."])
    assert whole.message.content == "alpha beta"
    assert "".join(r.delta or "" for r in streamed) == "alpha beta"
    assert streamed[-1].message.content == "alpha beta"
    assert [r.json["stop"] for r in emu.requests] == [["END"], ["END"]]


PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


async def test_images(run: Runner, emu: Emulator) -> None:
    message = ChatMessage(
        role="user",
        blocks=[
            TextBlock(text="What is in these pictures?"),
            ImageBlock(url="https://images.example.com/cat.jpg"),
            ImageBlock(image=PNG),
        ],
    )
    response = await run.chat([message])
    assert "I received 2 images (images.example.com, image/png)" in (response.message.content or "")
    parts = emu.requests[0].json["messages"][0]["content"]
    assert [p["type"] for p in parts] == ["text", "image_url", "image_url"]
    assert parts[2]["image_url"]["url"].startswith("data:image/png;base64,")


@pytest.mark.parametrize("streaming", [False, True])
async def test_token_counting_handler_sees_usage(run: Runner, streaming: bool) -> None:
    counter = TokenCountingHandler()
    run.llm.callback_manager = CallbackManager([counter])
    if streaming:
        responses = await run.stream_chat(user(QUESTION))
        usage = responses[-1].raw["usage"]
        expected = (usage["prompt_tokens"], usage["completion_tokens"])
    else:
        response = await run.chat(user(QUESTION))
        expected = (response.raw.usage.prompt_tokens, response.raw.usage.completion_tokens)
    [event] = counter.llm_token_counts
    assert (event.prompt_token_count, event.completion_token_count) == expected


class _Collect(BaseEventHandler):
    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "Collect"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


@pytest.fixture
def events() -> Any:
    dispatcher = get_dispatcher()
    handler = _Collect(events=[])
    dispatcher.add_event_handler(handler)
    yield handler.events
    dispatcher.event_handlers.remove(handler)


async def test_instrumentation_events_without_the_key(run: Runner, events: list[BaseEvent]) -> None:
    await run.stream_chat(user("echo: a b c"))
    kinds = [
        type(e)
        for e in events
        if isinstance(e, (LLMChatStartEvent, LLMChatInProgressEvent, LLMChatEndEvent))
    ]
    assert kinds[0] is LLMChatStartEvent
    assert kinds[-1] is LLMChatEndEvent
    assert LLMChatInProgressEvent in kinds
    start = next(e for e in events if isinstance(e, LLMChatStartEvent))
    assert start.model_dict["model_name"] == "glm-5-turbo"
    assert KEY not in json.dumps(start.model_dict, default=str)


# -- settings --------------------------------------------------------------------------


def test_metadata_tells_the_truth() -> None:
    llm = PowerTokens(api_key=KEY)
    meta = llm.metadata
    assert (meta.is_chat_model, meta.is_function_calling_model) == (True, True)
    assert (meta.context_window, meta.model_name) == (200_000, "glm-5-turbo")
    assert meta.num_output == -1  # no max_tokens: LlamaIndex reserves its default 256
    assert PowerTokens(model="glm-4.5-air", api_key=KEY).metadata.context_window == 128_000
    unknown = PowerTokens(model="glm-9-preview", api_key=KEY).metadata
    assert unknown.context_window > 0
    small = PowerTokens(api_key=KEY, context_window=8_000, max_tokens=10_000).metadata
    assert small.context_window == 8_000
    assert small.num_output == 4_000  # never the whole window
    llm.model = "glm-4.5-air"  # derived state follows the fields
    assert llm.metadata.context_window == 128_000
    assert PowerTokens(api_key=KEY, max_tokens=500).metadata.num_output == 500


def test_env_and_api_base(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOKENS_API_KEY", "env-key-123")
    monkeypatch.setenv("POWERTOKENS_BASE_URL", "http://127.0.0.1:9/v1")
    llm = PowerTokens()
    assert llm.api_key is not None
    assert llm.api_key.get_secret_value() == "env-key-123"
    assert llm.base_url == llm.api_base == "http://127.0.0.1:9/v1"
    assert PowerTokens(api_base="http://127.0.0.1:8/v1/").base_url == "http://127.0.0.1:8/v1"


async def test_key_never_in_dict_payload_repr_or_logs(
    run: Runner, caplog: pytest.LogCaptureFixture, emu: Emulator
) -> None:
    llm = run.llm
    assert KEY not in json.dumps(llm.to_dict(), default=str)
    assert KEY not in llm.to_json()
    assert KEY not in json.dumps(llm.to_payload(), default=str)
    assert KEY not in repr(llm)
    assert KEY not in str(llm)
    emu.push_fault("429:1302:retry-after-ms=1")
    with caplog.at_level(logging.DEBUG):
        await run.chat(user("echo: hi"))
        await run.stream_chat(user("echo: hi"))
    assert caplog.text
    assert KEY not in caplog.text
    assert emu.request_count == 3
