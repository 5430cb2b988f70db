"""A GLM-aware token estimate with no tokenizer to download (pure; no dependency).

For ``get_num_tokens``-style questions (does this fit the context window? how much can
``trim_messages`` keep?) before a request is sent: the service's ``usage.prompt_tokens``
is the real count, afterwards.

How it is calibrated, from published facts about the GLM-4 family's tokenizer (a
byte-level BPE with a vocabulary of about 151,000 entries, many of them whole Chinese
words) and its chat template, not from the emulator (whose counts are its own):

* **Chinese, Japanese, Korean**: with whole Chinese words in the vocabulary, GLM-4-family
  tokenizers average about 1.5 to 1.7 Chinese characters per token (the ratio Zhipu
  gives users for converting characters to tokens is of that order); common
  two-character words are single tokens, rare characters take one or two. Counted as
  0.65 token per character (rounded up per run).
* **Latin-script words**: a large-vocabulary BPE keeps common English words whole (with
  their leading space) and splits long or rare ones; about 4 to 5 characters per token
  over English prose. Counted as one token for a word of up to 12 letters, one per
  started 8 letters of a longer one.
* **Digits**: split into groups of at most three: one token per started 3 digits.
* **Punctuation and symbols**: merged in short runs (``{"``, ``":``, ``"}``): one token
  per started 2 characters of a run. Line breaks: one token per run; indentation of
  more than one space: one token per run; a single space joins the next word.
* **Other scripts** (accented Latin beyond ASCII, Cyrillic, Greek, emoji...): the BPE
  works on UTF-8 bytes, so these cost more: one token per character.
* **The chat template**: ``[gMASK]<sop>`` opens the prompt and ``<|assistant|>`` closes
  it (3 tokens); each message costs its role token and a line break (2 tokens), plus the
  reasoning sent back (``<think>...</think>``), its tool calls, rendered as
  ``<tool_call>name`` with ``<arg_key>``/``<arg_value>`` pairs, and for a tool result
  the ``<tool_response>`` tags around it.
* **Tools**: the template adds a fixed instruction block (about 110 tokens: the
  ``# Tools`` header, the ``<tools>`` tags and the call format) and each tool's JSON
  schema, counted as text.
* **Images** (vision models behind the same endpoint): one token per 28x28 pixel
  patch (14-pixel patches merged 2x2), read from a PNG, GIF or JPEG data URI's header;
  1,024 tokens (about a 900x900 image) when the size is unknown (an http URL).

Expect an estimate, not a count: within about 25 % on typical prompts, worse on text
of unusual make-up (long base64 strings, rare scripts). When a budget is tight, leave a
margin or use the ``prompt_tokens`` the service reports.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import re
import struct
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = ["estimate_message_tokens", "estimate_prompt_tokens", "estimate_text_tokens"]

PROMPT_OVERHEAD = 3
"""``[gMASK]<sop>`` and the closing ``<|assistant|>``."""
MESSAGE_OVERHEAD = 2
"""A role token and its line break."""
TOOLS_OVERHEAD = 110
"""The chat template's fixed tool instructions, once when any tool is offered."""
TOOL_CALL_OVERHEAD = 6
"""``<tool_call>``, ``</tool_call>`` and line breaks around one call."""
ARGUMENT_OVERHEAD = 8
"""``<arg_key>``, ``</arg_key>``, ``<arg_value>``, ``</arg_value>`` and line breaks."""
TOOL_RESULT_OVERHEAD = 4
"""``<tool_response>``, ``</tool_response>`` and their line breaks."""
IMAGE_DEFAULT = 1024
"""An image of unknown size (an http URL)."""
IMAGE_PATCH = 28
"""Pixels on a side per image token."""

_CJK = (
    "\u1100-\u11ff\u2e80-\u2fdf\u3000-\u303f\u3040-\u30ff\u3100-\u312f\u3130-\u318f"
    "\u31a0-\u31ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff00-\uffef"
)
_PIECE = re.compile(
    rf"(?P<cjk>[{_CJK}]+)"
    r"|(?P<word>[A-Za-z]+)"
    r"|(?P<digits>[0-9]+)"
    r"|(?P<newline>[\r\n]+)"
    r"|(?P<space>[ \t]+)"
    r"|(?P<punct>[!-/:-@\[-`{-~]+)"
    r"|(?P<other>[^\x00-\x7f])"
)


def estimate_text_tokens(text: str) -> int:
    """Tokens in ``text`` (see the module docstring for the rules)."""
    if not text:
        return 0
    total = 0.0
    for match in _PIECE.finditer(text):
        kind = match.lastgroup
        size = match.end() - match.start()
        if kind == "word":
            total += 1 if size <= 12 else math.ceil(size / 8)
        elif kind == "cjk":
            total += math.ceil(size * 0.65)
        elif kind == "digits":
            total += math.ceil(size / 3)
        elif kind == "punct":
            total += math.ceil(size / 2)
        elif kind == "newline":
            total += 1
        elif kind == "space":
            total += 1 if size > 1 else 0
        else:  # other scripts, emoji: byte-level pieces
            total += 1
    return int(total)


def estimate_message_tokens(message: Mapping[str, Any]) -> int:
    """Tokens one wire message adds to the prompt (its content, reasoning sent back,
    tool calls and the template's tokens around it)."""
    total = MESSAGE_OVERHEAD
    if message.get("role") == "tool":
        total += TOOL_RESULT_OVERHEAD
    content = message.get("content")
    if isinstance(content, str):
        total += estimate_text_tokens(content)
    elif isinstance(content, Sequence):
        for part in content:
            if not isinstance(part, Mapping):
                continue
            if part.get("type") == "text":
                total += estimate_text_tokens(str(part.get("text") or ""))
            elif part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, Mapping) else image
                total += _image_tokens(url if isinstance(url, str) else "")
    reasoning = message.get("reasoning_content")
    if isinstance(reasoning, str) and reasoning:
        total += 2 + estimate_text_tokens(reasoning)  # <think>...</think>
    for call in message.get("tool_calls") or ():
        function = call.get("function") if isinstance(call, Mapping) else None
        if isinstance(function, Mapping):
            total += _call_tokens(function)
    return total


def estimate_prompt_tokens(
    messages: Iterable[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
) -> int:
    """The ``prompt_tokens`` a request with these wire ``messages`` and ``tools`` is
    likely to cost (an estimate: see the module docstring)."""
    total = PROMPT_OVERHEAD + sum(estimate_message_tokens(m) for m in messages)
    if tools:
        total += TOOLS_OVERHEAD
        for tool in tools:
            function = tool.get("function", tool)
            text = json.dumps(function, ensure_ascii=False, separators=(", ", ": "))
            total += 1 + estimate_text_tokens(text)
    return total


def _call_tokens(function: Mapping[str, Any]) -> int:
    total = TOOL_CALL_OVERHEAD + estimate_text_tokens(str(function.get("name") or ""))
    arguments = function.get("arguments")
    try:
        parsed = json.loads(arguments) if isinstance(arguments, str) else arguments
    except ValueError:
        parsed = None
    if isinstance(parsed, Mapping):
        for key, value in parsed.items():
            text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
            total += ARGUMENT_OVERHEAD + estimate_text_tokens(str(key))
            total += estimate_text_tokens(text)
    elif isinstance(arguments, str):
        total += estimate_text_tokens(arguments)
    return total


def _image_tokens(url: str) -> int:
    size = _image_size(url) if url.startswith("data:") else None
    if size is None:
        return IMAGE_DEFAULT
    width, height = size
    return 2 + math.ceil(width / IMAGE_PATCH) * math.ceil(height / IMAGE_PATCH)


def _image_size(url: str) -> tuple[int, int] | None:
    """(width, height) from a PNG, GIF or JPEG data URI's header, else None."""
    head, _, data = url.partition(",")
    if ";base64" not in head:
        return None
    head_data = data[:4096].rstrip("=")  # the header is near the start
    head_data = head_data[: len(head_data) - len(head_data) % 4]
    try:
        raw = base64.b64decode(head_data)
    except (binascii.Error, ValueError):
        return None
    if raw[:8] == b"\x89PNG\r\n\x1a\n" and len(raw) >= 24:
        width, height = struct.unpack(">II", raw[16:24])
        return width, height
    if raw[:6] in (b"GIF87a", b"GIF89a") and len(raw) >= 10:
        width, height = struct.unpack("<HH", raw[6:10])
        return width, height
    if raw[:2] == b"\xff\xd8":
        return _jpeg_size(raw)
    return None


def _jpeg_size(raw: bytes) -> tuple[int, int] | None:
    at = 2
    while at + 9 < len(raw):
        if raw[at] != 0xFF:
            return None
        marker = raw[at + 1]
        length = int.from_bytes(raw[at + 2 : at + 4], "big")
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            height, width = struct.unpack(">HH", raw[at + 5 : at + 9])
            return width, height
        at += 2 + length
    return None
