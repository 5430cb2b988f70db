"""The thinking budget guard: an answer whose thinking used up ``max_tokens``.

A thinking model writes its reasoning first, and the reasoning counts against
``max_tokens``. When it uses the whole budget, the answer ends with
``finish_reason="length"``, reasoning, and no text and no tool call: nothing to use.
The core tells the caller once per such answer, where the answer becomes final
(``chat()`` returning, a stream reaching its end): a :class:`ThinkingBudgetWarning`
(the ``warnings`` filters decide how often it shows) and the completion's
``thinking_exhausted_budget`` flag. Code that needs the answer (structured output, a
required tool call) raises :class:`ThinkingBudgetExceededError` instead of failing to
decode an empty answer.

The remedy: a larger ``max_tokens``, or ``thinking=False`` for that call (turn-level
thinking: think on planning turns, not on turns that only read a tool result).
"""

from __future__ import annotations

import sys
import warnings
from typing import TYPE_CHECKING, Any

from ._exceptions import PowerTokensError

if TYPE_CHECKING:
    from ._models import ChatCompletion

__all__ = [
    "REMEDY",
    "ThinkingBudgetExceededError",
    "ThinkingBudgetWarning",
    "thinking_exhausted_budget",
    "warn_if_exhausted",
]

REMEDY = "raise max_tokens, or pass thinking=False for this call"


def thinking_exhausted_budget(
    finish_reason: str | None, content: str | None, reasoning: str | None, tool_calls: Any
) -> bool:
    """Whether an answer's thinking used up ``max_tokens``: it finished by "length"
    with reasoning and neither text nor a tool call."""
    return finish_reason == "length" and bool(reasoning) and not content and not tool_calls


def _spent(reasoning_tokens: int | None) -> str:
    return f" ({reasoning_tokens} reasoning tokens)" if reasoning_tokens else ""


class ThinkingBudgetWarning(UserWarning):
    """An answer came back empty: the model's thinking used up ``max_tokens``
    (``finish_reason="length"``, reasoning, no text and no tool call).

    Raised once per such answer by ``chat()`` and at the end of a stream; the answer is
    flagged too (``ChatCompletion.thinking_exhausted_budget``). Remedy: raise
    ``max_tokens``, or pass ``thinking=False`` for that call. To turn it into an error::

        warnings.simplefilter("error", powertokens.ThinkingBudgetWarning)
    """


class ThinkingBudgetExceededError(PowerTokensError, ValueError):
    """An answer that had to hold structured output or a tool call is empty: the
    model's thinking used up ``max_tokens`` (``finish_reason="length"``, reasoning, no
    text and no tool call), so there is nothing to parse.

    Remedy: raise ``max_tokens``, or pass ``thinking=False`` for that call (a
    structured-output or tool-execution step rarely needs thinking). ``wanted`` names
    what was expected, ``reasoning_tokens`` what the thinking spent (None if unknown).
    """

    def __init__(self, wanted: str, reasoning_tokens: int | None = None) -> None:
        self.wanted = wanted
        self.reasoning_tokens = reasoning_tokens
        super().__init__(
            f"no {wanted}: the model's thinking used up max_tokens{_spent(reasoning_tokens)} "
            f"and the answer ended (finish_reason='length') with no text and no tool call; "
            f"{REMEDY}"
        )


_OURS = frozenset(
    {
        "powertokens",
        "langchain_powertokens",
        "llama_index_powertokens",
        "langchain_core",
        "langchain",
        "langgraph",
    }
)
_OURS_DOTTED = ("llama_index.core",)


def _caller_level() -> int:
    """The ``stacklevel`` of the first frame outside this package, its adapters and the
    frameworks calling them: the warning points at the caller's line."""
    frame = sys._getframe(2)  # the caller of warn_if_exhausted: stacklevel 2
    level = 2
    while frame is not None:
        name = frame.f_globals.get("__name__", "")
        if name.partition(".")[0] not in _OURS and not name.startswith(_OURS_DOTTED):
            return level
        frame = frame.f_back  # type: ignore[assignment]
        level += 1
    return 2


def warn_if_exhausted(completion: ChatCompletion) -> ChatCompletion:
    """Warn (:class:`ThinkingBudgetWarning`) when ``completion`` is such an answer;
    returns it unchanged. Called once per final answer, by the core only."""
    choices = completion.choices  # the common case ends at the first test
    if choices and choices[0].finish_reason == "length" and completion.thinking_exhausted_budget:
        usage = completion.usage
        spent = usage.reasoning_tokens if usage is not None else None
        warnings.warn(
            f"the model's thinking used up max_tokens{_spent(spent)}: "
            f"the answer ended (finish_reason='length') with no text and no tool call; "
            f"{REMEDY}",
            ThinkingBudgetWarning,
            stacklevel=_caller_level(),
        )
    return completion
