"""Standard content blocks for messages from this model (``model_provider="powertokens"``).

langchain-core asks a provider's registered translator for ``content_blocks`` (and,
with ``output_version="v1"``, stores them as the content). Ours gives:

* ``reasoning`` first (from ``additional_kwargs["reasoning_content"]``), then ``text``,
  then ``tool_call`` blocks (``tool_call_chunk`` blocks on a streamed chunk), and a
  ``refusal`` block when the content filter cut the answer (``finish_reason="sensitive"``);
* on stream chunks, each block kind has its own string index (``lc_rs_0``,
  ``lc_txt_0``, ``lc_tc_<i>``, ``lc_ref_0``). Core numbers unindexed blocks by
  position, so tool call 0 would share index 0 with the reasoning or text block and
  ``merge_lists`` would fuse them, losing the call (langchain-openai and
  langchain-deepseek have that bug); distinct ``lc_`` indices merge only with
  themselves.
"""

from __future__ import annotations

from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages import content as types
from langchain_core.messages.block_translators import register_translator

from ._results import PROVIDER, REFUSAL_TEXT

__all__ = ["register", "translate_content", "translate_content_chunk"]

_REASONING_INDEX = "lc_rs_0"
_TEXT_INDEX = "lc_txt_0"
_REFUSAL_INDEX = "lc_ref_0"


def _content_blocks(message: AIMessage, *, indexed: bool) -> list[types.ContentBlock]:
    blocks: list[types.ContentBlock] = []
    reasoning = message.additional_kwargs.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        reasoning_block: dict[str, Any] = {"type": "reasoning", "reasoning": reasoning}
        if indexed:
            reasoning_block["index"] = _REASONING_INDEX
        blocks.append(cast("types.ReasoningContentBlock", reasoning_block))
    content = message.content
    if isinstance(content, str):
        if content:
            text_block: dict[str, Any] = {"type": "text", "text": content}
            if indexed:
                text_block["index"] = _TEXT_INDEX
            blocks.append(cast("types.TextContentBlock", text_block))
    elif content:
        # List content (built by hand, or restored from elsewhere): core's parsing.
        parsed = BaseMessage.content_blocks.fget(message)  # type: ignore[attr-defined]
        blocks.extend(b for b in parsed if b.get("type") not in ("reasoning", "tool_call"))
    return blocks


def _refusal(message: AIMessage, *, indexed: bool) -> list[types.ContentBlock]:
    if message.response_metadata.get("finish_reason") != "sensitive":
        return []
    block: dict[str, Any] = {
        "type": "refusal",
        "refusal": REFUSAL_TEXT,
        "extras": {"finish_reason": "sensitive"},
    }
    if indexed:
        block["index"] = _REFUSAL_INDEX
    return [cast("types.RefusalContentBlock", block)]


def _tool_calls(message: AIMessage) -> list[types.ContentBlock]:
    return [
        cast(
            "types.ToolCall",
            {"type": "tool_call", "id": call.get("id"), "name": call["name"], "args": call["args"]},
        )
        for call in message.tool_calls
    ]


def translate_content(message: AIMessage) -> list[types.ContentBlock]:
    """Blocks of a whole answer: reasoning, text, tool calls, refusal."""
    blocks = _content_blocks(message, indexed=False)
    blocks.extend(_tool_calls(message))
    blocks.extend(_refusal(message, indexed=False))
    return blocks


def translate_content_chunk(message: AIMessageChunk) -> list[types.ContentBlock]:
    """Blocks of a stream chunk, each kind under its own string index.

    A chunk that is not the last one shows its tool calls as ``tool_call_chunk``
    pieces (``lc_tc_<index>``); the summed-up stream (``chunk_position="last"``)
    shows them parsed, as ``tool_call`` blocks.
    """
    blocks = _content_blocks(message, indexed=True)
    if message.tool_call_chunks and message.chunk_position != "last":
        for piece in message.tool_call_chunks:
            block: dict[str, Any] = {
                "type": "tool_call_chunk",
                "id": piece.get("id"),
                "name": piece.get("name"),
                "args": piece.get("args"),
            }
            if (index := piece.get("index")) is not None:
                block["index"] = f"lc_tc_{index}"
            blocks.append(cast("types.ToolCallChunk", block))
    else:
        blocks.extend(_tool_calls(message))
    blocks.extend(_refusal(message, indexed=True))
    return blocks


def register() -> None:
    """Register the translators with langchain-core (idempotent)."""
    register_translator(PROVIDER, translate_content, translate_content_chunk)
