"""Core results to LlamaIndex responses (pure; no I/O).

LlamaIndex conventions followed here:

* the message's blocks are ``[ThinkingBlock?, TextBlock, *ToolCallBlock]``: one
  cumulative ``TextBlock`` (``ChatMessage.content`` joins text blocks with newlines), the
  reasoning first;
* every streamed ``ChatResponse`` carries the cumulative message; ``delta`` is answer text
  only and ``additional_kwargs["thinking_delta"]`` the reasoning piece;
* usage (prompt, completion, total, cached, reasoning tokens) and ``finish_reason`` go
  into the response's ``additional_kwargs`` (streamed: from the item of the final chunk
  on); a completion's reasoning is ``additional_kwargs["reasoning_content"]`` (streamed:
  ``thinking_delta`` piece by piece, the whole on the final items);
* an answer the content filter blocked (``finish_reason="sensitive"``) is flagged:
  ``additional_kwargs["content_filtered"] = True`` and ``["refusal"]`` explaining it;
  when nothing was delivered the text is that explanation (:data:`FILTERED_TEXT`), so a
  query engine shows it instead of "Empty Response"; delivered text is kept as it is;
* ``raw`` is the :class:`powertokens.ChatCompletion` of a whole answer, or the chunk
  dict of a streamed one, so the last chunk's ``raw["usage"]`` is
  what ``TokenCountingHandler`` reads;
* tool calls appear as ``ToolCallBlock``s and, in wire form, in the message's
  ``additional_kwargs["tool_calls"]`` (LlamaIndex's streaming structured output looks
  there).

The core hands answers over already cut at every stop sequence, and accumulates tool
calls itself: streamed blocks are built from its running state.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    CompletionResponse,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from powertokens import ChatCompletion, StreamDelta, StreamedToolCall, Usage

from ._messages import wire_tool_call
from ._tools import JsonFallback, fallback_tool_call

__all__ = [
    "FILTERED_TEXT",
    "USAGE_UNKNOWN",
    "StreamState",
    "chat_response",
    "completion_response",
    "finish_kwargs",
    "tool_kwargs",
    "usage_kwargs",
]

_ASSISTANT = MessageRole.ASSISTANT

FILTERED_TEXT = (
    "[No answer: the service's content filter blocked the output (finish_reason='sensitive').]"
)
"""The text of a filtered answer that delivered nothing (flagged ``content_filtered``)."""


def fallback_kwargs(fallback_from: list[str], model: str) -> dict[str, Any]:
    """The models found overloaded (``fallback_models``) and the one that answered, as
    ``additional_kwargs`` entries; none when the model asked for answered."""
    return {"fallback_from": list(fallback_from), "model": model} if fallback_from else {}


def finish_kwargs(finish_reason: str | None) -> dict[str, Any]:
    """``finish_reason`` (and the content-filter flags) as ``additional_kwargs`` entries."""
    if finish_reason is None:
        return {}
    if finish_reason == "sensitive":
        return {"finish_reason": finish_reason, "content_filtered": True, "refusal": FILTERED_TEXT}
    return {"finish_reason": finish_reason}


def budget_kwargs(exhausted: bool) -> dict[str, bool]:
    """``additional_kwargs["thinking_exhausted_budget"] = True`` for an answer whose
    thinking used up ``max_tokens`` (``finish_reason="length"``, reasoning, no text and
    no tool call; the core warns with ``ThinkingBudgetWarning``), else nothing."""
    return {"thinking_exhausted_budget": True} if exhausted else {}


def usage_kwargs(usage: Usage | None) -> dict[str, int]:
    """Token counts as flat ``additional_kwargs`` entries (empty when unknown)."""
    if usage is None:
        return {}
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
        "cached_tokens": usage.cached_tokens,
        "reasoning_tokens": usage.reasoning_tokens,
    }


def tool_kwargs(arguments: str) -> dict[str, Any] | str:
    """A call's arguments: the decoded dict, or the text as sent when it is not (yet)
    a JSON object (a call mid-stream, or a model glitch: docs/wire.md: never crash)."""
    if not arguments:
        return {}
    try:
        value = json.loads(arguments)
    except (ValueError, RecursionError):  # nested too deep: not usable JSON
        return arguments
    return value if isinstance(value, dict) else arguments


def _thinking(reasoning: str, usage: Usage | None) -> ThinkingBlock:
    tokens = usage.reasoning_tokens if usage is not None else 0
    return ThinkingBlock(content=reasoning, num_tokens=tokens or None)


def _message(blocks: list[Any], wire_calls: list[dict[str, Any]] | None) -> ChatMessage:
    # model_construct: the fields are already the right types, and ChatMessage's
    # validation (a custom __init__ plus a validator for legacy image kwargs) costs
    # more than the rest of a streamed chunk's conversion.
    extra = {"tool_calls": wire_calls} if wire_calls else {}
    return ChatMessage.model_construct(role=_ASSISTANT, blocks=blocks, additional_kwargs=extra)


def chat_response(completion: ChatCompletion, fallback: JsonFallback | None = None) -> ChatResponse:
    """A whole answer as a ``ChatResponse``."""
    message = completion.message
    text = message.content or ""
    tool_calls = message.tool_calls or ()
    if not text and not tool_calls and completion.finish_reason == "sensitive":
        text = FILTERED_TEXT
    blocks: list[Any] = []
    if message.reasoning_content:
        blocks.append(_thinking(message.reasoning_content, completion.usage))
    blocks.append(TextBlock(text=text))
    wire_calls: list[dict[str, Any]] = []
    for position, call in enumerate(tool_calls):
        function = call.function
        blocks.append(
            ToolCallBlock(
                tool_call_id=call.id or None,
                tool_name=function.name,
                tool_kwargs=tool_kwargs(function.arguments),
            )
        )
        wire_calls.append(wire_tool_call(call.id, function.name, function.arguments, position))
    if not wire_calls and (found := fallback_tool_call(text, fallback)) is not None:
        blocks.append(found)
        wire_calls.append(wire_tool_call(found.tool_call_id, found.tool_name, found.tool_kwargs, 0))
    return ChatResponse(
        message=_message(blocks, wire_calls),
        raw=completion,
        additional_kwargs={
            **usage_kwargs(completion.usage),
            **finish_kwargs(completion.finish_reason),
            **fallback_kwargs(completion.fallback_from, completion.model),
            **budget_kwargs(completion.thinking_exhausted_budget),
        },
    )


def completion_response(completion: ChatCompletion) -> CompletionResponse:
    """A whole answer as a ``CompletionResponse`` (reasoning in ``additional_kwargs``)."""
    text = completion.content
    finish = completion.finish_reason
    if not text and finish == "sensitive" and not completion.message.tool_calls:
        text = FILTERED_TEXT
    extra: dict[str, Any] = {
        **usage_kwargs(completion.usage),
        **finish_kwargs(finish),
        **fallback_kwargs(completion.fallback_from, completion.model),
        **budget_kwargs(completion.thinking_exhausted_budget),
    }
    if completion.reasoning_content:
        extra["reasoning_content"] = completion.reasoning_content
    return CompletionResponse(text=text, raw=completion, additional_kwargs=extra)


USAGE_UNKNOWN = "stopped at a client-side stop sequence"
"""``additional_kwargs["usage_unknown"]`` on the last response of a stream that a stop
sequence the service was not sent ended on the client: the core closes the connection
at once (reading on would wait for, and bill, text nobody wants), so the usage the
service sends last never came and no token counts are reported."""


class ToolCallSource(Protocol):
    """Where a stream's running tool calls are read: a core stream or accumulator."""

    @property
    def tool_calls(self) -> list[StreamedToolCall]: ...

    @property
    def stopped_by_client(self) -> bool: ...


class StreamState:
    """Folds :class:`powertokens.StreamDelta` objects into cumulative LlamaIndex responses.

    ``feed(delta)`` returns the answer text the delta added (``""`` is possible), or
    None when the delta changed nothing a caller can see. Then
    ``chat_response``/``completion_response`` build the response for that delta. Tool
    calls are read from ``source`` (the core accumulates them); blocks that did not
    change are reused from the previous response (they are never modified), so each
    chunk costs one new ``TextBlock`` at most.
    """

    __slots__ = (
        "_blocks",
        "_fallback",
        "_found",
        "_source",
        "_text_block",
        "_thinking_block",
        "_tool_blocks",
        "_wire_calls",
        "finish_reason",
        "reasoning",
        "text",
        "usage",
    )

    def __init__(self, source: ToolCallSource, fallback: JsonFallback | None = None) -> None:
        self.text = ""
        self.reasoning = ""
        self.finish_reason: str | None = None
        self.usage: Usage | None = None
        self._source = source
        self._fallback = fallback
        self._found: ToolCallBlock | None = None
        self._blocks: dict[int, tuple[ToolCallBlock, dict[str, Any]]] = {}
        self._text_block: TextBlock | None = None
        self._thinking_block: ThinkingBlock | None = None
        self._tool_blocks: list[ToolCallBlock] = []
        self._wire_calls: list[dict[str, Any]] = []

    def feed(self, delta: StreamDelta) -> str | None:
        visible = delta.content
        if visible:
            self.text += visible
            self._text_block = None
        if delta.reasoning:
            self.reasoning += delta.reasoning
            self._thinking_block = None
        if delta.tool_calls:
            for piece in delta.tool_calls:
                self._blocks.pop(piece.index, None)  # changed: rebuilt below
            self._rebuild_calls()
        if delta.usage is not None:
            self.usage = delta.usage
            self._thinking_block = None  # now it knows its token count
        if delta.finish_reason:
            self.finish_reason = delta.finish_reason
            if not self._blocks and self._fallback is not None:
                self._found = fallback_tool_call(self.text, self._fallback)
                if self._found is not None:
                    self._rebuild_calls()
            if delta.finish_reason == "sensitive" and not self.text and not self._tool_blocks:
                visible = self.text = FILTERED_TEXT  # see the module docstring
                self._text_block = None
        elif not (visible or delta.reasoning or delta.tool_calls or delta.usage is not None):
            return None
        return visible

    def _rebuild_calls(self) -> None:
        blocks: list[ToolCallBlock] = []
        wire: list[dict[str, Any]] = []
        for position, call in enumerate(self._source.tool_calls):
            built = self._blocks.get(call.index)
            if built is None:
                arguments = call.arguments
                block = ToolCallBlock(
                    tool_call_id=call.id or None,
                    tool_name=call.name,
                    tool_kwargs=tool_kwargs(arguments),
                )
                built = (block, wire_tool_call(call.id or None, call.name, arguments, position))
                self._blocks[call.index] = built
            blocks.append(built[0])
            wire.append(built[1])
        found = self._found
        if not blocks and found is not None:
            blocks.append(found)
            wire.append(wire_tool_call(found.tool_call_id, found.tool_name, found.tool_kwargs, 0))
        self._tool_blocks = blocks
        self._wire_calls = wire

    def _extra(self, delta: StreamDelta) -> dict[str, Any]:
        extra: dict[str, Any] = usage_kwargs(delta.usage) if delta.usage is not None else {}
        if delta.reasoning:
            extra["thinking_delta"] = delta.reasoning
        if delta.finish_reason and self.usage is None and self._source.stopped_by_client:
            extra["usage_unknown"] = USAGE_UNKNOWN
        if self.finish_reason is not None:  # the final items only
            extra.update(finish_kwargs(self.finish_reason))
            fallback_from = getattr(self._source, "fallback_from", None)
            if fallback_from:  # the core stream's: which models were overloaded
                extra.update(fallback_kwargs(fallback_from, delta.model))
            if self.finish_reason == "length" and self.reasoning and not self.text:
                extra.update(budget_kwargs(not self._tool_blocks))
        return extra

    def chat_response(self, delta: StreamDelta, visible: str) -> ChatResponse:
        blocks: list[Any] = []
        if self.reasoning:
            if self._thinking_block is None:
                self._thinking_block = _thinking(self.reasoning, self.usage)
            blocks.append(self._thinking_block)
        if self._text_block is None:
            self._text_block = TextBlock(text=self.text)
        blocks.append(self._text_block)
        if self._tool_blocks:
            blocks.extend(self._tool_blocks)
        return ChatResponse(
            message=_message(blocks, self._wire_calls),
            delta=visible,
            raw=delta.chunk,
            additional_kwargs=self._extra(delta),
        )

    def completion_response(self, delta: StreamDelta, visible: str) -> CompletionResponse:
        extra = self._extra(delta)
        if self.finish_reason is not None and self.reasoning:
            extra["reasoning_content"] = self.reasoning  # as complete() gives it
        return CompletionResponse(
            text=self.text, delta=visible, raw=delta.chunk, additional_kwargs=extra
        )
