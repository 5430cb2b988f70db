"""How an answer ended, visible to LlamaIndex users: ``finish_reason`` in
``additional_kwargs`` (whole and streamed), the reasoning of a streamed completion, and
answers blocked by the content filter, down to query engines."""

from __future__ import annotations

import pytest
from llama_index.core import Document, SummaryIndex
from llama_index.core.base.response.schema import StreamingResponse

from llama_index_powertokens import PowerTokens
from powertokens.emulator import Emulator

from .conftest import Runner, user

FILTERED_TEXT = (
    "[No answer: the service's content filter blocked the output (finish_reason='sensitive').]"
)
FILTERED = {"finish_reason": "sensitive", "content_filtered": True, "refusal": FILTERED_TEXT}


async def test_stream_complete_keeps_the_reasoning(run: Runner) -> None:
    whole = await run.complete("Tell me about the weather.")
    reasoning = whole.additional_kwargs["reasoning_content"]
    assert reasoning
    streamed = await run.stream_complete("Tell me about the weather.")
    assert streamed[-1].text == whole.text
    assert streamed[-1].additional_kwargs["reasoning_content"] == reasoning
    pieces = "".join(r.additional_kwargs.get("thinking_delta") or "" for r in streamed)
    assert pieces == reasoning
    assert all("reasoning_content" not in r.additional_kwargs for r in streamed[:-1])


async def test_finish_reason_in_additional_kwargs(run: Runner, emu: Emulator) -> None:
    assert (await run.chat(user("echo: a"))).additional_kwargs["finish_reason"] == "stop"
    assert (await run.complete("echo: a")).additional_kwargs["finish_reason"] == "stop"
    for streamed in (await run.stream_chat(user("echo: a b c")), await run.stream_complete("x")):
        assert streamed[-1].additional_kwargs["finish_reason"] == "stop"
        assert all("finish_reason" not in r.additional_kwargs for r in streamed[:-1])
    emu.push_fault("finish:length")
    cut = await run.chat(user("echo: one two three four five six"))
    assert cut.additional_kwargs["finish_reason"] == "length"
    assert "content_filtered" not in cut.additional_kwargs


@pytest.mark.parametrize("method", ["chat", "stream_chat", "complete", "stream_complete"])
async def test_content_filtered_answer_is_flagged_and_explained(
    run: Runner, emu: Emulator, method: str
) -> None:
    emu.push_fault("finish:sensitive")
    if method == "chat":
        response = await run.chat(user("Tell me a secret."))
        text = response.message.content
    elif method == "stream_chat":
        responses = await run.stream_chat(user("Tell me a secret."))
        response = responses[-1]
        text = response.message.content
        assert "".join(r.delta or "" for r in responses) == FILTERED_TEXT
    elif method == "complete":
        response = await run.complete("Tell me a secret.")
        text = response.text
    else:
        responses = await run.stream_complete("Tell me a secret.")
        response = responses[-1]
        text = response.text
        assert "".join(r.delta or "" for r in responses) == FILTERED_TEXT
    assert text == FILTERED_TEXT
    assert FILTERED.items() <= response.additional_kwargs.items()


@pytest.mark.parametrize("streaming", [False, True])
def test_query_engine_shows_a_filtered_answer(
    llm: PowerTokens, emu: Emulator, streaming: bool
) -> None:
    index = SummaryIndex.from_documents([Document(text="Fredville is the capital.")])
    engine = index.as_query_engine(llm=llm, streaming=streaming)
    emu.push_fault("finish:sensitive")
    response = engine.query("What is the capital?")
    if isinstance(response, StreamingResponse):
        text = "".join(response.response_gen)
    else:
        text = str(response)
    assert text == FILTERED_TEXT  # not "Empty Response"
    assert emu.request_count == 1
