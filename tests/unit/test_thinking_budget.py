"""Which answers count as "the thinking used up max_tokens" (pure, no sockets)."""

from __future__ import annotations

import pickle
import warnings
from typing import Any

import pytest

from powertokens import (
    ChatCompletion,
    PowerTokensError,
    ThinkingBudgetExceededError,
    ThinkingBudgetWarning,
)
from powertokens._budget import warn_if_exhausted

CALL = [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": "{"}}]


def answer(finish: str | None, **message: Any) -> ChatCompletion:
    return ChatCompletion.model_validate(
        {"choices": [{"message": {"role": "assistant", **message}, "finish_reason": finish}]}
    )


@pytest.mark.parametrize(
    ("completion", "exhausted"),
    [
        (answer("length", reasoning_content="thinking", content=""), True),
        (answer("length", reasoning_content="thinking", content=None), True),
        (answer("length", reasoning_content="thinking"), True),
        (answer("length", reasoning_content="thinking", content="Hi"), False),
        (answer("length", reasoning_content="thinking", tool_calls=CALL), False),
        (answer("length", content=""), False),  # no thinking: an ordinary cut-off
        (answer("stop", reasoning_content="thinking", content=""), False),
        (answer(None, reasoning_content="thinking"), False),
        (ChatCompletion(), False),
    ],
)
def test_the_flag(completion: ChatCompletion, exhausted: bool) -> None:
    assert completion.thinking_exhausted_budget is exhausted
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        assert warn_if_exhausted(completion) is completion
    assert len([w for w in caught if w.category is ThinkingBudgetWarning]) == int(exhausted)


def test_the_flag_is_not_serialized() -> None:
    completion = answer("length", reasoning_content="thinking")
    assert "thinking_exhausted_budget" not in completion.model_dump()


def test_the_error_names_max_tokens_and_the_remedy() -> None:
    error = ThinkingBudgetExceededError("call of the CityInfo tool", 512)
    assert isinstance(error, PowerTokensError)
    text = str(error)
    assert "CityInfo" in text
    assert "max_tokens (512 reasoning tokens)" in text
    assert "thinking=False" in text
    copy = pickle.loads(pickle.dumps(error))
    assert (str(copy), copy.reasoning_tokens) == (text, 512)
    assert issubclass(ThinkingBudgetWarning, UserWarning)
