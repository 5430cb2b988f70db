"""The thinking budget guard in the core: an answer whose thinking used up
``max_tokens`` (``finish_reason="length"``, reasoning, no text, no tool call) warns once
per answer (``ThinkingBudgetWarning``, pointing at the caller's line) and is flagged
(``thinking_exhausted_budget``), sync and async, whole and streamed, over loopback."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest

from powertokens import AsyncPowerTokens, ChatCompletion, PowerTokens, ThinkingBudgetWarning
from tests.hostile import HostileServer, completion, completion_chunk, json_response, sse_stream

HI = [{"role": "user", "content": "hi"}]


def whole(content: str = "", finish: str = "length", reasoning: str = "Let me think") -> bytes:
    body = completion(content, finish=finish)
    body["choices"][0]["message"]["reasoning_content"] = reasoning
    body["usage"]["completion_tokens_details"] = {"reasoning_tokens": 16}
    return json_response(200, body)


def streamed(content: str = "", finish: str = "length", reasoning: str = "Let me think") -> Any:
    events = [completion_chunk(reasoning_content=reasoning)]
    if content:
        events.append(completion_chunk(content))
    last = completion_chunk(finish=finish)
    last["usage"] = {
        "prompt_tokens": 3,
        "completion_tokens": 16,
        "total_tokens": 19,
        "completion_tokens_details": {"reasoning_tokens": 16},
    }
    events.append(last)
    return sse_stream(*events)


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        yield hostile


def _run(server: HostileServer, mode: str) -> ChatCompletion:
    """One call in ``mode`` (sync/async, whole/stream); the answer's completion."""
    import asyncio

    stream = mode.endswith("stream")
    if mode.startswith("sync"):
        with PowerTokens(api_key="k", base_url=server.url, max_retries=0) as client:
            if not stream:
                return client.chat(HI, max_tokens=16)
            with client.stream(HI, max_tokens=16) as s:
                for _ in s:
                    pass
                assert s.completion is not None
                return s.completion

    async def main() -> ChatCompletion:
        async with AsyncPowerTokens(api_key="k", base_url=server.url, max_retries=0) as client:
            if not stream:
                return await client.chat(HI, max_tokens=16)
            async with client.stream(HI, max_tokens=16) as s:
                async for _ in s:
                    pass
                assert s.completion is not None
                return s.completion

    return asyncio.run(main())


MODES = ["sync", "sync-stream", "async", "async-stream"]


def _script(server: HostileServer, mode: str, **kw: Any) -> None:
    server.script(streamed(**kw) if mode.endswith("stream") else whole(**kw))


@pytest.mark.parametrize("mode", MODES)
def test_thinking_that_used_up_max_tokens_warns_once_and_is_flagged(
    server: HostileServer, mode: str
) -> None:
    _script(server, mode)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        answer = _run(server, mode)
    budget = [w for w in caught if issubclass(w.category, ThinkingBudgetWarning)]
    assert len(budget) == 1, [str(w.message) for w in caught]
    message = str(budget[0].message)
    assert "max_tokens" in message
    assert "thinking=False" in message
    assert budget[0].filename == __file__  # stacklevel: the caller, not the library
    assert answer.thinking_exhausted_budget is True
    assert answer.reasoning_content == "Let me think"
    assert answer.content == ""


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "answer", [{"content": "Hello", "finish": "length"}, {"finish": "stop"}], ids=["text", "stop"]
)
def test_no_warning_when_there_is_text_or_the_answer_finished(
    server: HostileServer, mode: str, answer: dict[str, Any]
) -> None:
    _script(server, mode, **answer)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ThinkingBudgetWarning)
        completion = _run(server, mode)
    assert completion.thinking_exhausted_budget is False


def test_the_usual_filters_decide_how_often_it_shows(server: HostileServer) -> None:
    """No once-only state of our own: with "always", every such answer warns."""
    server.script(whole(), whole())
    with (
        PowerTokens(api_key="k", base_url=server.url, max_retries=0) as client,
        warnings.catch_warnings(record=True) as caught,
    ):
        warnings.simplefilter("always")
        client.chat(HI)
        client.chat(HI)
    assert len([w for w in caught if w.category is ThinkingBudgetWarning]) == 2


def test_pytest_warns_sees_it(server: HostileServer) -> None:
    server.script(whole())
    with PowerTokens(api_key="k", base_url=server.url, max_retries=0) as client:  # noqa: SIM117
        with pytest.warns(ThinkingBudgetWarning, match="max_tokens"):
            client.chat(HI)
