"""The emulator's prompt cache on the effective prompt: preserved thinking
(``thinking.clear_thinking: false``) keeps every turn's reasoning, so a replayed
conversation hits on the previous request and its reply; without it, earlier
reasoning is cleared and fewer tokens are cached; a changed reasoning stops the hit."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from powertokens.emulator import Emulator
from powertokens.emulator.model import effective_messages, message_tokens

SYSTEM = {"role": "system", "content": " ".join(["Answer from the travel handbook."] * 12)}
PRESERVE = {"type": "enabled", "clear_thinking": False}
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}


def _post(client: httpx.Client, messages: list[Any], **extra: Any) -> dict[str, Any]:
    response = client.post(
        "/chat/completions", json={"model": "glm-5", "messages": messages, **extra}
    )
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def _cached(body: dict[str, Any]) -> int:
    value: int = body["usage"]["prompt_tokens_details"]["cached_tokens"]
    return value


def _turn(body: dict[str, Any]) -> dict[str, Any]:
    """The assistant turn as a client sends it back."""
    message = body["choices"][0]["message"]
    turn = {"role": "assistant", "content": message.get("content") or ""}
    if message.get("reasoning_content"):
        turn["reasoning_content"] = message["reasoning_content"]
    if message.get("tool_calls"):
        turn["tool_calls"] = message["tool_calls"]
    return turn


def _tokens(messages: list[Any]) -> int:
    return sum(message_tokens(m) for m in messages) // 16 * 16


def _second_turn(client: httpx.Client, **extra: Any) -> tuple[list[Any], dict[str, Any]]:
    first = [SYSTEM, {"role": "user", "content": "Which city has the oldest bridge?"}]
    reply = _post(client, first, **extra)
    assert _turn(reply).get("reasoning_content")  # glm-5 thinks by default
    follow_up = [*first, _turn(reply), {"role": "user", "content": "And the newest?"}]
    return follow_up, _post(client, follow_up, **extra)


def test_preserved_thinking_caches_the_previous_request_and_its_reply(
    client: httpx.Client,
) -> None:
    follow_up, body = _second_turn(client, thinking=PRESERVE)
    assert _cached(body) == _tokens(follow_up[:3]) > _tokens(follow_up[:2])


def test_without_preserved_thinking_the_previous_reply_is_not_cached(
    client: httpx.Client, emu: Emulator
) -> None:
    follow_up, body = _second_turn(client)
    assert _cached(body) == _tokens(follow_up[:2])
    emu.reset()
    _, preserved = _second_turn(client, thinking=PRESERVE)
    assert _cached(body) < _cached(preserved)


@pytest.mark.parametrize(
    "edit",
    [lambda r: r + " ", lambda r: "\n" + r, lambda r: r[:-1], lambda r: r.replace(".", ";", 1)],
    ids=["trailing-space", "leading-newline", "cut-short", "one-character"],
)
def test_a_modified_reasoning_gets_no_hit_past_it(client: httpx.Client, edit: Any) -> None:
    first = [SYSTEM, {"role": "user", "content": "Which city has the oldest bridge?"}]
    reply = _turn(_post(client, first, thinking=PRESERVE))
    changed = edit(reply["reasoning_content"])
    assert changed != reply["reasoning_content"]
    follow_up = [*first, {**reply, "reasoning_content": changed}, {"role": "user", "content": "?"}]
    body = _post(client, follow_up, thinking=PRESERVE)
    assert _cached(body) == _tokens(first)


def test_reasoning_is_byte_exact_in_the_fingerprint(client: httpx.Client) -> None:
    # The same turn with its reasoning exact hits past it; stripped, it does not.
    first = [SYSTEM, {"role": "user", "content": "Which city has the oldest bridge?"}]
    reply = _turn(_post(client, first, thinking=PRESERVE))
    exact = [*first, reply, {"role": "user", "content": "Why?"}]
    assert _cached(_post(client, exact, thinking=PRESERVE)) == _tokens(exact[:3])
    stripped_reply = {**reply, "reasoning_content": " " + reply["reasoning_content"] + "\n"}
    other = [*first, stripped_reply, {"role": "user", "content": "Why?"}]
    assert _cached(_post(client, other, thinking=PRESERVE)) == _tokens(first)


def test_tool_loop_reasoning_is_kept_until_the_next_user_message(client: httpx.Client) -> None:
    start = [{"role": "user", "content": "What is the weather in Paris? Use get_weather."}]
    extra = {"tools": [WEATHER]}
    calling = _turn(_post(client, start, **extra))
    assert calling.get("tool_calls")
    assert calling.get("reasoning_content")
    result = {"role": "tool", "tool_call_id": calling["tool_calls"][0]["id"], "content": "Sunny"}
    loop = [*start, calling, result]
    # Interleaved thinking: inside the tool loop the reasoning stays, so it is cached.
    answer = _post(client, loop, **extra)
    assert _cached(answer) == _tokens(loop[:2])
    assert effective_messages({"messages": loop}) == loop
    # The next user message clears the loop's reasoning: the prefix no longer matches.
    after = [*loop, _turn(answer), {"role": "user", "content": "And in Rome?"}]
    assert _cached(_post(client, after, **extra)) == 0


def test_tool_loop_with_preserved_thinking_stays_cached(client: httpx.Client) -> None:
    start = [{"role": "user", "content": "What is the weather in Paris? Use get_weather."}]
    extra = {"tools": [WEATHER], "thinking": PRESERVE}
    calling = _turn(_post(client, start, **extra))
    result = {"role": "tool", "tool_call_id": calling["tool_calls"][0]["id"], "content": "Sunny"}
    loop = [*start, calling, result]
    answer = _post(client, loop, **extra)
    after = [*loop, _turn(answer), {"role": "user", "content": "And in Rome?"}]
    assert _cached(_post(client, after, **extra)) == _tokens(after[:4])


def test_prompt_tokens_count_only_the_reasoning_the_model_sees(client: httpx.Client) -> None:
    reasoning = "I should look at the handbook's bridge chapter first. " * 4
    history = [
        SYSTEM,
        {"role": "user", "content": "Which city has the oldest bridge?"},
        {"role": "assistant", "content": "Rome.", "reasoning_content": reasoning},
        {"role": "user", "content": "And the newest?"},
    ]
    cleared = _post(client, history)["usage"]["prompt_tokens"]
    kept = _post(client, history, thinking=PRESERVE)["usage"]["prompt_tokens"]
    assert kept - cleared == message_tokens(history[2]) - message_tokens(
        {k: v for k, v in history[2].items() if k != "reasoning_content"}
    )
    assert kept > cleared


def test_effective_messages_keep_the_request_unchanged() -> None:
    history = [
        {"role": "user", "content": "q"},
        {"role": "assistant", "content": "a", "reasoning_content": "r"},
        {"role": "user", "content": "q2"},
    ]
    seen = effective_messages({"messages": history})
    assert "reasoning_content" not in seen[1]
    assert history[1]["reasoning_content"] == "r"
    assert effective_messages({"messages": history, "thinking": PRESERVE}) == history
    off = {"type": "disabled", "clear_thinking": False}
    assert effective_messages({"messages": history, "thinking": off}) == history
