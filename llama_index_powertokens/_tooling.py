"""Tool calling and structured streams for :class:`~llama_index_powertokens.PowerTokens`.

A mixin of the LLM's ``FunctionCallingLLM`` overrides: preparing a tool call (one
instruction sentence for a required or named tool, one call kept unless parallel calls
are allowed), reading tool calls from a response (partial JSON while streaming, typed
errors on a finished answer), and structured streams that raise
``ThinkingBudgetExceededError`` instead of ending with an empty object when the thinking
used up ``max_tokens``.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator, Sequence
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
)
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from powertokens import ThinkingBudgetExceededError

from ._tools import keep_first_call, prepare_tools_call, tool_selections

if TYPE_CHECKING:
    from llama_index.core.program.utils import FlexibleModel
    from llama_index.core.prompts import PromptTemplate
    from llama_index.core.tools.types import BaseTool
    from llama_index.core.types import Model

    _Base = FunctionCallingLLM
else:
    _Base = object  # a plain mixin at run time: PowerTokens adds FunctionCallingLLM

__all__ = ["ToolCalling", "awatched", "watched"]


class ToolCalling(_Base):
    """The tool-calling overrides of PowerTokens (placed before FunctionCallingLLM)."""

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Chat arguments for a call with ``tools``; the caller's history is copied,
        never modified. ``tool_required`` and a named ``tool_choice`` (the agents'
        ``initial_tool_choice``) become "auto" plus a system instruction, since the API
        accepts nothing else. ``allow_parallel_tool_calls=False`` (LlamaIndex's default
        here) becomes the core's ``parallel_tool_calls=False``: the model is asked for one
        call and only the first is kept, in ``chat`` and in every stream form, so an agent
        runs one tool per step whether it streams or not."""
        if not allow_parallel_tool_calls:
            kwargs["parallel_tool_calls"] = False
        return prepare_tools_call(tools, user_msg, chat_history, tool_required, tool_choice, kwargs)

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call unless parallel calls are allowed."""
        if not allow_parallel_tool_calls:
            keep_first_call(response.message)
        return response

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        """The response's tool calls. Arguments still streaming are read as partial JSON
        (this never raises mid-stream); on a finished answer (``finish_reason`` in
        ``additional_kwargs``) arguments that are not a JSON object, e.g. cut off by
        ``max_tokens``, raise ``llama_index_powertokens.ToolCallArgumentsError``
        instead of calling the tool with missing arguments. A finished answer with no
        call because the thinking used up ``max_tokens``
        (``additional_kwargs["thinking_exhausted_budget"]``) raises
        ``powertokens.ThinkingBudgetExceededError`` (even with
        ``error_on_no_tool_call=False``: an agent would otherwise take the empty answer
        as final); remedy: raise ``max_tokens`` or pass ``thinking=False``."""
        final = response.additional_kwargs.get("finish_reason")
        selections = tool_selections(response.message, final)
        if not selections and response.additional_kwargs.get("thinking_exhausted_budget"):
            spent = response.additional_kwargs.get("reasoning_tokens")
            raise ThinkingBudgetExceededError("tool call", spent or None)
        if not selections and error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but got 0 tool calls.")
        return selections

    def stream_structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> Generator[Model | FlexibleModel, None, None]:
        """LlamaIndex's stream of partial objects, except that an answer whose thinking
        used up ``max_tokens`` raises ``powertokens.ThinkingBudgetExceededError`` (the
        program's stream logs and skips errors, and would end with an empty object)."""
        swallowed: list[ThinkingBudgetExceededError] = []
        inner = super().stream_structured_predict(output_cls, prompt, llm_kwargs, **prompt_args)
        while True:
            token = _SWALLOWED.set(swallowed)
            try:
                item = next(inner)
            except StopIteration:
                break
            finally:
                _SWALLOWED.reset(token)
            if swallowed:
                inner.close()
                raise swallowed[0]
            yield item
        if swallowed:
            raise swallowed[0]

    async def astream_structured_predict(
        self,
        output_cls: type[Model],
        prompt: PromptTemplate,
        llm_kwargs: dict[str, Any] | None = None,
        **prompt_args: Any,
    ) -> AsyncGenerator[Model | FlexibleModel, None]:
        """The async form of :meth:`stream_structured_predict`, with the same error."""
        swallowed: list[ThinkingBudgetExceededError] = []
        token = _SWALLOWED.set(swallowed)
        try:
            inner = await super().astream_structured_predict(
                output_cls, prompt, llm_kwargs, **prompt_args
            )
        finally:
            _SWALLOWED.reset(token)
        return _raise_swallowed(inner, swallowed)


# -- structured streams ------------------------------------------------------------------

# While a structured stream runs: the budget errors of its answers, which LlamaIndex's
# program would turn into an empty object (see PowerTokens.stream_structured_predict).
_SWALLOWED: ContextVar[list[ThinkingBudgetExceededError] | None] = ContextVar(
    "llama_index_powertokens_swallowed", default=None
)


def watched(responses: ChatResponseGen) -> ChatResponseGen:
    """A chat stream, watched for a budget answer while a structured stream runs (any
    program mode: tool calls or text); unchanged otherwise (one ContextVar read)."""
    swallowed = _SWALLOWED.get()
    return responses if swallowed is None else _watch(responses, swallowed)


def awatched(responses: ChatResponseAsyncGen) -> ChatResponseAsyncGen:
    """The async form of :func:`watched`."""
    swallowed = _SWALLOWED.get()
    return responses if swallowed is None else _awatch(responses, swallowed)


def _budget_error(response: ChatResponse) -> ThinkingBudgetExceededError | None:
    if not response.additional_kwargs.get("thinking_exhausted_budget"):
        return None
    spent = response.additional_kwargs.get("reasoning_tokens")
    return ThinkingBudgetExceededError("structured output", spent or None)


def _watch(
    responses: ChatResponseGen, swallowed: list[ThinkingBudgetExceededError]
) -> ChatResponseGen:
    for response in responses:
        error = _budget_error(response)
        if error is not None:
            swallowed.append(error)
        yield response


async def _awatch(
    responses: ChatResponseAsyncGen, swallowed: list[ThinkingBudgetExceededError]
) -> ChatResponseAsyncGen:
    async for response in responses:
        error = _budget_error(response)
        if error is not None:
            swallowed.append(error)
        yield response


async def _raise_swallowed(
    inner: AsyncGenerator[Model | FlexibleModel, None],
    swallowed: list[ThinkingBudgetExceededError],
) -> AsyncGenerator[Model | FlexibleModel, None]:
    while True:
        token = _SWALLOWED.set(swallowed)
        try:
            item = await inner.__anext__()
        except StopAsyncIteration:
            break
        finally:
            _SWALLOWED.reset(token)
        if swallowed:
            await inner.aclose()
            raise swallowed[0]
        yield item
    if swallowed:
        raise swallowed[0]
