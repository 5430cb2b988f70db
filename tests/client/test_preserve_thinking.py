"""``preserve_thinking`` on the core clients: ``thinking.clear_thinking: false`` on the
wire (client default and per call, sync and async, chat and stream), merged with the
turn's own thinking, the history's reasoning sent as given, and clear errors before
anything is sent."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from powertokens import (
    AsyncPowerTokens,
    ChatCompletionRequest,
    ModelInfo,
    PowerTokens,
    RequestValidationError,
    register_model,
    unregister_model,
)
from powertokens.emulator import Emulator
from powertokens.emulator.model import generate

from .conftest import KEY, Api

PRESERVED = {"type": "enabled", "clear_thinking": False}
R1 = "\nThe user wants a plan.  "
R2 = "\n\nI should call the weather tool first.   "
R3 = "  The tool said sunny; answer briefly.\n"

HISTORY: list[dict[str, Any]] = [
    {"role": "system", "content": "You are a travel agent."},
    {"role": "user", "content": "Plan a day in Paris."},
    {"role": "assistant", "content": "Morning: Louvre.", "reasoning_content": R1},
    {"role": "user", "content": "Check the weather first."},
    {
        "role": "assistant",
        "content": "",
        "reasoning_content": R2,
        "tool_calls": [
            {
                "id": "call_1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    },
    {"role": "tool", "tool_call_id": "call_1", "content": "Sunny"},
    {"role": "assistant", "content": "It is sunny.", "reasoning_content": R3},
    {"role": "user", "content": "Great, and the evening?"},
]


def sent(emu: Emulator) -> dict[str, Any]:
    body: dict[str, Any] = emu.requests[-1].json
    return body


def sent_reasoning(body: dict[str, Any]) -> list[str | None]:
    return [m.get("reasoning_content") for m in body["messages"] if m["role"] == "assistant"]


@pytest.fixture(params=["chat", "stream"])
def stream(request: pytest.FixtureRequest) -> bool:
    return bool(request.param == "stream")


async def ask(api: Api, messages: Any, stream: bool, **params: Any) -> Any:
    if stream:
        _deltas, completion, error = await api.stream(messages, **params)
        if error is not None:
            raise error
        return completion
    return await api.chat(messages, **params)


@pytest.fixture
def preserving(api: Api) -> Api:
    """The same clients with preserve_thinking=True as their default."""
    return Api(
        api.mode,
        api.sync.with_options(preserve_thinking=True),
        api.async_.with_options(preserve_thinking=True),
    )


async def test_client_default_sends_clear_thinking_false(
    preserving: Api, emu: Emulator, stream: bool
) -> None:
    await ask(preserving, HISTORY, stream, model="glm-5")
    assert sent(emu)["thinking"] == PRESERVED
    assert sent_reasoning(sent(emu)) == [R1, R2, R3]


async def test_per_call_setting_overrides_the_default(
    api: Api, preserving: Api, emu: Emulator, stream: bool
) -> None:
    await ask(api, HISTORY, stream, preserve_thinking=True)
    assert sent(emu)["thinking"] == PRESERVED
    await ask(preserving, HISTORY, stream, preserve_thinking=False)
    assert "thinking" not in sent(emu)
    assert sent_reasoning(sent(emu)) == [R1, R2, R3]  # the history is never edited


@pytest.mark.parametrize(
    ("thinking", "wire"),
    [
        (False, {"type": "disabled", "clear_thinking": False}),
        (True, PRESERVED),
        ("disabled", {"type": "disabled", "clear_thinking": False}),
        ({"type": "enabled", "clear_thinking": False}, PRESERVED),
    ],
    ids=["off", "on", "disabled", "already-false"],
)
async def test_turn_level_thinking_is_kept(
    api: Api, emu: Emulator, stream: bool, thinking: Any, wire: dict[str, Any]
) -> None:
    await ask(api, HISTORY, stream, thinking=thinking, preserve_thinking=True)
    assert sent(emu)["thinking"] == wire


async def test_constructor_default(emu: Emulator, stream: bool) -> None:
    with PowerTokens(api_key=KEY, base_url=emu.url, preserve_thinking=True) as sync:
        async with AsyncPowerTokens(
            api_key=KEY, base_url=emu.url, preserve_thinking=True
        ) as async_:
            for mode in ("sync", "async"):
                await ask(Api(mode, sync, async_), HISTORY, stream)
                assert sent(emu)["thinking"] == PRESERVED
            assert sync.preserve_thinking is True
            assert sync.with_options(max_retries=0).preserve_thinking is True
            assert sync.with_options(preserve_thinking=False).preserve_thinking is False


async def test_request_model_and_its_thinking(api: Api, emu: Emulator, stream: bool) -> None:
    request = ChatCompletionRequest.model_validate(
        {"model": "glm-4.7", "messages": HISTORY, "thinking": {"type": "disabled"}}
    )
    await ask(api, request, stream, preserve_thinking=True)
    assert sent(emu)["thinking"] == {"type": "disabled", "clear_thinking": False}
    assert sent_reasoning(sent(emu)) == [R1, R2, R3]


async def test_generated_reasoning_round_trips(
    preserving: Api, emu: Emulator, stream: bool
) -> None:
    messages: list[Any] = [
        {"role": "system", "content": " ".join(["Answer from the handbook."] * 12)},
        {"role": "user", "content": "Which city has the oldest bridge?"},
    ]
    produced: list[str] = []
    for follow_up in ("And the newest?", "Why?"):
        answer = await ask(preserving, messages, stream, model="glm-5")
        assert answer.reasoning_content == generate(sent(emu)).reasoning != ""
        produced.append(answer.reasoning_content)
        # The answer's message goes back as it is (a model: dumped as given).
        messages += [answer.message, {"role": "user", "content": follow_up}]
    last = await ask(preserving, messages, stream, model="glm-5")
    assert sent_reasoning(sent(emu)) == produced
    assert last.usage is not None
    assert last.usage.cached_tokens > 0


# --- refused before anything is sent ------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "names"),
    [
        (
            {"thinking": {"type": "enabled", "clear_thinking": True}},
            ("thinking.clear_thinking", "preserve_thinking"),
        ),
        ({"model": "glm-4.5-air"}, ("preserve_thinking", "glm-4.5-air", "supports_preserved")),
        ({"model": "glm-9-unknown"}, ("preserve_thinking", "glm-9-unknown", "not in the model")),
        (
            {"fallback_models": ["glm-4.7", "glm-4.5-air"]},
            ("preserve_thinking", "glm-4.5-air", "fallback_models"),
        ),
        (
            {"extra_body": {"thinking": {"type": "enabled", "clear_thinking": True}}},
            ("thinking.clear_thinking", "preserve_thinking"),
        ),
    ],
    ids=["conflict", "unsupported", "unknown", "fallback", "extra-body-conflict"],
)
async def test_refused_before_sending(
    api: Api, emu: Emulator, stream: bool, params: dict[str, Any], names: Any
) -> None:
    with pytest.raises(RequestValidationError) as caught:
        await ask(api, HISTORY, stream, preserve_thinking=True, **params)
    for name in names:
        assert name in str(caught.value)
    assert emu.request_count == 0


@pytest.mark.parametrize("value", ["yes", 1, 0.0])
async def test_not_a_bool(api: Api, emu: Emulator, stream: bool, value: Any) -> None:
    with pytest.raises(RequestValidationError, match="preserve_thinking"):
        await ask(api, HISTORY, stream, preserve_thinking=value)
    with pytest.raises(RequestValidationError, match="preserve_thinking"):
        PowerTokens(api_key=KEY, preserve_thinking=value)
    assert emu.request_count == 0


@pytest.fixture
def newer_model() -> Iterator[str]:
    register_model(ModelInfo("glm-5.9", 200_000, 128_000, supports_preserved_thinking=True))
    yield "glm-5.9"
    unregister_model("glm-5.9")


def test_a_registered_model_with_the_flag_is_accepted(newer_model: str) -> None:
    from powertokens import build_body

    body = build_body(HISTORY, {"model": newer_model}, preserve_thinking=True)
    assert body["thinking"] == PRESERVED
    register_model(ModelInfo("glm-5.8", 200_000, 128_000))  # registered without the flag
    try:
        with pytest.raises(RequestValidationError, match="supports_preserved_thinking=False"):
            build_body(HISTORY, {"model": "glm-5.8"}, preserve_thinking=True)
    finally:
        unregister_model("glm-5.8")
