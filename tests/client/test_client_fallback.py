"""``fallback_models``: the next model once the one asked for stays overloaded (1312).

Sync and async, chat and stream, over loopback against the emulator; a fault limited to
one model (``model=<name>``) overloads it while the others answer. Attempts are counted
at the emulator.
"""

from __future__ import annotations

import dataclasses
import pickle
from typing import Any

import pytest

from powertokens import (
    AsyncPowerTokens,
    DeadlineExceededError,
    ModelOverloadedError,
    PowerTokens,
    PowerTokensError,
    RequestValidationError,
    Timeout,
)
from powertokens.emulator import Emulator

from .conftest import FAST_RETRIES, KEY, Api

MESSAGES = [{"role": "user", "content": "Explain vector databases in three sentences."}]
ATTEMPTS = 1 + FAST_RETRIES.max_retries  # per model


def models(emu: Emulator) -> list[str]:
    return [r["json"]["model"] for r in emu.requests]


def overload(emu: Emulator, model: str, times: int = ATTEMPTS) -> None:
    emu.push_fault(f"429:1312,model={model}", times=times)


async def call(api: Api, stream: bool, **params: Any) -> Any:
    """The completion of a chat or a stream, or raise the error that ended it."""
    if not stream:
        return await api.chat(MESSAGES, **params)
    _, completion, error = await api.stream(MESSAGES, **params)
    if error is not None:
        raise error
    return completion


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_falls_back_after_the_retries(api: Api, emu: Emulator, stream: bool) -> None:
    overload(emu, "glm-5")
    completion = await call(api, stream, model="glm-5", fallback_models=["glm-4.7"])
    assert completion.content
    assert completion.model == "glm-4.7"
    assert completion.fallback_from == ["glm-5"]
    assert models(emu) == ["glm-5"] * ATTEMPTS + ["glm-4.7"]
    assert "fallback_from" not in completion.model_dump()  # not part of the wire format


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_each_model_has_its_own_retries(api: Api, emu: Emulator, stream: bool) -> None:
    overload(emu, "glm-5")
    overload(emu, "glm-4.7")
    completion = await call(api, stream, model="glm-5", fallback_models=["glm-4.7", "glm-4.5-air"])
    assert completion.model == "glm-4.5-air"
    assert completion.fallback_from == ["glm-5", "glm-4.7"]
    assert models(emu) == ["glm-5"] * ATTEMPTS + ["glm-4.7"] * ATTEMPTS + ["glm-4.5-air"]


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_all_overloaded_raises_the_last_error_naming_the_models(
    api: Api, emu: Emulator, stream: bool
) -> None:
    overload(emu, "glm-5")
    overload(emu, "glm-4.7")
    with pytest.raises(ModelOverloadedError) as caught:
        await call(api, stream, model="glm-5", fallback_models=["glm-4.7"])
    assert caught.value.models_tried == ("glm-5", "glm-4.7")
    assert "glm-5, glm-4.7" in str(caught.value)
    assert caught.value.suggested_model == "glm-4.5-air"  # the last model's message
    assert models(emu) == ["glm-5"] * ATTEMPTS + ["glm-4.7"] * ATTEMPTS


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_the_answering_first_model_records_nothing(
    api: Api, emu: Emulator, stream: bool
) -> None:
    overload(emu, "glm-5", times=ATTEMPTS - 1)  # the last retry answers
    completion = await call(api, stream, model="glm-5", fallback_models=["glm-4.7"])
    assert completion.model == "glm-5"
    assert completion.fallback_from == []
    assert models(emu) == ["glm-5"] * ATTEMPTS


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_the_suggested_model_is_not_used_unless_listed(
    api: Api, emu: Emulator, stream: bool
) -> None:
    overload(emu, "glm-5")
    with pytest.raises(ModelOverloadedError) as caught:
        await call(api, stream, model="glm-5")
    assert caught.value.suggested_model == "glm-4.7"
    assert caught.value.models_tried == ()
    assert models(emu) == ["glm-5"] * ATTEMPTS


NOT_OVERLOAD = ["429:1311", "403:1311", "429:1313", "quota:1310", "quota:1113", "401:1001",
                "400:1214", "400:1301", "500:1234", "429:1302"]  # fmt: skip


@pytest.mark.parametrize("spec", NOT_OVERLOAD)
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_no_fallback_on_other_errors(
    api: Api, emu: Emulator, stream: bool, spec: str
) -> None:
    emu.push_fault(f"{spec},model=glm-5", times=ATTEMPTS)
    with pytest.raises(PowerTokensError) as caught:
        await call(api, stream, model="glm-5", fallback_models=["glm-4.7"])
    assert not isinstance(caught.value, ModelOverloadedError)
    assert set(models(emu)) == {"glm-5"}  # retried or not, never another model


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_content_filter_finish_does_not_fall_back(
    api: Api, emu: Emulator, stream: bool
) -> None:
    emu.push_fault("finish:sensitive,model=glm-5")
    completion = await call(api, stream, model="glm-5", fallback_models=["glm-4.7"])
    assert completion.finish_reason == "sensitive"
    assert models(emu) == ["glm-5"]


async def test_stream_falls_back_only_before_output(api: Api, emu: Emulator) -> None:
    emu.push_fault("stream-error:1312:after=2,model=glm-5", times=ATTEMPTS)
    deltas, _, error = await api.stream(MESSAGES, model="glm-5", fallback_models=["glm-4.7"])
    assert isinstance(error, ModelOverloadedError)
    assert deltas
    assert error.partial is not None
    assert models(emu) == ["glm-5"]


async def test_stream_error_before_output_falls_back(api: Api, emu: Emulator) -> None:
    emu.push_fault("stream-error:1312,model=glm-5", times=ATTEMPTS)
    completion = await call(api, True, model="glm-5", fallback_models=["glm-4.7"])
    assert completion.model == "glm-4.7"
    assert completion.fallback_from == ["glm-5"]
    assert models(emu) == ["glm-5"] * ATTEMPTS + ["glm-4.7"]


@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_client_setting_and_per_call_override(emu: Emulator, mode: str, stream: bool) -> None:
    sync = PowerTokens(api_key=KEY, base_url=emu.url, fallback_models=["glm-4.7"])
    async_ = AsyncPowerTokens(api_key=KEY, base_url=emu.url, fallback_models=["glm-4.7"])
    for c in (sync, async_):
        c.retry_policy = FAST_RETRIES
    api = Api(mode, sync, async_)
    try:
        assert api.client.fallback_models == ("glm-4.7",)
        overload(emu, "glm-5")
        completion = await call(api, stream, model="glm-5")
        assert completion.fallback_from == ["glm-5"]
        emu.reset()
        overload(emu, "glm-5")
        with pytest.raises(ModelOverloadedError):  # [] turns it off for one call
            await call(api, stream, model="glm-5", fallback_models=[])
        assert models(emu) == ["glm-5"] * ATTEMPTS
        emu.reset()  # the model asked for is left out of the chain
        overload(emu, "glm-4.7")
        with pytest.raises(ModelOverloadedError) as caught:
            await call(api, stream, model="glm-4.7")
        assert caught.value.models_tried == ()
        assert models(emu) == ["glm-4.7"] * ATTEMPTS
    finally:
        sync.close()
        await async_.close()


@pytest.mark.slow  # waits for the deadline to pass
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_deadline_spans_all_models(api: Api, emu: Emulator, stream: bool) -> None:
    api.client.retry_policy = dataclasses.replace(FAST_RETRIES, max_retries=0)
    emu.push_fault("delay:300,429:1312,model=glm-5")
    emu.push_fault("delay:300,model=glm-4.7")  # alone it would fit in the deadline
    with pytest.raises(DeadlineExceededError):
        await call(
            api, stream, model="glm-5", fallback_models=["glm-4.7"], timeout=Timeout(total=0.45)
        )
    assert models(emu) == ["glm-5", "glm-4.7"]


BAD_LISTS = ["glm-4.7", ["glm-4.7", "glm-4.7"], ["glm-4.7", 5], [""], 7]


@pytest.mark.parametrize("bad", BAD_LISTS)
def test_bad_lists_are_refused_at_construction(bad: Any) -> None:
    for cls in (PowerTokens, AsyncPowerTokens):
        with pytest.raises(RequestValidationError, match="fallback_models"):
            cls(api_key=KEY, base_url="http://127.0.0.1:9", fallback_models=bad)


@pytest.mark.parametrize("bad", BAD_LISTS)
@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_bad_lists_are_refused_per_call_before_sending(
    api: Api, emu: Emulator, stream: bool, bad: Any
) -> None:
    with pytest.raises(RequestValidationError, match="fallback_models"):
        await call(api, stream, model="glm-5", fallback_models=bad)
    assert emu.request_count == 0


@pytest.mark.parametrize("stream", [False, True], ids=["chat", "stream"])
async def test_request_must_suit_every_fallback_model(
    api: Api, emu: Emulator, stream: bool
) -> None:
    with pytest.raises(RequestValidationError) as caught:
        await call(api, stream, model="glm-5", max_tokens=100_000, fallback_models=["glm-4.5-air"])
    assert caught.value.field == "max_tokens"
    assert "96000" in str(caught.value)
    assert "glm-4.5-air" in str(caught.value)
    assert "fallback_models" in str(caught.value)
    assert emu.request_count == 0


async def test_stream_says_before_its_first_delta_which_models_were_overloaded(
    client: PowerTokens, aclient: AsyncPowerTokens, emu: Emulator
) -> None:
    overload(emu, "glm-5")
    with client.stream(MESSAGES, model="glm-5", fallback_models=["glm-4.7"]) as stream:
        assert stream.fallback_from == []
        first = next(iter(stream))
        assert stream.fallback_from == ["glm-5"]
        assert first.model == "glm-4.7"
    overload(emu, "glm-5")
    async with aclient.stream(MESSAGES, model="glm-5", fallback_models=["glm-4.7"]) as astream:
        first = await astream.__anext__()
        assert astream.fallback_from == ["glm-5"]
        assert first.model == "glm-4.7"


def test_with_options_keeps_or_changes_the_list() -> None:
    base = PowerTokens(api_key=KEY, base_url="http://127.0.0.1:9/v1", fallback_models=["glm-4.7"])
    assert base.with_options(max_retries=0).fallback_models == ("glm-4.7",)
    assert base.with_options(fallback_models=None).fallback_models == ()
    with pytest.raises(RequestValidationError, match="fallback_models"):
        base.with_options(fallback_models=["glm-5", "glm-5"])


def test_models_tried_survives_pickling() -> None:
    error = ModelOverloadedError("overloaded", status_code=429, code="1312")
    error.models_tried = ("glm-5", "glm-4.7")
    copy = pickle.loads(pickle.dumps(error))
    assert copy.models_tried == ("glm-5", "glm-4.7")
    assert str(copy) == str(error)
