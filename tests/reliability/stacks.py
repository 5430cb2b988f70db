"""The three stacks (core, LangChain, LlamaIndex) behind one face, sync or async, streamed
or not, so one table of faults runs through all twelve ways of calling the service."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from typing import Any

from langchain_core.messages import AIMessageChunk
from llama_index.core.base.llms.types import ChatMessage

from langchain_powertokens import ChatPowerTokens
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import AsyncPowerTokens, PowerTokens
from powertokens.testing import TEST_API_KEY

KEY = TEST_API_KEY
"""The API key every test uses; no output, log, trace or error may ever contain it."""

PROMPT = "echo: " + " ".join(f"word{i}" for i in range(30))
"""An answer of ~30 stream events (the emulator echoes it verbatim), so faults after
k events land mid-answer."""

STACKS = ("core", "langchain", "llama_index")
MODES = ("sync", "async")


@dataclass
class Outcome:
    """What one call produced: the answer or the error, and what was delivered first."""

    text: str = ""
    delivered: str = ""
    """Answer text handed to the caller before the end (streams)."""
    finish_reason: str | None = None
    usage_reports: int = 0
    """How many stream items carried token usage (must be one)."""
    error: BaseException | None = None


@dataclass(frozen=True)
class Face:
    """One way of calling: a stack, sync or async, streamed or not."""

    stack: str
    mode: str
    stream: bool

    @property
    def id(self) -> str:
        return f"{self.stack}-{self.mode}-{'stream' if self.stream else 'call'}"

    def build(
        self,
        base_url: str,
        *,
        api_key: str | None = KEY,
        max_retries: int = 2,
        timeout: float | None = None,
        **fields: Any,
    ) -> Any:
        """A client or model pointed at ``base_url`` (thinking off: answer text only)."""
        common: dict[str, Any] = {
            "api_key": api_key,
            "base_url": base_url,
            "max_retries": max_retries,
            "timeout": timeout,
            **fields,
        }
        if self.stack == "core":
            cls = PowerTokens if self.mode == "sync" else AsyncPowerTokens
            return cls(**common)
        if self.stack == "langchain":
            return ChatPowerTokens(thinking=False, **common)
        return LlamaPowerTokens(thinking=False, **common)

    async def close(self, target: Any) -> None:
        if self.stack == "core":
            if self.mode == "sync":
                target.close()
            else:
                await target.close()
        else:
            target.close()
            if self.mode == "async":
                await target.aclose()

    async def run(self, target: Any, prompt: str = PROMPT, **kwargs: Any) -> Outcome:
        """Call once; errors are caught into the outcome (with what was delivered)."""
        out = Outcome()
        pieces: list[str] = []
        try:
            await getattr(self, f"_{self.stack}")(target, prompt, kwargs, out, pieces)
        except Exception as exc:
            out.error = exc
        out.delivered = "".join(pieces)
        return out

    # -- per stack ------------------------------------------------------------------------

    async def _core(
        self, client: Any, prompt: str, kwargs: dict[str, Any], out: Outcome, pieces: list[str]
    ) -> None:
        messages = [{"role": "user", "content": prompt}]
        kwargs = {"thinking": False, **kwargs}
        if not self.stream:
            answer = client.chat(messages, **kwargs)
            if self.mode == "async":
                answer = await answer
            out.text, out.finish_reason = answer.content, answer.finish_reason
            return
        if self.mode == "sync":
            with client.stream(messages, **kwargs) as stream:
                for delta in stream:
                    pieces.append(delta.content)
                    out.usage_reports += delta.usage is not None
                final = stream.completion
        else:
            async with client.stream(messages, **kwargs) as astream:
                async for delta in astream:
                    pieces.append(delta.content)
                    out.usage_reports += delta.usage is not None
                final = astream.completion
        assert final is not None
        out.text, out.finish_reason = final.content, final.finish_reason

    async def _langchain(
        self,
        model: ChatPowerTokens,
        prompt: str,
        kwargs: dict[str, Any],
        out: Outcome,
        pieces: list[str],
    ) -> None:
        if not self.stream:
            if self.mode == "sync":
                message = model.invoke(prompt, **kwargs)
            else:
                message = await model.ainvoke(prompt, **kwargs)
            out.text = message.text
            out.finish_reason = message.response_metadata.get("finish_reason")
            return
        chunks: list[AIMessageChunk] = []
        if self.mode == "sync":
            for chunk in model.stream(prompt, **kwargs):
                chunks.append(chunk)
                pieces.append(chunk.text)
        else:
            async for chunk in model.astream(prompt, **kwargs):
                chunks.append(chunk)
                pieces.append(chunk.text)
        full = chunks[0]
        for chunk in chunks[1:]:
            full = full + chunk
        out.text = full.text
        out.finish_reason = full.response_metadata.get("finish_reason")
        out.usage_reports = sum(c.usage_metadata is not None for c in chunks)

    async def _llama_index(
        self,
        llm: LlamaPowerTokens,
        prompt: str,
        kwargs: dict[str, Any],
        out: Outcome,
        pieces: list[str],
    ) -> None:
        messages = [ChatMessage(role="user", content=prompt)]
        if not self.stream:
            if self.mode == "sync":
                response = llm.chat(messages, **kwargs)
            else:
                response = await llm.achat(messages, **kwargs)
            out.text = response.message.content or ""
            out.finish_reason = response.raw.finish_reason
            return
        if self.mode == "sync":
            responses = []
            for response in llm.stream_chat(messages, **kwargs):
                responses.append(response)
                pieces.append(response.delta or "")
        else:
            responses = []
            async for response in await llm.astream_chat(messages, **kwargs):
                responses.append(response)
                pieces.append(response.delta or "")
        out.text = responses[-1].message.content or ""
        for response in responses:
            for choice in response.raw.get("choices") or ():
                out.finish_reason = choice.get("finish_reason") or out.finish_reason
            out.usage_reports += "total_tokens" in response.additional_kwargs


FACES = [
    Face(stack, mode, stream)
    for stack, mode, stream in itertools.product(STACKS, MODES, (False, True))
]
