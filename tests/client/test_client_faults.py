"""Every scripted fault of the emulator, sync and async, stream and not, with its outcome."""

from __future__ import annotations

from typing import Any

import pytest

from powertokens import (
    APIConnectionError,
    APITimeoutError,
    AsyncPowerTokens,
    ContentFilterError,
    ContextOverflowError,
    InternalServerError,
    PowerTokens,
    QuotaExceededError,
    RateLimitError,
    RetryPolicy,
    StreamInterruptedError,
    Timeout,
)
from powertokens.emulator import Emulator

from .conftest import FAST_RETRIES, KEY, Api

MESSAGES = [{"role": "user", "content": "Explain vector databases in three sentences."}]


def bodies(emu: Emulator) -> list[Any]:
    return [e["json"] if isinstance(e, dict) else e.json for e in emu.requests]


# --- retried, then success ---------------------------------------------------------

RETRIED = ["429:1302", "429:1303", "429:1305", "429:rate_limit_exceeded", "500:1234",
           "html:502", "empty:503", "html:500", "429:1302:retry-after-ms=5",
           "429:1305:retry-after=0.01"]  # fmt: skip


@pytest.mark.parametrize("fault", RETRIED)
async def test_retryable_errors_are_retried_then_succeed(
    api: Api, emu: Emulator, fault: str
) -> None:
    emu.push_fault(fault, times=2)
    answer = await api.chat(MESSAGES)
    assert answer.content
    assert emu.request_count == 3  # two failures, then success: max_retries=2 exactly
    first, *rest = bodies(emu)
    assert all(b == first for b in rest)  # the same body on every attempt


@pytest.mark.parametrize("fault", ["429:1302", "html:502"])
async def test_retries_stop_at_max_retries(api: Api, emu: Emulator, fault: str) -> None:
    emu.push_fault(fault, times=5)
    with pytest.raises((RateLimitError, InternalServerError)):
        await api.chat(MESSAGES)
    assert emu.request_count == 3


@pytest.mark.parametrize("max_retries", [0, 1, 3])
def test_max_retries_is_respected_exactly(emu: Emulator, max_retries: int) -> None:
    emu.push_fault("429:1302", times=10)
    with PowerTokens(api_key=KEY, base_url=emu.url, max_retries=max_retries) as client:
        client.retry_policy = RetryPolicy(max_retries, initial_delay=0.001, max_delay=0.002)
        with pytest.raises(RateLimitError):
            client.chat(MESSAGES)
    assert emu.request_count == max_retries + 1


async def test_streams_are_retried_before_anything_is_delivered(api: Api, emu: Emulator) -> None:
    emu.push_fault("429:1302", times=1)
    emu.push_fault("stream-error:1305", times=1)  # an in-stream error as the first event
    deltas, final, error = await api.stream(MESSAGES)
    assert error is None
    assert final is not None
    assert final.finish_reason == "stop"
    assert emu.request_count == 3
    assert "".join(d.content for d in deltas) == final.content  # nothing duplicated


# --- raised at once ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("fault", "cls"),
    [
        ("quota:1308", QuotaExceededError),
        ("quota:1113", QuotaExceededError),
        ("quota:1304", QuotaExceededError),
        ("400:1261", ContextOverflowError),
        ("400:1301", ContentFilterError),
    ],
)
async def test_non_retryable_errors_are_raised_once(
    api: Api, emu: Emulator, fault: str, cls: type[Exception]
) -> None:
    emu.push_fault(fault, times=3)
    with pytest.raises(cls) as err:
        await api.chat(MESSAGES)
    assert emu.request_count == 1
    assert getattr(err.value, "request_id", None)


async def test_quota_error_names_the_reset_time(api: Api, emu: Emulator) -> None:
    emu.push_fault("quota:1308")
    with pytest.raises(QuotaExceededError) as err:
        await api.chat(MESSAGES)
    assert err.value.code == "1308"
    assert err.value.resets_at is not None


async def test_server_delay_above_the_limit_is_not_waited_for(api: Api, emu: Emulator) -> None:
    emu.push_fault("429:1302:retry-after=3600")
    with pytest.raises(RateLimitError) as err:
        await api.chat(MESSAGES)
    assert err.value.retry_after == 3600.0
    assert emu.request_count == 1


# --- streams broken after delivery: raised with the partial output, never re-sent ----


async def _reference(api: Api) -> str:
    return (await api.chat(MESSAGES, thinking=False)).content


@pytest.mark.parametrize(
    ("fault", "message"),
    [("cut:4", "broke"), ("malformed:4", "malformed"), ("done-no-finish:4", "without a finish")],
)
async def test_broken_stream_raises_with_partial_output(
    api: Api, emu: Emulator, fault: str, message: str
) -> None:
    full = await _reference(api)
    emu.reset()
    emu.push_fault(fault)
    deltas, final, error = await api.stream(MESSAGES, thinking=False)
    assert final is None
    assert isinstance(error, StreamInterruptedError)
    assert message in str(error)
    received = "".join(d.content for d in deltas)
    assert received
    assert full.startswith(received)  # a prefix of the real answer: nothing duplicated
    assert error.partial_text == received
    assert emu.request_count == 1  # never re-sent after delivery


async def test_in_stream_error_after_delivery_is_raised_typed(api: Api, emu: Emulator) -> None:
    emu.push_fault("stream-error:1305:after=3")
    deltas, _, error = await api.stream(MESSAGES, thinking=False)
    assert isinstance(error, RateLimitError)
    assert error.status_code == 200
    assert error.partial_text == "".join(d.content for d in deltas)
    assert emu.request_count == 1


async def test_cut_before_any_output_is_retried(api: Api, emu: Emulator) -> None:
    emu.push_fault("cut:0")
    _, final, error = await api.stream(MESSAGES)
    assert error is None
    assert final is not None
    assert emu.request_count == 2


async def test_non_stream_cut_is_a_connection_error_retried(api: Api, emu: Emulator) -> None:
    emu.push_fault("cut:0", times=1)
    assert (await api.chat(MESSAGES)).content
    assert emu.request_count == 2


# --- timeouts ----------------------------------------------------------------------


def _clients(emu: Emulator, timeout: Timeout) -> tuple[PowerTokens, AsyncPowerTokens]:
    sync = PowerTokens(api_key=KEY, base_url=emu.url, timeout=timeout, max_retries=0)
    async_ = AsyncPowerTokens(api_key=KEY, base_url=emu.url, timeout=timeout, max_retries=0)
    return sync, async_


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_stall_mid_stream_fires_the_idle_timeout(emu: Emulator, mode: str) -> None:
    emu.push_fault("stall:3:30")
    sync, async_ = _clients(emu, Timeout(stream_idle=0.2))
    api = Api(mode, sync, async_)
    deltas, final, error = await api.stream(MESSAGES, thinking=False)
    sync.close()
    await async_.close()
    assert final is None
    assert isinstance(error, StreamInterruptedError)
    assert isinstance(error.__cause__, APITimeoutError)
    assert error.partial_text == "".join(d.content for d in deltas)
    assert deltas


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_slow_answer_fires_the_read_timeout(emu: Emulator, mode: str) -> None:
    emu.push_fault("delay:2000")
    sync, async_ = _clients(emu, Timeout(read=0.1))
    api = Api(mode, sync, async_)
    with pytest.raises(APITimeoutError):
        await api.chat(MESSAGES)
    sync.close()
    await async_.close()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_connection_refused(mode: str) -> None:
    with Emulator() as dead:
        url = dead.url  # a port that was just free, now closed
    sync = PowerTokens(api_key=KEY, base_url=url)
    async_ = AsyncPowerTokens(api_key=KEY, base_url=url)
    sync.retry_policy = async_.retry_policy = FAST_RETRIES
    api = Api(mode, sync, async_)
    with pytest.raises(APIConnectionError):
        await api.chat(MESSAGES)
    _, _, error = await api.stream(MESSAGES)
    assert isinstance(error, APIConnectionError)
    sync.close()
    await async_.close()


# --- finish reasons ----------------------------------------------------------------


@pytest.mark.parametrize(
    "reason", ["sensitive", "network_error", "length", "model_context_window_exceeded"]
)
async def test_finish_reasons_are_surfaced(api: Api, emu: Emulator, reason: str) -> None:
    emu.push_fault(f"finish:{reason}", times=2)
    whole = await api.chat(MESSAGES)
    _, final, error = await api.stream(MESSAGES)
    assert error is None
    assert final is not None
    assert whole.finish_reason == final.finish_reason == reason
    assert final.content == whole.content


async def test_usage_sent_twice_is_counted_once(api: Api, emu: Emulator) -> None:
    emu.push_fault("usage-chunk")
    deltas, final, _ = await api.stream(MESSAGES)
    assert final is not None
    assert sum(d.usage is not None for d in deltas) == 1
