"""``num_output`` follows LlamaIndex's OpenAI integration (``max_tokens`` or -1), so
response synthesizers pack the context window instead of reserving the model's whole
output limit: fewer LLM calls per query."""

from __future__ import annotations

import pytest
from llama_index.core import Document, SummaryIndex

from llama_index_powertokens import PowerTokens
from powertokens.emulator import Emulator

from .conftest import KEY

WINDOW = 8_000
EXPECTED = {"compact": (2, 4), "tree_summarize": (3, 5)}  # (calls packed, calls reserving)


@pytest.fixture(scope="module")
def index() -> SummaryIndex:
    texts = [" ".join(f"fact{n}_{i} concerns Freedonia." for i in range(120)) for n in range(12)]
    return SummaryIndex.from_documents([Document(text=t) for t in texts])


def _calls(index: SummaryIndex, emu: Emulator, llm: PowerTokens, mode: str) -> int:
    emu.reset()
    index.as_query_engine(llm=llm, response_mode=mode).query("What is fact3_7 about?")
    return emu.request_count


@pytest.mark.parametrize("mode", ["compact", "tree_summarize"])
def test_no_max_tokens_packs_the_window(index: SummaryIndex, emu: Emulator, mode: str) -> None:
    llm = PowerTokens(api_key=KEY, base_url=emu.url, context_window=WINDOW)
    assert llm.metadata.num_output == -1  # LlamaIndex reserves its default 256
    # What the old default (the model's output limit, capped at half the window) did:
    reserving = llm.model_copy(update={"max_tokens": WINDOW // 2})
    assert reserving.metadata.num_output == WINDOW // 2
    packed, reserved = _calls(index, emu, llm, mode), _calls(index, emu, reserving, mode)
    assert (packed, reserved) == EXPECTED[mode]
    llm.close()
