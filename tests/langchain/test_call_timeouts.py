"""Per-call timeouts under ChatOpenAI's name (``request_timeout``) and a per-call
deadline (``total_timeout``): applied to the call, never sent in the request body."""

from __future__ import annotations

import pytest

from langchain_powertokens import (
    PowerTokensDeadlineExceededError,
    PowerTokensRequestValidationError,
    PowerTokensTimeoutError,
)
from powertokens.emulator import Emulator

from .conftest import Factory

SLOW = {"X-PowerTokens-Fault": "delay:3000"}  # the emulator waits 3 s before answering


def test_request_timeout_per_call_is_the_read_timeout(make_model: Factory, emu: Emulator) -> None:
    model = make_model(max_retries=0)
    with pytest.raises(PowerTokensTimeoutError) as caught:
        model.invoke("hi", request_timeout=0.3, extra_headers=SLOW)
    assert not isinstance(caught.value, PowerTokensDeadlineExceededError)
    assert "request_timeout" not in emu.requests[-1].json  # not sent as a body field
    assert model.invoke("echo: fine", request_timeout=10).content == "fine"


async def test_total_timeout_per_call_is_a_deadline(make_model: Factory, emu: Emulator) -> None:
    model = make_model(max_retries=3)
    with pytest.raises(PowerTokensDeadlineExceededError):
        await model.ainvoke("hi", total_timeout=0.3, extra_headers=SLOW)
    assert emu.request_count == 1  # the deadline, not a retry, ended it
    assert "total_timeout" not in emu.requests[-1].json


def test_both_timeout_names_differently_is_an_error(make_model: Factory, emu: Emulator) -> None:
    with pytest.raises(PowerTokensRequestValidationError, match="request_timeout"):
        make_model().invoke("hi", timeout=5, request_timeout=6)
    assert emu.request_count == 0
