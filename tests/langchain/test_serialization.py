"""``dumps``/``loads``: a saved model (or a chain holding one) comes back with the same
settings and works; the API key is never in the dump, only a reference to
``POWERTOKENS_API_KEY`` that ``secrets_map`` (or ``secrets_from_env``) fills."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from langchain_core.load import dumpd, dumps, loads
from langchain_core.prompts import ChatPromptTemplate

import langchain_powertokens as lp
from langchain_powertokens import ChatPowerTokens
from powertokens import Timeout
from powertokens.emulator import Emulator

from .conftest import KEY, Factory
from .helpers import Run, add_up

pytestmark = pytest.mark.filterwarnings("ignore:The function `loads` is in beta")

LOAD: dict[str, Any] = {
    "valid_namespaces": ["langchain_powertokens"],
    "allowed_objects": [ChatPowerTokens],
}
CHAIN_LOAD: dict[str, Any] = {
    "valid_namespaces": ["langchain_powertokens"],
    "allowed_objects": "all",
    "additional_import_mappings": {
        tuple(ChatPowerTokens.lc_id()): tuple(ChatPowerTokens.lc_id()),
    },
}

SETTINGS: dict[str, Any] = {
    "model": "glm-4.7",
    "temperature": 0.2,
    "top_p": 0.9,
    "max_tokens": 300,
    "stop": ["STOP", "END"],
    "thinking": {"type": "disabled"},
    "timeout": Timeout(connect=3.0, read=40.0, stream_idle=20.0, write=5.0, pool=7.0),
    "max_retries": 4,
    "max_concurrent_requests": 3,
    "streaming": True,
    "default_headers": {"X-Trace": "t-1"},
    "model_kwargs": {"user_id": "u-1"},
    "extra_body": {"request_id": "r-1"},
    "send_reasoning": False,
    "nudge_tool_choice": False,
}


def settings(model: ChatPowerTokens) -> dict[str, Any]:
    return {name: getattr(model, name) for name in SETTINGS} | {"base_url": model.base_url}


async def test_loads_gives_back_an_equivalent_working_model(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    model = make_model(**SETTINGS)
    text = dumps(model)
    assert KEY not in text
    assert "not_implemented" not in text
    assert json.loads(text)["kwargs"]["api_key"] == {
        "lc": 1,
        "type": "secret",
        "id": ["POWERTOKENS_API_KEY"],
    }
    clone = loads(text, secrets_map={"POWERTOKENS_API_KEY": KEY}, **LOAD)
    make_model.built.append(clone)
    assert isinstance(clone, ChatPowerTokens)
    assert clone.api_key is not None
    assert clone.api_key.get_secret_value() == KEY
    assert settings(clone) == settings(model)
    assert dumps(clone) == text
    message = await run.invoke(clone, "echo:Alpha beta. STOP gamma")
    assert message.text == "Alpha beta. "
    body = emu.requests[-1]["json"]
    assert body["model"] == "glm-4.7"
    assert body["user_id"] == "u-1"
    assert body["request_id"] == "r-1"
    assert emu.requests[-1]["headers"]["x-trace"] == "t-1"
    chunks = await run.stream(clone, "echo:Alpha beta. END gamma")
    assert add_up(chunks).text == "Alpha beta. "


async def test_a_saved_chain_loads_with_the_model_in_it(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    prompt = ChatPromptTemplate.from_messages([("human", "echo:{text}")])
    chain = prompt | make_model(stop=["STOP"])
    text = dumps(chain)
    assert KEY not in text
    assert "not_implemented" not in text
    loaded = loads(text, secrets_map={"POWERTOKENS_API_KEY": KEY}, **CHAIN_LOAD)
    model = loaded.last
    make_model.built.append(model)
    assert isinstance(model, ChatPowerTokens)
    assert (await run.invoke(loaded, {"text": "One two. STOP three"})).text == "One two. "


async def test_without_the_secret_the_key_comes_from_the_environment_or_fails_as_auth(
    run: Run, make_model: Factory, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = dumps(make_model())
    monkeypatch.delenv("POWERTOKENS_API_KEY", raising=False)
    keyless = loads(text, **LOAD)
    assert keyless.api_key is None
    with pytest.raises(lp.PowerTokensAuthenticationError):
        await run.invoke(keyless, "Hello")
    assert emu.request_count == 0
    monkeypatch.setenv("POWERTOKENS_API_KEY", KEY)
    from_env = loads(text, secrets_from_env=True, **LOAD)
    make_model.built.append(from_env)
    assert (await run.invoke(from_env, "Hello")).text
    await keyless.aclose()


def test_timeouts_of_every_form_survive_a_round_trip() -> None:
    for timeout, expected in [
        (12.5, 12.5),
        (Timeout(read=30.0), Timeout(read=30.0)),
        (httpx.Timeout(4.0, read=9.0), Timeout.coerce(httpx.Timeout(4.0, read=9.0))),
    ]:
        model = ChatPowerTokens(api_key=KEY, timeout=timeout)
        clone = loads(dumps(model), secrets_map={"POWERTOKENS_API_KEY": KEY}, **LOAD)
        assert clone.timeout == expected
    with pytest.raises(lp.PowerTokensRequestValidationError, match="timeout"):
        ChatPowerTokens(api_key=KEY, timeout={"reed": 3})


def test_the_key_is_never_in_the_dump_whatever_name_it_came_by(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("POWERTOKENS_API_KEY", KEY)
    models = [
        ChatPowerTokens(),
        ChatPowerTokens(api_key=KEY),
        ChatPowerTokens(openai_api_key=KEY),
    ]
    for model in models:
        assert model.api_key is not None
        assert model.api_key.get_secret_value() == KEY
        for text in (dumps(model), json.dumps(dumpd(model)), dumps(model.bind(stop=["x"]))):
            assert KEY not in text
            assert "POWERTOKENS_API_KEY" in text


def test_transport_objects_are_left_out() -> None:
    with httpx.Client() as client:
        model = ChatPowerTokens(api_key=KEY, http_client=client)
        kwargs = dumpd(model)["kwargs"]
    assert "http_client" not in kwargs
    assert "http_async_client" not in kwargs
