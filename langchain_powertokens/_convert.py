"""Pure conversion of LangChain messages to wire message dicts (the answers come back
through ``_results``).

Nothing here does I/O, so every rule is tested directly (``tests/langchain/test_convert.py``).
Wire rules come from WIRE.md:

* content is a string or ``text`` / ``image_url`` parts; images in every form LangChain
  users write them become ``image_url`` parts with an http(s) URL or a data URI;
* assistant turns carry ``tool_calls`` (arguments as a JSON string) and, for
  interleaved thinking, the turn's ``reasoning_content``;
* tool results are ``{"role": "tool", "tool_call_id", "content"}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from powertokens import RequestValidationError

__all__ = ["add_tool_hint", "message_to_wire", "messages_to_wire"]

_ROLES = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
}
_IMAGE_TYPES = frozenset({"image", "image_url", "input_image"})
# Blocks that describe the assistant's own output; on input they are carried by
# ``tool_calls`` / ``reasoning_content`` instead of content parts.
_OUTPUT_ONLY_TYPES = frozenset(
    {"tool_use", "tool_call", "tool_call_chunk", "invalid_tool_call", "function_call", "refusal"}
)
_MAGIC_MIME = (
    ("iVBORw0KGgo", "image/png"),
    ("/9j/", "image/jpeg"),
    ("R0lGOD", "image/gif"),
    ("UklGR", "image/webp"),
)


# --- messages to the wire ------------------------------------------------------------


def messages_to_wire(
    messages: Sequence[BaseMessage], *, send_reasoning: bool = True
) -> list[dict[str, Any]]:
    """The wire ``messages`` list; raises :class:`RequestValidationError` for content the
    API cannot take (audio, PDF ...), before anything is sent."""
    return [message_to_wire(m, i, send_reasoning=send_reasoning) for i, m in enumerate(messages)]


def message_to_wire(
    message: BaseMessage, index: int = 0, *, send_reasoning: bool = True
) -> dict[str, Any]:
    """One LangChain message as a wire message dict."""
    where = f"messages[{index}]"
    if isinstance(message, HumanMessage):
        wire: dict[str, Any] = {"role": "user", "content": _parts(message.content, where)}
        if message.name:
            wire["name"] = message.name  # dropped by the gateway, kept by direct endpoints
        return wire
    if isinstance(message, AIMessage):
        return _assistant(message, send_reasoning)
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": _text_only(message.content, where)}
    if isinstance(message, ToolMessage):
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _parts(message.content, where, tool=True),
        }
    if isinstance(message, ChatMessage):
        role = _ROLES.get(message.role)
        if role is None:
            raise RequestValidationError(
                f"{where}.role", "must be user, assistant, system or tool", message.role
            )
        if role == "assistant":
            return _assistant(AIMessage(content=message.content), send_reasoning)
        return {"role": role, "content": _parts(message.content, where)}
    raise RequestValidationError(
        where,
        "must be a System, Human, AI or Tool message (or a ChatMessage with one of those roles)",
        type(message).__name__,
    )


def _assistant(message: AIMessage, send_reasoning: bool) -> dict[str, Any]:
    content = message.content
    reasoning = message.additional_kwargs.get("reasoning_content") if send_reasoning else None
    if isinstance(content, str):
        text = content
    else:
        texts: list[str] = []
        thoughts: list[str] = []
        for block in content:
            if isinstance(block, str):
                texts.append(block)
                continue
            kind = block.get("type")
            if kind == "text":
                texts.append(block.get("text") or "")
            elif kind == "reasoning":
                thoughts.append(block.get("reasoning") or "")
            elif kind == "thinking":  # Anthropic's form
                thoughts.append(block.get("thinking") or "")
        text = "".join(texts)
        if send_reasoning and not reasoning and thoughts:
            reasoning = "".join(thoughts)
    wire: dict[str, Any] = {"role": "assistant", "content": text}
    calls = [
        {
            "id": call.get("id") or "",
            "type": "function",
            "function": {
                "name": call["name"],
                "arguments": json.dumps(call["args"], ensure_ascii=False),
            },
        }
        for call in message.tool_calls
    ]
    # A glitched call stays in history as the model wrote it, so its tool result still
    # has a call to answer.
    calls.extend(
        {
            "id": bad.get("id") or "",
            "type": "function",
            "function": {"name": bad.get("name") or "", "arguments": bad.get("args") or ""},
        }
        for bad in message.invalid_tool_calls
    )
    if calls:
        wire["tool_calls"] = calls
    if reasoning and isinstance(reasoning, str):
        wire["reasoning_content"] = reasoning
    return wire


def _parts(content: str | list[Any], where: str, *, tool: bool = False) -> str | list[Any]:
    """User / tool content: a string, or text and ``image_url`` parts when images are in it."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    has_image = False
    for j, block in enumerate(content):
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
            continue
        kind = block.get("type")
        if kind in ("text", "text-plain") and isinstance(block.get("text"), str):
            parts.append({"type": "text", "text": block["text"]})
        elif kind in _IMAGE_TYPES:
            url = _image_url(block, f"{where}.content[{j}]")
            parts.append({"type": "image_url", "image_url": {"url": url}})
            has_image = True
        elif kind in _OUTPUT_ONLY_TYPES or kind in ("reasoning", "thinking"):
            continue
        elif tool and kind is None:
            # Tool results are often plain JSON-able dicts.
            parts.append({"type": "text", "text": json.dumps(block, ensure_ascii=False)})
        else:
            raise RequestValidationError(
                f"{where}.content[{j}].type",
                "this API takes text and images only (text, image_url, image)",
                kind,
            )
    if has_image:
        return parts
    return "\n".join(part["text"] for part in parts)


def _text_only(content: str | list[Any], where: str) -> str:
    flat = _parts(content, where)
    if isinstance(flat, str):
        return flat
    raise RequestValidationError(f"{where}.content", "a system message takes text only", "image")


def _image_url(block: Mapping[str, Any], where: str) -> str:
    """The URL or data URI of an image block in any of LangChain's forms."""
    url: Any = None
    data: Any = None
    mime: Any = block.get("mime_type")
    if block.get("type") in ("image_url", "input_image"):
        image = block.get("image_url")
        url = image.get("url") if isinstance(image, Mapping) else image
    elif block.get("url"):  # v1 {"type": "image", "url"} and v0 source_type "url"
        url = block["url"]
    elif block.get("base64"):  # v1 {"type": "image", "base64", "mime_type"}
        data = block["base64"]
    elif block.get("source_type") == "base64":  # v0
        data = block.get("data")
    elif isinstance(source := block.get("source"), Mapping):  # Anthropic's form
        if source.get("type") == "base64":
            data, mime = source.get("data"), source.get("media_type") or mime
        else:
            url = source.get("url")
    if data:
        url = f"data:{mime or _sniff_mime(data)};base64,{data}"
    if not isinstance(url, str) or not url:
        raise RequestValidationError(
            where,
            "an image needs an http(s) URL or base64 data (file ids are not supported)",
            {k: v for k, v in block.items() if k in ("type", "source_type", "id", "file_id")},
        )
    return url


def _sniff_mime(data: str) -> str:
    for prefix, mime in _MAGIC_MIME:
        if data.startswith(prefix):
            return mime
    return "image/jpeg"


def add_tool_hint(wire_messages: list[dict[str, Any]], tool_name: str | None) -> None:
    """Ask in the system prompt for the tool call that ``tool_choice`` cannot force.

    Added to the leading system message (or as a new one first), never last: a
    trailing tool result must stay the last message.
    """
    hint = (
        f"Call the {tool_name} tool to answer."
        if tool_name
        else "Call one of the provided tools to answer."
    )
    first = wire_messages[0] if wire_messages else None
    if first is not None and first["role"] == "system" and isinstance(first["content"], str):
        wire_messages[0] = {**first, "content": f"{first['content']}\n\n{hint}"}
    else:
        wire_messages.insert(0, {"role": "system", "content": hint})
