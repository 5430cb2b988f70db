"""Pure conversion of LangChain messages to wire message dicts (the answers come back
through ``_results``).

Nothing here does I/O, so every rule is tested directly (``tests/langchain/test_convert.py``).
Wire rules (``docs/wire.md``):

* user content is a string or ``text`` / ``image_url`` parts, kept as the parts they
  were given in (one text part goes as a string); images in every form LangChain users
  write them become ``image_url`` parts with an http(s) URL or a data URI;
* system and tool content is a string (Zhipu documents both as text only; parts there
  are not part of the contract): their text parts are joined with newlines;
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

__all__ = ["message_to_wire", "messages_to_wire"]

_ROLES = {
    "user": "user",
    "human": "user",
    "assistant": "assistant",
    "ai": "assistant",
    "system": "system",
    "developer": "system",
    "tool": "tool",
}
_TEXT_TYPES = frozenset({"text", "text-plain"})
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
        return _assistant(message, send_reasoning, where)
    if isinstance(message, SystemMessage):
        return {"role": "system", "content": _text_only(message.content, where)}
    if isinstance(message, ToolMessage):
        return {
            "role": "tool",
            "tool_call_id": message.tool_call_id,
            "content": _parts(message.content, where, tool=True, join=True),
        }
    if isinstance(message, ChatMessage):
        role = _ROLES.get(message.role)
        if role is None:
            raise RequestValidationError(
                f"{where}.role", "must be user, assistant, system or tool", message.role
            )
        if role == "assistant":
            return _assistant(AIMessage(content=message.content), send_reasoning, where)
        if role == "system":
            return {"role": role, "content": _text_only(message.content, where)}
        return {"role": role, "content": _parts(message.content, where, join=role == "tool")}
    raise RequestValidationError(
        where,
        "must be a System, Human, AI or Tool message (or a ChatMessage with one of those roles)",
        type(message).__name__,
    )


def _assistant(message: AIMessage, send_reasoning: bool, where: str) -> dict[str, Any]:
    content = message.content
    reasoning = message.additional_kwargs.get("reasoning_content") if send_reasoning else None
    if not isinstance(reasoning, str):
        reasoning = None  # absent, or not text: the reasoning blocks (if any) stand in
    if isinstance(content, str):
        text = content
    else:
        texts: list[str] = []
        thoughts: list[str] = []
        for j, block in enumerate(content):
            if isinstance(block, str):
                texts.append(block)
                continue
            kind = block.get("type")
            if kind is not None and not isinstance(kind, str):
                raise RequestValidationError(f"{where}.content[{j}].type", "must be a string", kind)
            if kind in _TEXT_TYPES:
                texts.append(_block_text(block, "text", f"{where}.content[{j}]"))
            elif kind == "reasoning":
                thoughts.append(_block_text(block, "reasoning", f"{where}.content[{j}]"))
            elif kind == "thinking":  # Anthropic's form
                thoughts.append(_block_text(block, "thinking", f"{where}.content[{j}]"))
            # Anything else (images, tool_use ...) is the assistant's own output, which
            # the wire carries as tool_calls or not at all.
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
                "arguments": _arguments(call["args"], f"{where}.tool_calls[{k}].args"),
            },
        }
        for k, call in enumerate(message.tool_calls)
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
    if reasoning:
        wire["reasoning_content"] = reasoning
    return wire


def _parts(
    content: str | list[Any], where: str, *, tool: bool = False, join: bool = False
) -> str | list[Any]:
    """User content: a string, or text and ``image_url`` parts as given (one text part is
    sent as a string). ``join``: text parts joined with newlines into one string, for
    the roles whose content is a string (system, tool: see the module docstring)."""
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    has_image = False
    for j, block in enumerate(content):
        if isinstance(block, str):
            parts.append({"type": "text", "text": block})
            continue
        kind = block.get("type")
        at = f"{where}.content[{j}]"
        if kind is not None and not isinstance(kind, str):
            raise RequestValidationError(f"{at}.type", "must be a string", kind)
        if kind in _TEXT_TYPES:
            parts.append({"type": "text", "text": _block_text(block, "text", at)})
        elif kind in _IMAGE_TYPES:
            url = _image_url(block, at)
            parts.append({"type": "image_url", "image_url": {"url": url}})
            has_image = True
        elif kind in _OUTPUT_ONLY_TYPES or kind in ("reasoning", "thinking"):
            continue
        elif tool and kind is None:
            # Tool results are often plain dicts; what JSON cannot hold is shown as text.
            text = json.dumps(block, ensure_ascii=False, default=str)
            parts.append({"type": "text", "text": text})
        else:
            raise RequestValidationError(
                f"{where}.content[{j}].type",
                "this API takes text and images only (text, image_url, image)",
                kind,
            )
    if has_image or (len(parts) > 1 and not join):
        return parts
    return "\n".join(part["text"] for part in parts)


def _block_text(block: Mapping[str, Any], key: str, where: str) -> str:
    value = block.get(key)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise RequestValidationError(f"{where}.{key}", "must be a string", value)
    return value


def _arguments(args: Any, where: str) -> str:
    try:
        return json.dumps(args, ensure_ascii=False)
    except (TypeError, ValueError) as exc:
        raise RequestValidationError(where, f"must be JSON-serializable ({exc})", args) from exc


def _text_only(content: str | list[Any], where: str) -> str:
    flat = _parts(content, where, join=True)
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
        if not isinstance(data, str) or not (mime is None or isinstance(mime, str)):
            raise RequestValidationError(
                where, "base64 image data and its mime type must be strings", type(data).__name__
            )
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
