"""A model registered with ``powertokens.register_model`` reaches the LlamaIndex
``metadata`` (also when registered after the LLM was built), its output limit is
enforced before sending, and its name goes through as it is (real loopback HTTP, sync
and async, stream and not)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from llama_index_powertokens import PowerTokens
from powertokens import ModelInfo, RequestValidationError, _catalog, register_model
from tests.hostile import (
    HostileServer,
    Step,
    completion,
    completion_chunk,
    json_response,
    sse_stream,
)

from .conftest import KEY, Runner, user

NEW = ModelInfo("glm-5.1", context_window=300_000, max_output_tokens=4_096)


@pytest.fixture(autouse=True)
def _restore_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations are process-wide: each test gets the catalog back as it found it."""
    monkeypatch.setattr(_catalog, "_table", dict(_catalog._table))


@pytest.fixture
async def server() -> AsyncIterator[HostileServer]:
    with HostileServer() as s:
        yield s


def answer(stream: bool) -> list[Step]:
    if stream:
        return sse_stream(completion_chunk("ok"), completion_chunk(finish="stop"))
    return [json_response(200, completion())]


def test_metadata_reads_the_registered_entry_even_after_construction() -> None:
    llm = PowerTokens(api_key=KEY, model="glm-5.1", max_tokens=2_000)
    assert llm.metadata.context_window == 128_000  # unknown: conservative, as before
    register_model(
        ModelInfo("glm-5.1", context_window=300_000, max_output_tokens=4_096, supports_tools=False)
    )
    meta = llm.metadata
    assert meta.context_window == 300_000
    assert meta.num_output == 2_000
    assert meta.is_function_calling_model is False
    assert meta.model_name == "glm-5.1"
    assert llm.metadata is meta  # cached while nothing changes
    register_model(NEW, replace=True)
    assert llm.metadata.is_function_calling_model is True


def test_metadata_of_a_built_in_model_follows_new_facts() -> None:
    llm = PowerTokens(api_key=KEY, model="glm-4.7")
    assert llm.metadata.context_window == 200_000
    register_model(ModelInfo("glm-4.7", 64_000, 8_000), replace=True)
    assert llm.metadata.context_window == 64_000


def test_the_output_limit_fails_at_construction() -> None:
    register_model(NEW)
    with pytest.raises(RequestValidationError) as caught:
        PowerTokens(api_key=KEY, model="glm-5.1", max_tokens=4_097)
    assert caught.value.field == "max_tokens"


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_a_registered_model_is_checked_before_sending_and_sent_by_name(
    server: HostileServer, mode: str, stream: bool
) -> None:
    # Built before the registration, with a max_tokens the new entry refuses.
    llm = PowerTokens(
        api_key=KEY, base_url=server.url, model="glm-5.1", max_tokens=5_000, max_retries=0
    )
    run = Runner(mode, llm)
    register_model(NEW)
    send = run.stream_chat if stream else run.chat
    try:
        with pytest.raises(RequestValidationError) as caught:
            await send(user("hi"))
        assert caught.value.field == "max_tokens"
        assert server.requests == []

        llm.max_tokens = 4_096
        server.script(answer(stream))
        got = await send(user("hi"))
    finally:
        llm.close()
        await llm.aclose()
    text = got[-1].message.content if isinstance(got, list) else got.message.content
    assert text == "ok"
    sent = server.requests[0].json()
    assert (sent["model"], sent["max_tokens"]) == ("glm-5.1", 4_096)
