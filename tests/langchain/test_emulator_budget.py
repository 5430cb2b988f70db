"""The thinking budget against the emulator (not a scripted server): a small
``max_tokens`` with thinking on is used up by the reasoning, so ``ChatPowerTokens`` flags
the answer and structured output raises the budget error."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from langchain_powertokens import PowerTokensThinkingBudgetExceededError

from .conftest import Factory
from .helpers import Run

QUIET = pytest.mark.filterwarnings("ignore::powertokens.ThinkingBudgetWarning")


class CityInfo(BaseModel):
    """Facts about a city."""

    city: str
    country: str


@QUIET
async def test_the_reasoning_uses_up_a_small_max_tokens(run: Run, make_model: Factory) -> None:
    model = make_model(max_tokens=4, thinking=True)
    message = await run.invoke(model, "What is the capital of France?")
    assert message.content == ""
    assert message.response_metadata["thinking_exhausted_budget"] is True
    assert message.response_metadata["finish_reason"] == "length"
    structured = model.with_structured_output(CityInfo)
    with pytest.raises(PowerTokensThinkingBudgetExceededError):
        await run.invoke(structured, "Lyon is a city in France.")
