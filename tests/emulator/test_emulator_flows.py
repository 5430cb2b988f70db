"""The deterministic model on the prompts LlamaIndex sends (its own templates, formatted
as LlamaIndex formats them), over raw loopback HTTP: refine prompts, a JSON schema in a
``PydanticOutputParser`` format string, tool arguments filled by field name, and
reasoning that spends ``max_tokens`` first (stream and not)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from llama_index.core.prompts.chat_prompts import CHAT_REFINE_PROMPT
from llama_index.core.prompts.default_prompts import DEFAULT_REFINE_PROMPT

from .emulator_wire import chat, joined, sse_chunks

QUESTION = "What is the capital of Freedonia?"
FACT = "The capital of Freedonia is Fredville."


def _answer(client: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = client.post("/chat/completions", json=body)
    assert response.status_code == 200, response.text
    message: dict[str, Any] = response.json()["choices"][0]["message"]
    return message


def _refine_prompt(chat_template: bool, context: str, existing: str) -> str:
    args = {"context_msg": context, "query_str": QUESTION, "existing_answer": existing}
    if chat_template:
        [message] = CHAT_REFINE_PROMPT.format_messages(**args)
        return str(message.content)
    return DEFAULT_REFINE_PROMPT.format(**args)


@pytest.mark.parametrize("chat_template", [True, False], ids=["chat", "completion"])
def test_refine_rewrites_from_better_context(client: httpx.Client, chat_template: bool) -> None:
    restated = "You asked about capital Freedonia. This emulator is deterministic."
    for existing in ("Sylvania borders Freedonia to the east.", restated, ""):
        prompt = _refine_prompt(chat_template, f"Freedonia is a country. {FACT}", existing)
        assert _answer(client, chat(prompt))["content"] == FACT


@pytest.mark.parametrize("chat_template", [True, False], ids=["chat", "completion"])
def test_refine_repeats_the_answer_when_context_adds_nothing(
    client: httpx.Client, chat_template: bool
) -> None:
    prompt = _refine_prompt(chat_template, "Sylvania exports cheese.\nIt borders Freedonia.", FACT)
    message = _answer(client, chat(prompt, thinking={"type": "enabled"}))
    assert message["content"] == FACT
    assert "repeat" in message["reasoning_content"]


def test_reasoning_cut_by_max_tokens_streams_like_the_whole_reply(client: httpx.Client) -> None:
    body = chat("echo: one two three", thinking={"type": "enabled"}, max_tokens=2)
    whole = client.post("/chat/completions", json=body).json()
    message = whole["choices"][0]["message"]
    assert message["content"] == ""
    assert message["reasoning_content"] == "The user"
    assert whole["choices"][0]["finish_reason"] == "length"
    assert whole["usage"]["completion_tokens"] == 2
    assert whole["usage"]["completion_tokens_details"]["reasoning_tokens"] == 2
    chunks = sse_chunks(client.post("/chat/completions", json={**body, "stream": True}).content)
    assert joined(chunks, "reasoning_content") == "The user"
    assert joined(chunks, "content") == ""
    assert chunks[-1]["choices"][0]["finish_reason"] == "length"
    assert chunks[-1]["usage"] == whole["usage"]
