"""``ChatPowerTokens.fallback_models``: invoke and stream, sync and async, over loopback.

A fault limited to one model (``model=<name>``) overloads it; ``retry-after-ms=1``
keeps the retries fast. Attempts are counted at the emulator.
"""

from __future__ import annotations

import pytest
from langchain_core.messages import AIMessage

import langchain_powertokens as lp
from powertokens.emulator import Emulator

from .conftest import Factory
from .helpers import Run, add_up

PROMPT = "Explain vector databases in three sentences."
ATTEMPTS = 2  # max_retries=1: two per model


def models(emu: Emulator) -> list[str]:
    return [r["json"]["model"] for r in emu.requests]


def overload(emu: Emulator, model: str, spec: str = "429:1312") -> None:
    emu.push_fault(f"{spec}:retry-after-ms=1,model={model}", times=ATTEMPTS)


async def answer(run: Run, model: lp.ChatPowerTokens, stream: bool, **kwargs: object) -> AIMessage:
    if stream:
        chunks = await run.stream(model, PROMPT, **kwargs)
        return AIMessage(**add_up(chunks).model_dump(exclude={"type", "tool_call_chunks"}))
    result = await run.invoke(model, PROMPT, **kwargs)
    assert isinstance(result, AIMessage)
    return result


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
async def test_falls_back_and_says_which_model_answered(
    run: Run, make_model: Factory, emu: Emulator, stream: bool
) -> None:
    model = make_model(model="glm-5", max_retries=1, fallback_models=["glm-4.7"])
    overload(emu, "glm-5")
    message = await answer(run, model, stream)
    assert message.content
    assert message.response_metadata["model_name"] == "glm-4.7"
    assert message.response_metadata["fallback_from"] == ["glm-5"]
    assert models(emu) == ["glm-5"] * ATTEMPTS + ["glm-4.7"]


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
async def test_per_call_keyword(run: Run, make_model: Factory, emu: Emulator, stream: bool) -> None:
    model = make_model(model="glm-5", max_retries=1)
    overload(emu, "glm-5")
    message = await answer(run, model, stream, fallback_models=["glm-4.7"])
    assert message.response_metadata["fallback_from"] == ["glm-5"]
    emu.reset()
    message = await answer(run, model, stream)
    assert "fallback_from" not in message.response_metadata  # the model asked for answered


@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
async def test_all_overloaded_raises_naming_the_models(
    run: Run, make_model: Factory, emu: Emulator, stream: bool
) -> None:
    model = make_model(model="glm-5", max_retries=1, fallback_models=["glm-4.7"])
    overload(emu, "glm-5")
    overload(emu, "glm-4.7")
    with pytest.raises(lp.PowerTokensModelOverloadedError, match=r"glm-5, glm-4\.7"):
        await answer(run, model, stream)
    assert models(emu) == ["glm-5"] * ATTEMPTS + ["glm-4.7"] * ATTEMPTS


@pytest.mark.parametrize("spec", ["429:1311", "429:1313", "quota:1310", "401:1001", "400:1301"])
@pytest.mark.parametrize("stream", [False, True], ids=["invoke", "stream"])
async def test_no_fallback_on_other_errors(
    run: Run, make_model: Factory, emu: Emulator, stream: bool, spec: str
) -> None:
    model = make_model(model="glm-5", max_retries=1, fallback_models=["glm-4.7"])
    overload(emu, "glm-5", spec)
    with pytest.raises(Exception) as caught:  # noqa: PT011 (the type is the spec's)
        await answer(run, model, stream)
    assert not isinstance(caught.value, lp.PowerTokensModelOverloadedError)
    assert set(models(emu)) == {"glm-5"}


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"fallback_models": "glm-4.7"}, "fallback_models"),
        ({"fallback_models": ["glm-4.7", "glm-4.7"]}, "fallback_models"),
        ({"fallback_models": [""]}, "fallback_models"),
        ({"fallback_models": ["glm-4.5-air"], "max_tokens": 100_000}, "max_tokens"),
    ],
)
def test_bad_lists_are_refused_at_construction(
    make_model: Factory, kwargs: dict[str, object], field: str
) -> None:
    with pytest.raises(lp.PowerTokensRequestValidationError) as caught:
        make_model(model="glm-5", **kwargs)
    assert caught.value.field == field
    assert "fallback_models" in str(caught.value)
