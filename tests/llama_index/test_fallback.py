"""``PowerTokens.fallback_models``: chat/complete and their streams, sync and async.

A fault limited to one model (``model=<name>``) overloads it; ``retry-after-ms=1``
keeps the retries fast. Attempts are counted at the emulator.
"""

from __future__ import annotations

from typing import Any

import pytest

import powertokens
from llama_index_powertokens import PowerTokens
from powertokens.emulator import Emulator

from .conftest import Runner, user

PROMPT = "Explain vector databases in three sentences."
ATTEMPTS = 2  # max_retries=1: two per model
METHODS = ["chat", "stream_chat", "complete", "stream_complete"]


def models(emu: Emulator) -> list[str]:
    return [r["json"]["model"] for r in emu.requests]


def overload(emu: Emulator, model: str, spec: str = "429:1312") -> None:
    emu.push_fault(f"{spec}:retry-after-ms=1,model={model}", times=ATTEMPTS)


async def last(run: Runner, method: str, **kwargs: Any) -> Any:
    """The response (a stream's last) of ``method``."""
    if method == "chat":
        return await run.chat(user(PROMPT), **kwargs)
    if method == "stream_chat":
        return (await run.stream_chat(user(PROMPT), **kwargs))[-1]
    if method == "complete":
        return await run.complete(PROMPT, **kwargs)
    return (await run.stream_complete(PROMPT, **kwargs))[-1]


@pytest.fixture
def fast(run: Runner) -> Runner:
    run.llm.model = "glm-5"
    run.llm.max_retries = 1
    return run


@pytest.mark.parametrize("method", METHODS)
async def test_falls_back_and_says_which_model_answered(
    fast: Runner, emu: Emulator, method: str
) -> None:
    fast.llm.fallback_models = ["glm-4.7"]
    overload(emu, "glm-5")
    response = await last(fast, method)
    assert response.additional_kwargs["fallback_from"] == ["glm-5"]
    assert response.additional_kwargs["model"] == "glm-4.7"
    if not method.startswith("stream"):
        assert response.raw.fallback_from == ["glm-5"]
    assert models(emu) == ["glm-5"] * ATTEMPTS + ["glm-4.7"]


@pytest.mark.parametrize("method", METHODS)
async def test_per_call_keyword(fast: Runner, emu: Emulator, method: str) -> None:
    overload(emu, "glm-5")
    response = await last(fast, method, fallback_models=["glm-4.7"])
    assert response.additional_kwargs["fallback_from"] == ["glm-5"]
    emu.reset()
    response = await last(fast, method)
    assert "fallback_from" not in response.additional_kwargs
    assert models(emu) == ["glm-5"]


@pytest.mark.parametrize("method", METHODS)
async def test_all_overloaded_raises_naming_the_models(
    fast: Runner, emu: Emulator, method: str
) -> None:
    fast.llm.fallback_models = ["glm-4.7"]
    overload(emu, "glm-5")
    overload(emu, "glm-4.7")
    with pytest.raises(powertokens.ModelOverloadedError) as caught:
        await last(fast, method)
    assert caught.value.models_tried == ("glm-5", "glm-4.7")
    assert models(emu) == ["glm-5"] * ATTEMPTS + ["glm-4.7"] * ATTEMPTS


@pytest.mark.parametrize("spec", ["429:1311", "429:1313", "quota:1310", "401:1001", "400:1301"])
@pytest.mark.parametrize("method", ["chat", "stream_chat"])
async def test_no_fallback_on_other_errors(
    fast: Runner, emu: Emulator, method: str, spec: str
) -> None:
    fast.llm.fallback_models = ["glm-4.7"]
    overload(emu, "glm-5", spec)
    with pytest.raises(powertokens.PowerTokensError) as caught:
        await last(fast, method)
    assert not isinstance(caught.value, powertokens.ModelOverloadedError)
    assert set(models(emu)) == {"glm-5"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fallback_models": ["glm-4.7", "glm-4.7"]}, "fallback_models"),
        ({"fallback_models": [""]}, "fallback_models"),
        ({"fallback_models": ["glm-4.5-air"], "max_tokens": 100_000}, "max_tokens"),
    ],
)
def test_bad_lists_are_refused_at_construction(
    emu: Emulator, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(powertokens.RequestValidationError) as caught:
        PowerTokens(model="glm-5", api_key="k", base_url=emu.url, **kwargs)
    assert caught.value.field == field
    assert "fallback_models" in str(caught.value)


def test_a_string_is_not_a_list(emu: Emulator) -> None:
    with pytest.raises(powertokens.RequestValidationError, match="fallback_models"):
        PowerTokens(model="glm-5", api_key="k", base_url=emu.url, fallback_models="glm-4.7")
