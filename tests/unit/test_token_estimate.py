"""The GLM-aware token estimate (pure; ``powertokens.lib.tokens``)."""

from __future__ import annotations

import base64
import struct
import zlib

from powertokens.lib import estimate_message_tokens, estimate_prompt_tokens, estimate_text_tokens
from powertokens.lib.tokens import IMAGE_DEFAULT, PROMPT_OVERHEAD, TOOLS_OVERHEAD


def png_uri(width: int, height: int) -> str:
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    chunk = b"IHDR" + ihdr
    png = (
        b"\x89PNG\r\n\x1a\n"
        + struct.pack(">I", len(ihdr))
        + chunk
        + struct.pack(">I", zlib.crc32(chunk))
    )
    return "data:image/png;base64," + base64.b64encode(png + b"\0" * 64).decode()


def test_english_prose_is_about_a_token_per_word() -> None:
    text = "Explain vector databases in three sentences."
    assert estimate_text_tokens(text) == 7  # six words and the full stop


def test_chinese_counts_per_character_not_per_word() -> None:
    text = "请用三句话解释向量数据库的工作原理。"  # 18 characters, no spaces
    assert 10 <= estimate_text_tokens(text) <= 13  # about 1.6 characters a token
    # the same meaning in English costs fewer tokens per character
    assert estimate_text_tokens(text) / len(text) > 0.5
    assert estimate_text_tokens("Explain how vector databases work.") / 34 < 0.25


def test_digits_punctuation_and_long_words() -> None:
    assert estimate_text_tokens("1234567") == 3  # groups of three digits
    assert estimate_text_tokens('{"a": 1}') == 5  # {" a ": (space) 1 }
    assert estimate_text_tokens("internationalization") == 3
    assert estimate_text_tokens("") == 0


def test_the_template_tools_calls_and_results_count() -> None:
    user = [{"role": "user", "content": "Hi"}]
    bare = estimate_prompt_tokens(user)
    assert bare == PROMPT_OVERHEAD + 2 + 1
    tool = {
        "type": "function",
        "function": {
            "name": "get_weather",
            "description": "The current weather in a city.",
            "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
        },
    }
    with_tools = estimate_prompt_tokens(user, [tool])
    assert with_tools - bare > TOOLS_OVERHEAD + 20  # the fixed block and the schema
    call = {
        "role": "assistant",
        "content": "",
        "reasoning_content": "The user wants the weather.",
        "tool_calls": [
            {
                "id": "c1",
                "type": "function",
                "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
            }
        ],
    }
    assert estimate_message_tokens(call) > 2 + 6 + 8 + 5
    result = {"role": "tool", "tool_call_id": "c1", "content": "Sunny"}
    assert estimate_message_tokens(result) == 2 + 4 + 1


def test_images_count_by_size_when_known() -> None:
    def message(url: str) -> dict[str, object]:
        parts = [{"type": "image_url", "image_url": {"url": url}}]
        return {"role": "user", "content": parts}

    assert estimate_message_tokens(message("https://x.test/cat.png")) == 2 + IMAGE_DEFAULT
    assert estimate_message_tokens(message(png_uri(280, 560))) == 2 + 2 + 10 * 20
    assert estimate_message_tokens(message("data:image/png;base64,!!!")) == 2 + IMAGE_DEFAULT


def test_a_tool_laden_prompt_lands_in_the_hundreds() -> None:
    tools = [
        {
            "type": "function",
            "function": {
                "name": f"tool_{i}",
                "description": "Look something up in the company handbook by topic.",
                "parameters": {
                    "type": "object",
                    "properties": {"topic": {"type": "string", "description": "The topic."}},
                    "required": ["topic"],
                },
            },
        }
        for i in range(5)
    ]
    estimate = estimate_prompt_tokens(
        [{"role": "user", "content": "What is the leave policy?"}], tools
    )
    assert 300 <= estimate <= 600
