"""The stream generators behind ``stream_chat``/``stream_complete`` and their async twins.

Each drives one core stream (closed on exhaustion, error or an early ``break``; the core
ends it itself at a stop sequence) through a :class:`StreamState`, yielding a response
only for chunks that changed something a caller can see. Module level, so a running
stream holds no reference to the LLM.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Generator

from llama_index.core.base.llms.types import ChatResponse, CompletionResponse

from powertokens import AsyncStream, Stream

from ._convert import StreamState

__all__ = ["achat_gen", "acompletion_gen", "chat_gen", "completion_gen"]


def chat_gen(stream: Stream, state: StreamState) -> Generator[ChatResponse, None, None]:
    with stream:
        for delta in stream:
            visible = state.feed(delta)
            if visible is not None:
                yield state.chat_response(delta, visible)


def completion_gen(stream: Stream, state: StreamState) -> Generator[CompletionResponse, None, None]:
    with stream:
        for delta in stream:
            visible = state.feed(delta)
            if visible is not None:
                yield state.completion_response(delta, visible)


async def achat_gen(stream: AsyncStream, state: StreamState) -> AsyncGenerator[ChatResponse, None]:
    async with stream:
        async for delta in stream:
            visible = state.feed(delta)
            if visible is not None:
                yield state.chat_response(delta, visible)


async def acompletion_gen(
    stream: AsyncStream, state: StreamState
) -> AsyncGenerator[CompletionResponse, None]:
    async with stream:
        async for delta in stream:
            visible = state.feed(delta)
            if visible is not None:
                yield state.completion_response(delta, visible)
