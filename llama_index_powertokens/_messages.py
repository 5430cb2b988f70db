"""LlamaIndex ``ChatMessage`` objects to wire message dicts (pure; docs/wire.md "Request").

Nothing here mutates the caller's messages: every wire dict is built fresh. Roles map
onto the four the API knows; text, image, thinking and tool-call blocks are carried;
anything else raises :class:`powertokens.RequestValidationError` naming the block.

A tool result's content is text only (docs/wire.md): an image in a tool message (a tool
that returned an ``ImageBlock``) is replaced by a text note, ``[image omitted: ...]``
naming its type and source, and a warning is logged on ``llama_index_powertokens``. To
show the model an image, put it in a user message.
"""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Sequence
from io import IOBase
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from llama_index.core.base.llms.types import (
    CachePoint,
    ChatMessage,
    CitableBlock,
    CitationBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)

from powertokens import RequestValidationError

log = logging.getLogger("llama_index_powertokens")

__all__ = ["image_url", "to_wire_messages", "wire_tool_call"]

# Keyed by the enum members *and* their string values: ``MessageRole`` hashes by name,
# so a plain "user" would miss a dict keyed by members only.
_ROLES: dict[Any, str] = {}
for _member, _wire in (
    (MessageRole.SYSTEM, "system"),
    (MessageRole.DEVELOPER, "system"),
    (MessageRole.USER, "user"),
    (MessageRole.ASSISTANT, "assistant"),
    (MessageRole.TOOL, "tool"),
    (MessageRole.FUNCTION, "tool"),
    (MessageRole.CHATBOT, "assistant"),
    (MessageRole.MODEL, "assistant"),
):
    _ROLES[_member] = _wire
    _ROLES[_member.value] = _wire

_DEFAULT_IMAGE_MIME = "image/png"


def to_wire_messages(
    messages: Sequence[ChatMessage], *, send_reasoning: bool = True
) -> list[dict[str, Any]]:
    """The wire form of ``messages``.

    ``send_reasoning`` sends an assistant turn's ``ThinkingBlock`` back as
    ``reasoning_content`` (interleaved thinking, docs/wire.md "Thinking").
    """
    return [_message(m, i, send_reasoning) for i, m in enumerate(messages)]


def _message(message: ChatMessage, index: int, send_reasoning: bool) -> dict[str, Any]:
    role = _ROLES.get(message.role)
    if role is None:
        raise RequestValidationError(
            f"messages[{index}].role",
            "must be system, developer, user, assistant, tool or function",
            message.role,
        )
    texts: list[str] = []
    parts: list[dict[str, Any]] | None = None  # set once an image makes content a list
    reasoning: list[str] = []
    calls: list[dict[str, Any]] = []
    for j, block in enumerate(message.blocks):
        if isinstance(block, TextBlock):
            texts.append(block.text)
            if parts is not None:
                parts.append({"type": "text", "text": block.text})
        elif isinstance(block, ImageBlock) and role == "tool":
            note = _omitted_image(block)
            log.warning("messages[%d]: tool results are text only; sent %s", index, note)
            texts.append(note)
        elif isinstance(block, ImageBlock):
            if parts is None:
                parts = [{"type": "text", "text": t} for t in texts]
            parts.append({"type": "image_url", "image_url": {"url": image_url(block)}})
        elif isinstance(block, ThinkingBlock):
            if block.content:
                reasoning.append(block.content)
        elif isinstance(block, ToolCallBlock):
            calls.append(
                wire_tool_call(block.tool_call_id, block.tool_name, block.tool_kwargs, len(calls))
            )
        elif isinstance(block, (CitableBlock, CitationBlock)):
            text = _nested_text(block)
            texts.append(text)
            if parts is not None:
                parts.append({"type": "text", "text": text})
        elif not isinstance(block, CachePoint):  # prompt-cache hints mean nothing here
            raise RequestValidationError(
                f"messages[{index}].blocks[{j}]",
                "PowerTokens accepts text, image, thinking and tool-call blocks",
                block.block_type,
            )

    content: Any = parts if parts is not None else "\n".join(texts)
    wire: dict[str, Any] = {"role": role, "content": content}
    extra = message.additional_kwargs
    if role == "assistant":
        if not calls and extra.get("tool_calls"):
            legacy = extra["tool_calls"]
            if not isinstance(legacy, (list, tuple)):
                raise RequestValidationError(
                    "additional_kwargs.tool_calls", "must be a list", legacy
                )
            calls = [_legacy_tool_call(c, k) for k, c in enumerate(legacy)]
        if calls:
            wire["tool_calls"] = calls
        if send_reasoning:
            if reasoning:
                wire["reasoning_content"] = "".join(reasoning)
            elif isinstance(extra.get("reasoning_content"), str) and extra["reasoning_content"]:
                wire["reasoning_content"] = extra["reasoning_content"]
    elif role == "tool":
        call_id = extra.get("tool_call_id")
        if call_id is not None:
            wire["tool_call_id"] = str(call_id)
    return wire


def wire_tool_call(call_id: str | None, name: str, arguments: Any, position: int) -> dict[str, Any]:
    """One assistant ``tool_calls`` entry; ``arguments`` as the JSON string the wire wants."""
    if not isinstance(arguments, str):
        try:
            arguments = json.dumps(arguments if arguments is not None else {}, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise RequestValidationError(
                "tool_calls.arguments", f"must be JSON-serializable ({exc})", arguments
            ) from exc
    return {
        "id": call_id or f"call_{position}",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def _legacy_tool_call(call: Any, position: int) -> dict[str, Any]:
    """``additional_kwargs["tool_calls"]`` entries: wire dicts or OpenAI SDK objects."""
    if not isinstance(call, dict) and hasattr(call, "model_dump"):
        call = call.model_dump()
    if not isinstance(call, dict):
        raise RequestValidationError(
            "additional_kwargs.tool_calls",
            "entries must be {id, type, function: {name, arguments}}",
            call,
        )
    function = call.get("function") or {}
    if not isinstance(function, dict):
        raise RequestValidationError(
            "additional_kwargs.tool_calls", "function must be {name, arguments}", function
        )
    return wire_tool_call(
        call.get("id"), function.get("name") or "", function.get("arguments"), position
    )


def _omitted_image(block: ImageBlock) -> str:
    """The note sent in place of an image in a tool result (no image data in it)."""
    what = block.image_mimetype or "image"
    url = str(block.url) if block.url is not None else ""
    if url.startswith(("http://", "https://")):
        source = url if len(url) <= 200 else url[:197] + "..."
    elif block.path is not None:
        source = block.path.name
    elif url.startswith("data:"):
        source = "inline data URI"
    elif url:  # another scheme (ftp:, file:...): named, as the service could not fetch it
        source = url if len(url) <= 200 else url[:197] + "..."
    else:
        source = "inline bytes"
    return f"[image omitted: {what}, {source}; tool results are text only]"


def _nested_text(block: CitableBlock | CitationBlock) -> str:
    return "\n".join(b.text for b in block.nested_blocks if isinstance(b, TextBlock))


def image_url(block: ImageBlock) -> str:
    """An ``http(s)`` URL or data URI as given, else a data URI built from the bytes or file.

    Remote URLs are passed on, never downloaded here.
    """
    if block.url is not None:
        url = str(block.url)
        if url.startswith(("http://", "https://", "data:")):
            return url
    mime = block.image_mimetype
    data = block.image
    if isinstance(data, bytes) and data and mime:
        # ImageBlock's validator already stored the bytes base64-encoded.
        return f"data:{mime};base64,{data.decode('ascii')}"
    if isinstance(data, IOBase):
        data.seek(0)
        raw = data.read()
    elif isinstance(data, bytes) and data:
        raw = base64.b64decode(data)
    elif block.path is not None:
        raw = block.path.read_bytes()
    elif block.url is not None:
        url = str(block.url)
        if not url.startswith("file:"):
            # ftp://, s3:// ...: passed on, so validation names the field and the rule.
            return url
        try:  # a local file (LlamaIndex's resolver would hand file:// to requests)
            raw = Path(url2pathname(urlsplit(url).path)).read_bytes()
        except OSError as exc:
            raise RequestValidationError("image.url", f"cannot read the file ({exc})", url) from exc
    else:
        raise RequestValidationError("image", "an ImageBlock needs url, path or image bytes", None)
    if not mime:
        mime = _guess_mime(raw)
    return f"data:{mime};base64,{base64.b64encode(raw).decode('ascii')}"


def _guess_mime(raw: bytes) -> str:
    import filetype  # type: ignore[import-untyped]  # a LlamaIndex dependency, used rarely

    guess = filetype.guess(raw)
    mime = guess.mime if guess is not None else None
    return mime if mime and mime.startswith("image/") else _DEFAULT_IMAGE_MIME
