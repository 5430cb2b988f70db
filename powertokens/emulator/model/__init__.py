"""The emulator's deterministic "model": a validated request in, a :class:`Reply` out.

This package holds the model's parts: :mod:`.answers`, :mod:`.tools` and :mod:`.fields`
(tool calls and JSON filled by field name), :mod:`.react`, :mod:`.text` (tokens and
sentences) and :mod:`.cache` (the prompt cache).

Pure functions, no I/O: the same request always gets the same reply (only ids and
timestamps, added by the wire layer, differ). Rules, first match wins:

0. The system prompt describes tools in ReAct text form (LlamaIndex ``ReActAgent``):
   answer with ``Thought:``/``Action:``/``Action Input:`` or ``Answer:`` text
   (see :mod:`.react`).
1. The last message is a tool result: answer from the results ("According to ..."),
   except after a hand-off (LlamaIndex ``AgentWorkflow``'s ``handoff`` tool): the agent
   handed the request serves it, as in rule 2.
2. Tools are offered: call the ones the user text asks for (see :mod:`.tools`), each at
   most once per user turn; content ``""``, finish ``tool_calls``.
3. ``echo:`` in the last user message: reply with the text after it, verbatim.
4. Answer from the conversation's context, or restate the question (see :mod:`.answers`);
   a JSON object when JSON is asked for; a note about images comes first.

Thinking is on when ``thinking.type`` is ``"enabled"``, or absent and the model thinks by
default (docs/wire.md "Models"); glm-4.5-air ("dynamic") thinks when the last user text
has a "?" or more than 12 words. Reasoning is one or two sentences about the plan.

``stop`` cuts the content before the stop sequence. ``max_tokens`` counts reasoning first:
when the reasoning alone reaches it, the reply is the reasoning cut to ``max_tokens`` with
no content and no tool call (finish ``length``, the thinking used up the budget); else the
content is cut to what the reasoning left (finish ``length``). Usage is counted on the
*effective* prompt (:func:`effective_messages`): the messages as the model sees them,
where the reasoning of assistant turns before the last user message is dropped unless the
request sends ``thinking.clear_thinking: false`` (preserved thinking; the current tool
loop's reasoning, after the last user message, is always kept). Prompt = tokens of every
message text and kept ``reasoning_content`` + 4 per message (+ tool-call arguments, + 85
per image) + tokens of the tool schemas; completion = reasoning + content + tool-argument
tokens; ``cached_tokens`` = prompt tokens of the first ``cached_messages`` effective
messages, rounded down to a multiple of 16.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from powertokens._catalog import KNOWN_MODELS

from .answers import (
    Answer,
    context_answer,
    echo_text,
    image_note,
    json_answer,
    message_text,
    refine_answer,
    tool_results_answer,
)
from .react import react_reply, react_tools
from .text import count_tokens, pieces
from .tools import parse_tools, plan_calls

__all__ = [
    "Reply",
    "ToolCall",
    "Usage",
    "effective_messages",
    "generate",
    "message_tokens",
    "prompt_tokens",
    "reply_message",
    "thinking_enabled",
]

_PER_MESSAGE = 4
_PER_IMAGE = 85
_CACHE_BLOCK = 16
_DYNAMIC_WORDS = 12
_HANDOFF = "handoff"
TRUNCATING_FINISHES = frozenset(
    {"sensitive", "network_error", "length", "model_context_window_exceeded"}
)


@dataclass(frozen=True)
class ToolCall:
    """One tool call of a reply; ``arguments`` is the JSON string sent on the wire."""

    id: str
    name: str
    arguments: str


@dataclass(frozen=True)
class Usage:
    """Token counts of one request."""

    prompt_tokens: int
    completion_tokens: int
    cached_tokens: int = 0
    reasoning_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    def as_dict(self) -> dict[str, Any]:
        """The wire form (docs/wire.md "Answers")."""
        return {
            "prompt_tokens": self.prompt_tokens,
            "completion_tokens": self.completion_tokens,
            "total_tokens": self.total_tokens,
            "prompt_tokens_details": {"cached_tokens": self.cached_tokens},
            "completion_tokens_details": {"reasoning_tokens": self.reasoning_tokens},
        }


@dataclass(frozen=True)
class Reply:
    """What the model answered, before it is put on the wire."""

    reasoning: str
    content: str
    tool_calls: tuple[ToolCall, ...]
    finish_reason: str
    usage: Usage


def _image_count(message: dict[str, Any]) -> int:
    content = message.get("content")
    if not isinstance(content, list):
        return 0
    return sum(1 for p in content if isinstance(p, dict) and p.get("type") == "image_url")


def message_tokens(message: dict[str, Any]) -> int:
    """Prompt tokens one message costs (its ``reasoning_content`` included: pass the
    effective messages, :func:`effective_messages`)."""
    tokens = count_tokens(message_text(message)) + _PER_MESSAGE
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        tokens += count_tokens(reasoning)
    tokens += _PER_IMAGE * _image_count(message)
    for call in message.get("tool_calls") or []:
        function = call.get("function") if isinstance(call, dict) else None
        if isinstance(function, dict):
            arguments = function.get("arguments")
            if not isinstance(arguments, str):
                arguments = json.dumps(arguments, ensure_ascii=False)
            tokens += count_tokens(str(function.get("name", ""))) + count_tokens(arguments)
    return tokens


def effective_messages(request: dict[str, Any]) -> list[dict[str, Any]]:
    """The messages as the model sees them (``docs/wire.md``, "Thinking").

    With ``thinking.clear_thinking: false`` (preserved thinking) every assistant turn
    keeps its ``reasoning_content``. Otherwise the reasoning of the assistant turns
    before the last user message is dropped; the turns after it (the current tool
    loop: interleaved thinking) keep theirs. A new list; the request is not changed.
    """
    messages: list[dict[str, Any]] = request["messages"]
    thinking = request.get("thinking")
    if isinstance(thinking, dict) and thinking.get("clear_thinking") is False:
        return list(messages)
    last_user = next(
        (i for i in range(len(messages) - 1, -1, -1) if messages[i].get("role") == "user"), 0
    )
    return [
        {k: v for k, v in m.items() if k != "reasoning_content"}
        if i < last_user and m.get("role") == "assistant" and "reasoning_content" in m
        else m
        for i, m in enumerate(messages)
    ]


def reply_message(reply: Reply) -> dict[str, Any]:
    """The assistant turn a client sends back for ``reply`` (for the prompt cache)."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            {"id": c.id, "type": "function", "function": {"name": c.name, "arguments": c.arguments}}
            for c in reply.tool_calls
        ]
    return message


def prompt_tokens(request: dict[str, Any]) -> int:
    """Prompt tokens of a whole request (its effective messages and tool schemas)."""
    total = sum(message_tokens(m) for m in effective_messages(request))
    tools = request.get("tools")
    if tools:
        total += count_tokens(json.dumps(tools, ensure_ascii=False))
    return total


def _last_user(messages: list[dict[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = next((m for m in reversed(messages) if m.get("role") == "user"), {})
    return found


def thinking_enabled(request: dict[str, Any]) -> bool:
    """Whether the reply carries reasoning (docs/wire.md "Models": thinking default)."""
    thinking = request.get("thinking")
    if isinstance(thinking, dict) and thinking.get("type") in ("enabled", "disabled"):
        return bool(thinking["type"] == "enabled")
    # The service's own facts: a model registered in this process does not change it.
    info = KNOWN_MODELS.get(str(request.get("model")))
    default = info.thinking_default if info is not None else "dynamic"
    if default == "enabled":
        return True
    text = message_text(_last_user(request["messages"]))
    return "?" in text or len(text.split()) > _DYNAMIC_WORDS


def _trailing_calls(messages: list[dict[str, Any]], stop_role: str) -> list[str]:
    """Names of the tool calls in the messages after the last ``stop_role`` message."""
    names: list[str] = []
    for message in reversed(messages):
        if message.get("role") == stop_role:
            break
        for call in message.get("tool_calls") or []:
            function = call.get("function") if isinstance(call, dict) else None
            if isinstance(function, dict):
                names.append(str(function.get("name", "")))
    return names


def _called_since_user(messages: list[dict[str, Any]]) -> set[str]:
    return set(_trailing_calls(messages, "user"))


def _handed_off(messages: list[dict[str, Any]]) -> bool:
    """The conversation ends with the result of a hand-off to this agent (LlamaIndex's
    ``handoff`` tool): the request is still to be served, not answered from the result."""
    last_call = next((m for m in reversed(messages) if m.get("tool_calls")), None)
    names = _trailing_calls([last_call], "") if last_call else []
    return bool(names) and all(n == _HANDOFF for n in names)


def _call_id(seed: int, key: str, index: int, name: str, arguments: str) -> str:
    digest = hashlib.sha256(f"{seed}|{key}|{index}|{name}|{arguments}".encode()).hexdigest()
    return f"call_{digest[:24]}"


def _text_answer(request: dict[str, Any], seed: int) -> Answer:
    messages: list[dict[str, Any]] = request["messages"]
    last_user = _last_user(messages)
    user_text = message_text(last_user)
    echoed = echo_text(user_text)
    if echoed is not None:
        return Answer(echoed, "The user wants the text after echo: back verbatim.")
    refined = refine_answer(user_text)
    if refined is not None:
        return refined
    system_text = "\n".join(message_text(m) for m in messages if m.get("role") == "system")
    answer, question = context_answer(messages, user_text, seed)
    as_json = json_answer(answer, question, system_text, user_text)
    if as_json is not None:
        return as_json
    note = image_note(last_user)
    if note:
        return Answer(f"{note} {answer.text}", f"{answer.reasoning} The user sent images.")
    return answer


def _truncate_tokens(text: str, limit: int) -> str:
    kept: list[str] = []
    used = 0
    for piece in pieces(text):
        cost = count_tokens(piece)
        if used + cost > limit:
            break
        kept.append(piece)
        used += cost
    return "".join(kept)


def _stop_sequence(request: dict[str, Any]) -> str:
    stop = request.get("stop")
    if isinstance(stop, list):
        stop = stop[0] if stop else None
    return stop if isinstance(stop, str) else ""


def generate(
    request: dict[str, Any],
    *,
    cached_messages: int = 0,
    seed: int = 0,
    finish_override: str | None = None,
) -> Reply:
    """Answer a validated chat request.

    ``cached_messages`` is how many leading messages a prompt cache already holds;
    ``finish_override`` (a fault) cuts the reply short with that finish reason.
    """
    messages: list[dict[str, Any]] = request["messages"]
    tools = parse_tools(request.get("tools"))
    calls: tuple[ToolCall, ...] = ()
    finish = "stop"
    system_text = "\n".join(message_text(m) for m in messages if m.get("role") == "system")
    react = react_tools(system_text)
    if react is not None:
        answer = Answer(*react_reply(messages, react, seed))
    elif messages[-1].get("role") == "tool" and not _handed_off(messages):
        answer = tool_results_answer(messages)
    else:
        user_text = message_text(_last_user(messages))
        called = _called_since_user(messages)
        tools = [t for t in tools if t.name not in called]
        planned = plan_calls(tools, user_text, system_text) if tools else []
        if planned:
            key = json.dumps(messages, sort_keys=True, ensure_ascii=False)
            built = []
            for index, call in enumerate(planned):
                arguments = json.dumps(call.arguments, ensure_ascii=False)
                built.append(
                    ToolCall(_call_id(seed, key, index, call.name, arguments), call.name, arguments)
                )
            calls = tuple(built)
            names = ", ".join(dict.fromkeys(c.name for c in calls))
            answer = Answer("", f"The request fits the tool {names}; I will call it.")
            finish = "tool_calls"
        else:
            answer = _text_answer(request, seed)
    content = answer.text
    stop = _stop_sequence(request)
    if stop and stop in content:
        content = content[: content.index(stop)]
    reasoning = answer.reasoning if thinking_enabled(request) else ""
    reasoning_tokens = count_tokens(reasoning)
    max_tokens = request.get("max_tokens")
    if isinstance(max_tokens, int):
        # Thinking is generated first and spends the budget first (docs/wire.md).
        if reasoning_tokens >= max_tokens:
            if reasoning_tokens > max_tokens or content or calls:
                reasoning = _truncate_tokens(reasoning, max_tokens)
                reasoning_tokens = count_tokens(reasoning)
                content, calls, finish = "", (), "length"
        elif count_tokens(content) > max_tokens - reasoning_tokens:
            content = _truncate_tokens(content, max_tokens - reasoning_tokens)
            finish = "length"
    if finish_override in TRUNCATING_FINISHES:
        half = count_tokens(content) // 2
        content = "" if finish_override == "sensitive" else _truncate_tokens(content, half)
        calls = ()
        finish = str(finish_override)
    completion = (
        reasoning_tokens + count_tokens(content) + sum(count_tokens(c.arguments) for c in calls)
    )
    prompt = prompt_tokens(request)
    cached = sum(message_tokens(m) for m in effective_messages(request)[:cached_messages])
    cached = min(cached, prompt) // _CACHE_BLOCK * _CACHE_BLOCK
    return Reply(
        reasoning=reasoning,
        content=content,
        tool_calls=calls,
        finish_reason=finish,
        usage=Usage(prompt, completion, cached, reasoning_tokens),
    )
