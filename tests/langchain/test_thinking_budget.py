"""The thinking budget guard in ``ChatPowerTokens``: an answer whose thinking used up
``max_tokens`` (``finish_reason="length"``, reasoning, no text, no tool call) carries
``response_metadata["thinking_exhausted_budget"]`` (invoke, and the final stream chunk),
warns once per answer (the core's ``ThinkingBudgetWarning``, not repeated here), and
structured output raises ``PowerTokensThinkingBudgetExceededError`` rather than a
parse error. A scripted server sends the answers over loopback."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.exceptions import OutputParserException
from pydantic import BaseModel

from langchain_powertokens import ChatPowerTokens, PowerTokensThinkingBudgetExceededError
from powertokens import ThinkingBudgetExceededError, ThinkingBudgetWarning
from tests.client.test_thinking_budget import streamed, whole
from tests.hostile import HostileServer

from .helpers import Run, add_up


class CityInfo(BaseModel):
    """Facts about a city."""

    city: str
    country: str


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        yield hostile


@pytest.fixture
def model(server: HostileServer) -> ChatPowerTokens:
    return ChatPowerTokens(api_key="k", base_url=server.url, max_retries=0, max_tokens=16)


def _budget_warnings(caught: list[warnings.WarningMessage]) -> list[warnings.WarningMessage]:
    return [w for w in caught if issubclass(w.category, ThinkingBudgetWarning)]


async def test_invoke_flags_and_warns_once(
    run: Run, server: HostileServer, model: ChatPowerTokens
) -> None:
    server.script(whole())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        message = await run.invoke(model, "hi")
    assert message.response_metadata["thinking_exhausted_budget"] is True
    assert message.content == ""
    found = _budget_warnings(caught)
    assert len(found) == 1
    assert "max_tokens" in str(found[0].message)
    if run.mode == "sync":  # the caller's line (Run.invoke), past langchain-core's frames
        assert found[0].filename.endswith("helpers.py")


async def test_stream_flags_the_last_chunk_and_warns_once(
    run: Run, server: HostileServer, model: ChatPowerTokens
) -> None:
    server.script(streamed())
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        chunks = await run.stream(model, "hi")
    assert chunks[-1].response_metadata["thinking_exhausted_budget"] is True
    assert all("thinking_exhausted_budget" not in c.response_metadata for c in chunks[:-1])
    assert add_up(chunks).response_metadata["thinking_exhausted_budget"] is True
    assert len(_budget_warnings(caught)) == 1


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_no_flag_and_no_warning_when_there_is_text(
    run: Run, server: HostileServer, model: ChatPowerTokens, stream: bool
) -> None:
    server.script(streamed("Paris") if stream else whole("Paris"))
    with warnings.catch_warnings():
        warnings.simplefilter("error", ThinkingBudgetWarning)
        if stream:
            message = add_up(await run.stream(model, "hi"))
        else:
            message = await run.invoke(model, "hi")
    assert "thinking_exhausted_budget" not in message.response_metadata
    assert message.content == "Paris"


def _check(error: BaseException | None) -> None:
    assert isinstance(error, PowerTokensThinkingBudgetExceededError)
    assert isinstance(error, ThinkingBudgetExceededError)
    assert isinstance(error, OutputParserException)
    text = str(error)
    assert "max_tokens" in text
    assert "thinking=False" in text
    assert "CityInfo" in text
    assert error.reasoning_tokens == 16


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_with_structured_output_raises_the_budget_error(
    run: Run, server: HostileServer, model: ChatPowerTokens, stream: bool
) -> None:
    server.script(streamed() if stream else whole())
    structured = model.with_structured_output(CityInfo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThinkingBudgetWarning)
        if stream:
            _, error = await run.stream_until_error(structured, "Paris?")
        else:
            error = None
            try:
                await run.invoke(structured, "Paris?")
            except Exception as exc:
                error = exc
    _check(error)


async def test_include_raw_reports_it_as_the_parsing_error(
    run: Run, server: HostileServer, model: ChatPowerTokens
) -> None:
    server.script(whole())
    structured = model.with_structured_output(CityInfo, include_raw=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThinkingBudgetWarning)
        result: Any = await run.invoke(structured, "Paris?")
    assert result["parsed"] is None
    _check(result["parsing_error"])
    assert result["raw"].response_metadata["thinking_exhausted_budget"] is True


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_response_format_raises_the_budget_error(
    run: Run, server: HostileServer, model: ChatPowerTokens, stream: bool
) -> None:
    server.script(streamed() if stream else whole())
    bound = model.bind(response_format=CityInfo)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ThinkingBudgetWarning)
        if stream:
            _, error = await run.stream_until_error(bound, "Paris?")
        else:
            error = None
            try:
                await run.invoke(bound, "Paris?")
            except Exception as exc:
                error = exc
    _check(error)
