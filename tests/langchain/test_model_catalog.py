"""A model registered with ``powertokens.register_model`` reaches the LangChain profile,
its output limit is enforced at construction and per call before sending, and its name
goes through as it is (real loopback HTTP, sync and async, stream and not)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

import langchain_powertokens as lp
from langchain_powertokens import ChatPowerTokens
from powertokens import ModelInfo, RequestValidationError, _catalog, register_model
from tests.hostile import (
    HostileServer,
    Step,
    completion,
    completion_chunk,
    json_response,
    sse_stream,
)

from .conftest import KEY

NEW = ModelInfo("glm-5.1", context_window=300_000, max_output_tokens=4_096, supports_images=False)


@pytest.fixture(autouse=True)
def _restore_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations are process-wide: each test gets the catalog back as it found it."""
    monkeypatch.setattr(_catalog, "_table", dict(_catalog._table))


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as s:
        yield s


def answer(stream: bool) -> list[Step]:
    if stream:
        return sse_stream(completion_chunk("ok"), completion_chunk(finish="stop"))
    return [json_response(200, completion())]


async def call(llm: ChatPowerTokens, mode: str, **kwargs: Any) -> str:
    if mode == "invoke":
        return str(llm.invoke("hi", **kwargs).content)
    if mode == "ainvoke":
        return str((await llm.ainvoke("hi", **kwargs)).content)
    if mode == "stream":
        return "".join(str(c.content) for c in llm.stream("hi", **kwargs))
    return "".join([str(c.content) async for c in llm.astream("hi", **kwargs)])


def test_the_profile_reads_the_registered_entry() -> None:
    before = ChatPowerTokens(api_key=KEY, model="glm-5.1").profile
    assert before is not None
    assert before["max_input_tokens"] == 128_000  # unknown: conservative, as before
    register_model(NEW)
    profile = ChatPowerTokens(api_key=KEY, model="glm-5.1").profile
    assert profile is not None
    assert profile["max_input_tokens"] == 300_000
    assert profile["max_output_tokens"] == 4_096
    assert profile["image_inputs"] is False
    assert profile["tool_calling"] is True


def test_the_output_limit_fails_at_construction() -> None:
    register_model(NEW)
    with pytest.raises(lp.PowerTokensRequestValidationError) as caught:
        ChatPowerTokens(api_key=KEY, model="glm-5.1", max_tokens=4_097)
    assert caught.value.field == "max_tokens"
    assert "4096" in str(caught.value)


@pytest.mark.parametrize("mode", ["invoke", "ainvoke", "stream", "astream"])
async def test_a_registered_model_is_checked_per_call_and_sent_by_name(
    server: HostileServer, mode: str
) -> None:
    register_model(NEW)
    llm = ChatPowerTokens(api_key=KEY, base_url=server.url, model="glm-5.1", max_retries=0)
    with pytest.raises(RequestValidationError) as caught:
        await call(llm, mode, max_tokens=4_097)
    assert caught.value.field == "max_tokens"
    assert server.requests == []

    server.script(answer(mode.endswith("stream")))
    try:
        assert await call(llm, mode, max_tokens=4_096) == "ok"
    finally:
        await llm.aclose()
    sent = server.requests[0].json()
    assert (sent["model"], sent["max_tokens"]) == ("glm-5.1", 4_096)
