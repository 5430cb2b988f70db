"""Settings after construction: assignment, copies, pickling, aliases and typos, each
taking effect on the next call (over loopback, against the emulator)."""

from __future__ import annotations

import copy
import logging
import pickle

import pytest

from llama_index_powertokens import PowerTokens
from powertokens import APITimeoutError, RateLimitError, RequestValidationError
from powertokens.emulator import Emulator

from .conftest import KEY, Runner, user

DEAD = "http://127.0.0.1:9/v1"  # nothing listens there


async def test_assigned_settings_take_effect_on_the_next_call(emu: Emulator, run: Runner) -> None:
    llm = PowerTokens(api_key="wrong-key", base_url=DEAD, max_retries=0)
    run = Runner(run.mode, llm)
    llm.api_key = KEY  # a str, as users write it
    llm.api_base = emu.url + "/"  # the alias, trailing slash trimmed
    assert llm.base_url == emu.url
    llm.model = "glm-4.7"
    llm.temperature = 0.3
    llm.max_tokens = 300
    llm.thinking = False
    await run.chat(user("echo: one"))
    body = emu.requests[-1].json
    assert (body["model"], body["temperature"], body["max_tokens"]) == ("glm-4.7", 0.3, 300)
    assert body["thinking"] == {"type": "disabled"}
    llm.temperature = None
    await run.stream_chat(user("echo: two"))
    assert "temperature" not in emu.requests[-1].json
    emu.push_fault("429:1302")
    with pytest.raises(RateLimitError):  # max_retries=0 holds: one request
        await run.chat(user("echo: three"))
    llm.max_retries = 1
    emu.push_fault("429:1302:retry-after-ms=1")
    await run.chat(user("echo: four"))  # retried now
    llm.timeout = 0.1
    emu.push_fault("delay:400", times=2)
    llm.max_retries = 0
    with pytest.raises(APITimeoutError):
        await run.chat(user("echo: five"))
    llm.close()
    await llm.aclose()


def test_bad_assignments_are_refused_before_any_request(llm: PowerTokens, emu: Emulator) -> None:
    with pytest.raises(RequestValidationError) as info:
        llm.temperature = 5
    assert info.value.field == "temperature"
    with pytest.raises(RequestValidationError) as info:
        llm.max_retries = -1
    assert info.value.field == "max_retries"
    with pytest.raises(RequestValidationError, match="did you mean 'temperature'"):
        llm.temprature = 0.2  # type: ignore[attr-defined]
    with pytest.raises(RequestValidationError) as info:
        llm.base_url = "ftp://example.com"
    assert info.value.field == "base_url"
    with pytest.raises(RequestValidationError) as info:
        llm.api_key = 12345  # type: ignore[assignment]
    assert info.value.field == "api_key"
    assert "12345" not in str(info.value)
    llm.chat(user("echo: still fine"))  # nothing was changed by the refused values
    [request] = emu.requests
    assert request.json["model"] == "glm-5-turbo"
    assert "temperature" not in request.json


async def test_model_copy_sends_its_own_settings(run: Runner, emu: Emulator) -> None:
    llm = run.llm
    await run.chat(user("echo: first"))  # request defaults and clients are cached now
    other = llm.model_copy(update={"model": "glm-4.5-air", "temperature": 0.5})
    await Runner(run.mode, other).chat(user("echo: copy"))
    await Runner(run.mode, other).stream_chat(user("echo: copy"))
    for request in emu.requests[1:]:
        assert (request.json["model"], request.json["temperature"]) == ("glm-4.5-air", 0.5)
    assert other.metadata.context_window == 128_000
    assert llm.metadata.context_window == 200_000
    await run.chat(user("echo: original"))
    assert emu.requests[-1].json["model"] == "glm-5-turbo"
    assert "temperature" not in emu.requests[-1].json
    rekeyed = llm.model_copy(update={"api_key": KEY})  # a str: model_copy does not validate
    await Runner(run.mode, rekeyed).chat(user("echo: rekeyed"))
    keyed = llm.model_copy(update={"api_key": None})
    with pytest.raises(RequestValidationError) as info:
        await Runner(run.mode, keyed).chat(user("echo: no key"))
    assert info.value.field == "api_key"
    assert emu.request_count == 5


async def test_deepcopy_after_a_call_is_independent(run: Runner, emu: Emulator) -> None:
    llm = run.llm
    await run.chat(user("echo: warm"))
    await run.stream_chat(user("echo: warm"))
    twin = copy.deepcopy(llm)
    twin.model = "glm-4.7"
    twin.additional_kwargs["user_id"] = "twin"
    await Runner(run.mode, twin).chat(user("echo: twin"))
    assert emu.requests[-1].json["model"] == "glm-4.7"
    assert emu.requests[-1].json["user_id"] == "twin"
    twin.close()
    await twin.aclose()
    await run.chat(user("echo: original"))  # the original's pools are its own
    assert emu.requests[-1].json["model"] == "glm-5-turbo"
    assert "user_id" not in emu.requests[-1].json


async def test_pickling_after_a_call(
    run: Runner, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    llm = run.llm
    llm.temperature = 0.4
    await run.chat(user("echo: warm"))
    with caplog.at_level(logging.WARNING):
        data = pickle.dumps(llm)
    assert not caplog.records  # nothing "unpickleable" dropped with a warning
    clone: PowerTokens = pickle.loads(data)
    assert KEY not in repr(clone)
    await Runner(run.mode, clone).chat(user("echo: clone"))
    assert (emu.requests[-1].json["temperature"], emu.request_count) == (0.4, 2)
    clone.temperature = 0.9
    await run.chat(user("echo: original"))
    assert emu.requests[-1].json["temperature"] == 0.4
    clone.close()
    await clone.aclose()


async def test_aliases_of_other_integrations(emu: Emulator, run: Runner) -> None:
    llm = PowerTokens(
        api_key=KEY,
        api_base=emu.url,
        model_name="glm-4.7",
        request_timeout=30.0,
        max_completion_tokens=200,
    )
    assert (llm.model, llm.timeout, llm.max_tokens) == ("glm-4.7", 30.0, 200)
    llm.model_name = "glm-4.5-air"
    llm.max_completion_tokens = 100
    llm.request_timeout = 20
    assert (llm.model_name, llm.max_tokens, llm.timeout) == ("glm-4.5-air", 100, 20)
    await Runner(run.mode, llm).chat(user("echo: alias"))
    body = emu.requests[-1].json
    assert (body["model"], body["max_tokens"]) == ("glm-4.5-air", 100)
    llm.close()
    await llm.aclose()


def test_unknown_and_conflicting_names_are_refused(emu: Emulator) -> None:
    with pytest.raises(RequestValidationError, match="did you mean 'temperature'") as info:
        PowerTokens(api_key=KEY, temprature=0.2)
    assert info.value.field == "temprature"
    with pytest.raises(RequestValidationError) as info:
        PowerTokens(api_key=KEY, api_kye="pt-secret-typo")
    assert "pt-secret-typo" not in str(info.value)
    with pytest.raises(RequestValidationError, match="alias of 'max_tokens'"):
        PowerTokens(api_key=KEY, max_tokens=10, max_completion_tokens=20)
    with pytest.raises(RequestValidationError) as info:
        PowerTokens(api_key=KEY, max_retries=-1)
    assert info.value.field == "max_retries"
    llm = PowerTokens(api_key=KEY, base_url=emu.url)
    with pytest.raises(RequestValidationError, match="did you mean 'temperature'"):
        llm.chat(user("echo: hi"), temprature=0.2)  # per call too
    llm.chat(user("echo: hi"), user_id="u-1")  # other unknown names join the body
    assert emu.request_count == 1
    assert emu.requests[0].json["user_id"] == "u-1"
    llm.chat(user("echo: hi"), model_name="glm-4.7", max_completion_tokens=50)
    assert (emu.requests[1].json["model"], emu.requests[1].json["max_tokens"]) == ("glm-4.7", 50)
    assert "model_name" not in emu.requests[1].json
    llm.close()


def test_llamahub_import_path() -> None:
    import llama_index_powertokens
    from llama_index.llms.powertokens import PowerTokens as FromLlamaHub
    from llama_index.llms.powertokens import ToolCallArgumentsError

    assert FromLlamaHub is PowerTokens
    assert ToolCallArgumentsError is llama_index_powertokens.ToolCallArgumentsError
