"""LlamaIndex adapter tests: real loopback HTTP against the plugin's in-process emulator
(``pt_emulator``, reset before each test) and its LLM (``pt_llm``).

``Runner`` gives the sync and async faces of the LLM one interface, so a test written
once runs both ways (parametrize with the ``run`` fixture).
"""

from __future__ import annotations

from typing import Any

import pytest
from llama_index.core.base.llms.types import ChatMessage, ChatResponse, CompletionResponse

from llama_index_powertokens import PowerTokens
from powertokens.emulator import Emulator
from powertokens.testing import TEST_API_KEY

KEY = TEST_API_KEY


@pytest.fixture
def emu(pt_emulator: Emulator) -> Emulator:
    return pt_emulator


@pytest.fixture
def llm(pt_llm: PowerTokens) -> PowerTokens:
    return pt_llm


def user(text: str) -> list[ChatMessage]:
    return [ChatMessage(role="user", content=text)]


class Runner:
    """The eight methods behind one face: ``await run.chat(...)`` is sync or async."""

    def __init__(self, mode: str, llm: PowerTokens) -> None:
        self.mode = mode
        self.llm = llm

    async def chat(self, messages: list[ChatMessage], **kwargs: Any) -> ChatResponse:
        if self.mode == "sync":
            return self.llm.chat(messages, **kwargs)
        return await self.llm.achat(messages, **kwargs)

    async def stream_chat(self, messages: list[ChatMessage], **kwargs: Any) -> list[ChatResponse]:
        if self.mode == "sync":
            return list(self.llm.stream_chat(messages, **kwargs))
        return [r async for r in await self.llm.astream_chat(messages, **kwargs)]

    async def complete(self, prompt: str, **kwargs: Any) -> CompletionResponse:
        if self.mode == "sync":
            return self.llm.complete(prompt, **kwargs)
        return await self.llm.acomplete(prompt, **kwargs)

    async def stream_complete(self, prompt: str, **kwargs: Any) -> list[CompletionResponse]:
        if self.mode == "sync":
            return list(self.llm.stream_complete(prompt, **kwargs))
        return [r async for r in await self.llm.astream_complete(prompt, **kwargs)]


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest, llm: PowerTokens) -> Runner:
    return Runner(request.param, llm)
