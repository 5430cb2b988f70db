"""The thinking budget against the emulator (not a scripted server): its reasoning spends
``max_tokens`` first, so a small budget gives a reasoning-only ``length`` answer that the
core flags and warns about, sync and async, whole and streamed."""

from __future__ import annotations

import warnings

import pytest

from powertokens import ThinkingBudgetWarning
from powertokens.emulator import Emulator

from .conftest import Api

QUESTION = [{"role": "user", "content": "What is the capital of France?"}]


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "stream"])
async def test_a_small_max_tokens_with_thinking_is_used_up_by_the_reasoning(
    api: Api, emu: Emulator, stream: bool
) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        if stream:
            _, answer, error = await api.stream(QUESTION, max_tokens=4, thinking=True)
            assert error is None
        else:
            answer = await api.chat(QUESTION, max_tokens=4, thinking=True)
    assert answer is not None
    assert answer.thinking_exhausted_budget is True
    assert (answer.content, answer.finish_reason) == ("", "length")
    assert answer.reasoning_content
    assert answer.usage is not None
    assert answer.usage.completion_tokens == 4
    assert len([w for w in caught if issubclass(w.category, ThinkingBudgetWarning)]) == 1
    assert emu.requests[-1].json["max_tokens"] == 4
