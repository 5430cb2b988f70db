"""The framework floors: a LangChain chat model and a LlamaIndex LLM that do no I/O.

Each answers from a script decoded once, ahead of time, from the same canned bytes the
real clients read, and per call only builds the framework's own objects (a message, or
one chunk per event). What they cost is what the framework charges any integration;
adding raw httpx's cost gives the floor an adapter cannot go below.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

from _wire import Canned
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.tool import tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.custom import CustomLLM
from pydantic import PrivateAttr

__all__ = ["FloorChatModel", "FloorLLM", "Script", "script"]


@dataclass(frozen=True)
class Piece:
    reasoning: str = ""
    content: str = ""
    tool: tuple[int, str | None, str | None, str] | None = None  # index, id, name, args


@dataclass(frozen=True)
class Script:
    """What a canned answer says: whole (``text``/``reasoning``) and as stream pieces."""

    text: str
    reasoning: str
    pieces: tuple[Piece, ...]
    usage: dict[str, Any]


def script(canned: Canned) -> Script:
    """Decode a canned answer once (not timed)."""
    if canned.content_type == "application/json":
        body = json.loads(canned.body)
        message = body["choices"][0]["message"]
        return Script(message["content"], message.get("reasoning_content") or "", (), body["usage"])
    pieces: list[Piece] = []
    usage: dict[str, Any] = {}
    for line in canned.body.split(b"\n"):
        if not line.startswith(b"data: {"):
            continue
        chunk = json.loads(line[6:])
        usage = chunk.get("usage") or usage
        delta = chunk["choices"][0]["delta"]
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            tool = (call["index"], call.get("id"), function.get("name"), function["arguments"])
            pieces.append(Piece(tool=tool))
        if delta.get("reasoning_content") or delta.get("content"):
            pieces.append(Piece(delta.get("reasoning_content") or "", delta.get("content") or ""))
    text = "".join(p.content for p in pieces)
    return Script(text, "".join(p.reasoning for p in pieces), tuple(pieces), usage)


# --- LangChain ---------------------------------------------------------------------------


class FloorChatModel(BaseChatModel):
    """A ``BaseChatModel`` that answers from its script: the framework's own cost."""

    answer: Any
    chunks: Any

    @property
    def _llm_type(self) -> str:
        return "floor"

    def _message(self) -> AIMessage:
        answer = self.answer
        return AIMessage(
            content=answer.text,
            additional_kwargs={"reasoning_content": answer.reasoning},
            response_metadata={"finish_reason": "stop", "model_name": "glm-5"},
        )

    def _chunks(self) -> Iterator[ChatGenerationChunk]:
        for piece in self.chunks.pieces:
            if piece.tool is not None:
                index, call_id, name, args = piece.tool
                call = tool_call_chunk(name=name, args=args, id=call_id, index=index)
                message = AIMessageChunk(content="", tool_call_chunks=[call])
            elif piece.reasoning:
                message = AIMessageChunk(
                    content="", additional_kwargs={"reasoning_content": piece.reasoning}
                )
            else:
                message = AIMessageChunk(content=piece.content)
            yield ChatGenerationChunk(message=message)
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                response_metadata={"finish_reason": "stop", "model_name": "glm-5"},
                chunk_position="last",
            )
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._message())])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._message())])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        for chunk in self._chunks():
            if run_manager is not None:
                run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks():
            if run_manager is not None:
                await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
            yield chunk


# --- LlamaIndex --------------------------------------------------------------------------


class FloorLLM(CustomLLM):
    """A ``CustomLLM`` with native chat methods answering from its script.

    Streamed responses follow the LlamaIndex convention every chat LLM follows: the
    cumulative message on each response, the new text in ``delta``.
    """

    _answer: Script = PrivateAttr()
    _chunks: Script = PrivateAttr()

    def __init__(self, answer: Script, chunks: Script) -> None:
        super().__init__()
        self._answer = answer
        self._chunks = chunks

    @property
    def metadata(self) -> LLMMetadata:
        return LLMMetadata(is_chat_model=True, model_name="floor")

    def _response(self) -> ChatResponse:
        answer = self._answer
        message = ChatMessage(
            role=MessageRole.ASSISTANT,
            content=answer.text,
            additional_kwargs={"reasoning_content": answer.reasoning},
        )
        return ChatResponse(message=message, raw=answer.usage)

    def _responses(self) -> Iterator[ChatResponse]:
        text = ""
        calls: dict[int, dict[str, Any]] = {}
        for piece in self._chunks.pieces:
            extra: dict[str, Any] = {}
            if piece.tool is not None:
                index, call_id, name, args = piece.tool
                call = calls.setdefault(index, {"id": call_id, "name": name, "arguments": ""})
                call["arguments"] += args
                extra["tool_calls"] = list(calls.values())
            text += piece.content
            message = ChatMessage(role=MessageRole.ASSISTANT, content=text, additional_kwargs=extra)
            kwargs = {"thinking_delta": piece.reasoning} if piece.reasoning else {}
            yield ChatResponse(message=message, delta=piece.content, additional_kwargs=kwargs)

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._response()

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        return self._response()

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        return self._responses()

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        async def gen() -> ChatResponseAsyncGen:
            for response in self._responses():
                yield response

        return gen()

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        return CompletionResponse(text=self._answer.text)

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        def gen() -> CompletionResponseGen:
            yield CompletionResponse(text=self._answer.text, delta=self._answer.text)

        return gen()
