"""One call of :class:`~langchain_powertokens.ChatPowerTokens`, run: the request built
(``_params``), sent through the core client, the answer or its chunks made LangChain's
results (``_results``), ``response_format`` applied and errors made LangChain's.

The four functions are the model's ``_generate``, ``_agenerate``, ``_stream`` and
``_astream`` (assigned in the class body, so a stream's chunks pass no extra generator):
their first parameter is ``self``, as per-call keywords may include ``model``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING, Any, Protocol

from powertokens import AsyncPowerTokens, PowerTokens, PowerTokensError

from ._errors import to_langchain_error
from ._params import ModelFields, build_call
from ._response_format import ResponseFormat, take_response_format
from ._results import ChunkBuilder, chat_result

if TYPE_CHECKING:
    from langchain_core.callbacks import (
        AsyncCallbackManagerForLLMRun,
        CallbackManagerForLLMRun,
    )
    from langchain_core.messages import BaseMessage
    from langchain_core.outputs import ChatGenerationChunk, ChatResult

__all__ = ["agenerate", "astream", "generate", "stream"]


class ChatModel(ModelFields, Protocol):
    """What a call reads of the model: its fields and its cached core clients."""

    def _sync_client(self) -> PowerTokens: ...

    def _get_async_client(self) -> AsyncPowerTokens: ...


Prepared = tuple[ResponseFormat | None, list[dict[str, Any]], dict[str, Any]]


def _prepare(
    model: ModelFields, messages: list[BaseMessage], stop: list[str] | None, kwargs: dict[str, Any]
) -> Prepared:
    """(response format, wire messages, core arguments); raises ``PowerTokensError``."""
    fmt = take_response_format(kwargs)
    wire, params = build_call(model, messages, stop, kwargs)
    if fmt is not None:
        wire = fmt.apply(wire, params, nudge=model.nudge_tool_choice)
    return fmt, wire, params


def generate(
    self: ChatModel,
    messages: list[BaseMessage],
    stop: list[str] | None = None,
    run_manager: CallbackManagerForLLMRun | None = None,
    **kwargs: Any,
) -> ChatResult:
    try:
        fmt, wire, params = _prepare(self, messages, stop, kwargs)
        completion = self._sync_client().chat(wire, **params)
    except PowerTokensError as exc:
        raise to_langchain_error(exc) from exc.__cause__
    result = chat_result(completion)
    return result if fmt is None else fmt.result(result)


async def agenerate(
    self: ChatModel,
    messages: list[BaseMessage],
    stop: list[str] | None = None,
    run_manager: AsyncCallbackManagerForLLMRun | None = None,
    **kwargs: Any,
) -> ChatResult:
    try:
        fmt, wire, params = _prepare(self, messages, stop, kwargs)
        completion = await self._get_async_client().chat(wire, **params)
    except PowerTokensError as exc:
        raise to_langchain_error(exc) from exc.__cause__
    result = chat_result(completion)
    return result if fmt is None else fmt.result(result)


def stream(
    self: ChatModel,
    messages: list[BaseMessage],
    stop: list[str] | None = None,
    run_manager: CallbackManagerForLLMRun | None = None,
    **kwargs: Any,
) -> Iterator[ChatGenerationChunk]:
    try:
        fmt, wire, params = _prepare(self, messages, stop, kwargs)
        convert = fmt.stream_state().convert if fmt is not None else None
        builder = ChunkBuilder()
        with self._sync_client().stream(wire, **params) as deltas:
            for delta in deltas:
                chunk = builder.add(delta)
                if chunk is not None:
                    if convert is not None:
                        chunk = convert(chunk)
                    if run_manager is not None:
                        run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
            completion = deltas.completion
    except PowerTokensError as exc:
        raise to_langchain_error(exc) from exc.__cause__
    last = builder.finish(completion)
    if convert is not None:
        last = convert(last)
    if run_manager is not None:
        run_manager.on_llm_new_token(last.text, chunk=last)
    yield last


async def astream(
    self: ChatModel,
    messages: list[BaseMessage],
    stop: list[str] | None = None,
    run_manager: AsyncCallbackManagerForLLMRun | None = None,
    **kwargs: Any,
) -> AsyncIterator[ChatGenerationChunk]:
    try:
        fmt, wire, params = _prepare(self, messages, stop, kwargs)
        convert = fmt.stream_state().convert if fmt is not None else None
        builder = ChunkBuilder()
        async with self._get_async_client().stream(wire, **params) as deltas:
            async for delta in deltas:
                chunk = builder.add(delta)
                if chunk is not None:
                    if convert is not None:
                        chunk = convert(chunk)
                    if run_manager is not None:
                        await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                    yield chunk
            completion = deltas.completion
    except PowerTokensError as exc:
        raise to_langchain_error(exc) from exc.__cause__
    last = builder.finish(completion)
    if convert is not None:
        last = convert(last)
    if run_manager is not None:
        await run_manager.on_llm_new_token(last.text, chunk=last)
    yield last
