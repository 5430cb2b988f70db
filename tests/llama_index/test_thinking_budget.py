"""The thinking budget guard in LlamaIndex ``PowerTokens``: an answer whose thinking used
up ``max_tokens`` (``finish_reason="length"``, reasoning, no text, no tool call) carries
``additional_kwargs["thinking_exhausted_budget"]`` (chat/complete, and the final stream
item), warns once per answer (the core's ``ThinkingBudgetWarning``), and structured
output / tool calls raise ``ThinkingBudgetExceededError`` instead of a parse error or an
empty result. A scripted server sends the answers over loopback."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.prompts import PromptTemplate
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel

from llama_index_powertokens import PowerTokens, ThinkingBudgetExceededError
from powertokens import ThinkingBudgetWarning
from tests.client.test_thinking_budget import streamed, whole
from tests.hostile import HostileServer

HI = [ChatMessage(role="user", content="hi")]


class CityInfo(BaseModel):
    """Facts about a city."""

    city: str
    country: str


def get_weather(city: str) -> str:
    """Current weather in a city."""
    return f"Sunny in {city}"


WEATHER = FunctionTool.from_defaults(get_weather)


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        yield hostile


@pytest.fixture
def llm(server: HostileServer) -> Iterator[PowerTokens]:
    model = PowerTokens(api_key="k", base_url=server.url, max_retries=0, max_tokens=16)
    yield model
    model.close()


async def _call(llm: PowerTokens, method: str) -> list[Any]:
    """The responses of one call (a stream's items, in order)."""
    if method == "chat":
        return [llm.chat(HI)]
    if method == "achat":
        return [await llm.achat(HI)]
    if method == "complete":
        return [llm.complete("hi")]
    if method == "acomplete":
        return [await llm.acomplete("hi")]
    if method == "stream_chat":
        return list(llm.stream_chat(HI))
    if method == "stream_complete":
        return list(llm.stream_complete("hi"))
    if method == "astream_chat":
        return [r async for r in await llm.astream_chat(HI)]
    return [r async for r in await llm.astream_complete("hi")]


METHODS = [
    "chat",
    "achat",
    "complete",
    "acomplete",
    "stream_chat",
    "astream_chat",
    "stream_complete",
    "astream_complete",
]


@pytest.mark.parametrize("method", METHODS)
async def test_the_answer_is_flagged_and_warns_once(
    llm: PowerTokens, server: HostileServer, method: str
) -> None:
    server.script(streamed() if "stream" in method else whole())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        responses = await _call(llm, method)
    assert responses[-1].additional_kwargs["thinking_exhausted_budget"] is True
    assert all("thinking_exhausted_budget" not in r.additional_kwargs for r in responses[:-1])
    budget = [w for w in caught if issubclass(w.category, ThinkingBudgetWarning)]
    assert len(budget) == 1
    assert "max_tokens" in str(budget[0].message)


@pytest.mark.parametrize("method", METHODS)
async def test_no_flag_and_no_warning_when_there_is_text(
    llm: PowerTokens, server: HostileServer, method: str
) -> None:
    server.script(streamed("Paris") if "stream" in method else whole("Paris"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ThinkingBudgetWarning)
        responses = await _call(llm, method)
    assert "thinking_exhausted_budget" not in responses[-1].additional_kwargs


def _check(error: ThinkingBudgetExceededError) -> None:
    text = str(error)
    assert "max_tokens" in text
    assert "thinking=False" in text
    assert error.reasoning_tokens == 16


async def _ready(value: Any) -> Any:
    return value


QUIET = pytest.mark.filterwarnings("ignore::powertokens.ThinkingBudgetWarning")


@QUIET
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_structured_predict_raises_the_budget_error(
    llm: PowerTokens, server: HostileServer, mode: str
) -> None:
    server.script(whole())
    prompt = PromptTemplate("Facts about {city}")
    with pytest.raises(ThinkingBudgetExceededError) as info:
        await (
            llm.astructured_predict(CityInfo, prompt, city="Paris")
            if mode == "async"
            else _ready(llm.structured_predict(CityInfo, prompt, city="Paris"))
        )
    _check(info.value)


@QUIET
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_as_structured_llm_raises_the_budget_error(
    llm: PowerTokens, server: HostileServer, mode: str
) -> None:
    server.script(whole())
    structured = llm.as_structured_llm(CityInfo)
    with pytest.raises(ThinkingBudgetExceededError) as info:
        await (structured.achat(HI) if mode == "async" else _ready(structured.chat(HI)))
    _check(info.value)


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_get_tool_calls_from_response_raises_the_budget_error(
    llm: PowerTokens, server: HostileServer, stream: bool
) -> None:
    server.script(streamed() if stream else whole())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThinkingBudgetWarning)
        if stream:
            responses = [r async for r in await llm.astream_chat_with_tools([WEATHER], "Paris?")]
            for response in responses[:-1]:  # mid-stream: no error
                llm.get_tool_calls_from_response(response, error_on_no_tool_call=False)
            last = responses[-1]
        else:
            last = llm.chat_with_tools([WEATHER], "Paris?")
    with pytest.raises(ThinkingBudgetExceededError) as info:
        llm.get_tool_calls_from_response(last, error_on_no_tool_call=False)
    _check(info.value)
