"""A model registered at run time is enforced by the client before anything is sent,
and its name goes through as it is (real loopback HTTP, sync and async, stream and not).

The emulator serves the five built-in models only, as the service does; a new name is
sent to the scripted server of ``tests/hostile.py``, which answers any model."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from powertokens import (
    AsyncPowerTokens,
    ModelInfo,
    PowerTokens,
    RequestValidationError,
    _catalog,
    register_model,
)
from powertokens.emulator import Emulator
from tests.hostile import (
    HostileServer,
    Step,
    completion,
    completion_chunk,
    json_response,
    sse_stream,
)

from .conftest import KEY

USER = [{"role": "user", "content": "hi"}]
NEW = ModelInfo("glm-5.1", context_window=300_000, max_output_tokens=4_096)


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


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
def test_a_registered_models_output_limit_is_refused_before_sending_sync(
    server: HostileServer, stream: bool
) -> None:
    register_model(NEW)
    with PowerTokens(api_key=KEY, base_url=server.url, max_retries=0) as client:
        start = client.stream if stream else client.chat
        with pytest.raises(RequestValidationError) as caught:
            start(USER, model="glm-5.1", max_tokens=4_097)
        assert caught.value.field == "max_tokens"
        assert "<= 4096 for glm-5.1" in str(caught.value)
        assert server.requests == []

        server.script(answer(stream))
        if stream:
            with client.stream(USER, model="glm-5.1", max_tokens=4_096) as events:
                text = "".join(d.content for d in events)
        else:
            text = client.chat(USER, model="glm-5.1", max_tokens=4_096).content
    assert text == "ok"
    sent = server.requests[0].json()
    assert (sent["model"], sent["max_tokens"]) == ("glm-5.1", 4_096)


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_a_registered_models_output_limit_is_refused_before_sending_async(
    server: HostileServer, stream: bool
) -> None:
    register_model(NEW)
    client = AsyncPowerTokens(api_key=KEY, base_url=server.url, max_retries=0)

    async def too_many() -> None:
        if stream:
            client.stream(USER, model="glm-5.1", max_tokens=4_097)
        else:
            await client.chat(USER, model="glm-5.1", max_tokens=4_097)

    try:
        with pytest.raises(RequestValidationError) as caught:
            await too_many()
        assert caught.value.field == "max_tokens"
        assert server.requests == []

        server.script(answer(stream))
        if stream:
            async with client.stream(USER, model="glm-5.1", max_tokens=4_096) as events:
                text = "".join([d.content async for d in events])
        else:
            text = (await client.chat(USER, model="glm-5.1", max_tokens=4_096)).content
    finally:
        await client.close()
    assert text == "ok"
    assert server.requests[0].json()["model"] == "glm-5.1"


def test_new_facts_for_a_built_in_model_take_effect_and_the_emulator_keeps_its_own(
    emu: Emulator, client: PowerTokens
) -> None:
    register_model(ModelInfo("glm-4.7", 200_000, 1_000), replace=True)
    with pytest.raises(RequestValidationError, match=r"<= 1000 for glm-4\.7"):
        client.chat(USER, model="glm-4.7", max_tokens=1_001)
    assert emu.requests == []
    # The emulator answers as the service does: its limits are the built-in ones.
    assert client.chat(USER, model="glm-4.7", max_tokens=1_000).model == "glm-4.7"
    assert emu.requests[0].json["max_tokens"] == 1_000


async def test_new_facts_for_a_built_in_model_take_effect_async(
    emu: Emulator, aclient: AsyncPowerTokens
) -> None:
    register_model(ModelInfo("glm-4.5-air", 128_000, 500), replace=True)
    with pytest.raises(RequestValidationError, match=r"<= 500 for glm-4\.5-air"):
        await aclient.chat(USER, model="glm-4.5-air", max_tokens=501)
    assert emu.requests == []
    assert (await aclient.chat(USER, model="glm-4.5-air", max_tokens=500)).model == "glm-4.5-air"
