"""One face for sync and async calls, so every behaviour is tested both ways."""

from __future__ import annotations

from typing import Any

from langchain_core.callbacks import BaseCallbackHandler
from langchain_core.messages import AIMessageChunk, BaseMessageChunk


class Run:
    """``await run.invoke(runnable, input)`` calls ``invoke`` or ``ainvoke`` by mode."""

    def __init__(self, mode: str) -> None:
        self.mode = mode

    def __repr__(self) -> str:
        return self.mode

    async def invoke(self, runnable: Any, input: Any, **kwargs: Any) -> Any:
        if self.mode == "sync":
            return runnable.invoke(input, **kwargs)
        return await runnable.ainvoke(input, **kwargs)

    async def stream(self, runnable: Any, input: Any, **kwargs: Any) -> list[Any]:
        if self.mode == "sync":
            return list(runnable.stream(input, **kwargs))
        return [chunk async for chunk in runnable.astream(input, **kwargs)]

    async def stream_until_error(
        self, runnable: Any, input: Any, **kwargs: Any
    ) -> tuple[list[Any], BaseException | None]:
        chunks: list[Any] = []
        try:
            if self.mode == "sync":
                for chunk in runnable.stream(input, **kwargs):
                    chunks.append(chunk)
            else:
                async for chunk in runnable.astream(input, **kwargs):
                    chunks.append(chunk)
        except Exception as exc:
            return chunks, exc
        return chunks, None


def add_up(chunks: list[BaseMessageChunk]) -> AIMessageChunk:
    full = chunks[0]
    for chunk in chunks[1:]:
        full = full + chunk
    assert isinstance(full, AIMessageChunk)
    return full


class TokenRecorder(BaseCallbackHandler):
    """Records ``on_llm_new_token`` calls."""

    def __init__(self) -> None:
        self.tokens: list[str] = []
        self.chunks: list[Any] = []

    def on_llm_new_token(self, token: str, *, chunk: Any = None, **kwargs: Any) -> None:
        self.tokens.append(token)
        self.chunks.append(chunk)
