"""Faults surface as the core's errors: retried rate limits, auth errors, broken
streams carrying their partial output, and validation before anything is sent."""

from __future__ import annotations

import pytest
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.tools import FunctionTool

from llama_index_powertokens import PowerTokens
from powertokens import (
    AuthenticationError,
    RateLimitError,
    RequestValidationError,
    StreamInterruptedError,
)
from powertokens.emulator import Emulator

from .conftest import Runner, user

LONG = "echo: " + " ".join(f"word{i}" for i in range(40))


@pytest.mark.parametrize("streaming", [False, True])
async def test_rate_limit_then_success(run: Runner, emu: Emulator, streaming: bool) -> None:
    emu.push_fault("429:1302:retry-after-ms=1")
    if streaming:
        text = (await run.stream_chat(user("echo: made it")))[-1].message.content
    else:
        text = (await run.chat(user("echo: made it"))).message.content
    assert text == "made it"
    assert emu.request_count == 2


@pytest.mark.parametrize("streaming", [False, True])
async def test_auth_error_is_not_retried(emu: Emulator, streaming: bool) -> None:
    llm = PowerTokens(api_key="wrong", base_url=emu.url)
    run = Runner("async" if streaming else "sync", llm)
    with pytest.raises(AuthenticationError) as info:
        await (run.stream_chat if streaming else run.chat)(user("hi"))
    llm.close()
    await llm.aclose()
    assert info.value.status_code == 401
    assert info.value.request_id
    assert emu.request_count == 1


async def test_stream_cut_mid_answer_raises_with_partial(run: Runner, emu: Emulator) -> None:
    run.llm.thinking = False
    emu.push_fault("cut:6")
    seen: list[str] = []

    async def drain() -> None:
        if run.mode == "sync":
            for response in run.llm.stream_chat(user(LONG)):
                seen.append(response.delta or "")
        else:
            async for response in await run.llm.astream_chat(user(LONG)):
                seen.append(response.delta or "")

    with pytest.raises(StreamInterruptedError) as info:
        await drain()
    assert seen
    assert "".join(seen) == info.value.partial.content
    assert emu.request_count == 1  # never re-sent after delivery


async def test_in_stream_overload_after_output_raises(run: Runner, emu: Emulator) -> None:
    emu.push_fault("stream-error:1305:after=3")
    with pytest.raises(RateLimitError) as info:
        await run.stream_chat(user(LONG))
    assert info.value.code == "1305"
    assert emu.request_count == 1


def _bad_tool(x: int) -> int:
    """Doubles x."""
    return 2 * x


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"temperature": 1.5}, "temperature"),
        ({"top_p": 0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"thinking": "maybe"}, "thinking.type"),
        ({"max_tokens": 200_000}, "max_tokens"),  # above glm-5-turbo's 128K output
    ],
)
@pytest.mark.parametrize("method", ["chat", "stream_chat", "complete", "stream_complete"])
async def test_validation_before_any_request(
    run: Runner, emu: Emulator, kwargs: dict[str, object], field: str, method: str
) -> None:
    call = getattr(run, method)
    argument = "hi" if "complete" in method else user("hi")
    with pytest.raises(RequestValidationError) as info:
        await call(argument, **kwargs)
    assert info.value.field == field
    assert emu.request_count == 0


@pytest.mark.parametrize("method", ["chat", "stream_chat"])
async def test_tool_validation_before_any_request(run: Runner, emu: Emulator, method: str) -> None:
    tool = FunctionTool.from_defaults(_bad_tool, name="x" * 65)
    with pytest.raises(RequestValidationError) as info:
        await getattr(run, method)(user("hi"), tools=[tool])
    assert info.value.field == "tools[0].function.name"
    assert emu.request_count == 0


def test_stream_validation_raises_at_the_call_not_on_iteration(
    llm: PowerTokens, emu: Emulator
) -> None:
    with pytest.raises(RequestValidationError):
        llm.stream_chat(user("hi"), temperature=9)
    assert emu.request_count == 0


def test_messages_the_api_rejects_fail_early(llm: PowerTokens, emu: Emulator) -> None:
    with pytest.raises(RequestValidationError) as info:
        llm.chat([ChatMessage(role="system", content="Only a system prompt.")])
    assert info.value.field == "messages"
    with pytest.raises(RequestValidationError) as info:
        llm.chat([ChatMessage(role="tool", content="orphan result")])  # no tool_call_id
    assert info.value.field == "messages[0].tool_call_id"
    assert emu.request_count == 0


def test_bad_settings_fail_at_construction() -> None:
    with pytest.raises(RequestValidationError) as info:
        PowerTokens(api_key="k", temperature=2)
    assert info.value.field == "temperature"
    with pytest.raises(RequestValidationError) as info:
        PowerTokens(api_key="k", model="glm-5", max_tokens=500_000)
    assert info.value.field == "max_tokens"
    with pytest.raises(ValueError, match="base_url"):
        PowerTokens(api_key="k", base_url="ftp://example.com")


def test_missing_key_fails_before_sending(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("POWERTOKENS_API_KEY", raising=False)
    llm = PowerTokens(base_url=emu.url)
    with pytest.raises(RequestValidationError) as info:
        llm.chat(user("hi"))
    assert info.value.field == "api_key"
    assert emu.request_count == 0
