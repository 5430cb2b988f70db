"""A per-call deadline (``total_timeout``) and ChatOpenAI's ``request_timeout`` name:
applied to the call, never sent in the request body."""

from __future__ import annotations

import pytest
from llama_index.core.llms import ChatMessage

from llama_index_powertokens import PowerTokens
from powertokens import APITimeoutError, DeadlineExceededError
from powertokens.emulator import Emulator

SLOW = {"X-PowerTokens-Fault": "delay:3000"}  # the emulator waits 3 s before answering
HI = [ChatMessage(role="user", content="hi")]


async def test_total_timeout_per_call_is_a_deadline(llm: PowerTokens, emu: Emulator) -> None:
    llm.max_retries = 3
    with pytest.raises(DeadlineExceededError):
        await llm.achat(HI, total_timeout=0.3, extra_headers=SLOW)
    assert emu.request_count == 1  # the deadline, not a retry, ended it
    assert "total_timeout" not in emu.requests[-1].json


def test_request_timeout_per_call_is_the_read_timeout(llm: PowerTokens, emu: Emulator) -> None:
    llm.max_retries = 0
    with pytest.raises(APITimeoutError) as caught:
        llm.chat(HI, request_timeout=0.3, extra_headers=SLOW)
    assert not isinstance(caught.value, DeadlineExceededError)
    assert "request_timeout" not in emu.requests[-1].json
