"""Images in tool results: tool content is text on the wire (docs/wire.md), so the image
becomes a ``[image omitted: ...]`` note and a logged warning, never image parts."""

from __future__ import annotations

import base64
import logging

import pytest
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.base.llms.types import ChatMessage, ImageBlock, TextBlock, ToolCallBlock
from llama_index.core.tools import FunctionTool

from llama_index_powertokens import PowerTokens
from powertokens.emulator import Emulator

from .conftest import Runner

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


def get_chart(city: str) -> list[TextBlock | ImageBlock]:
    """A chart of the weather in a city."""
    return [TextBlock(text=f"Chart for {city}:"), ImageBlock(image=PNG, image_mimetype="image/png")]


def _history() -> list[ChatMessage]:
    return [
        ChatMessage(role="user", content="Chart of Paris?"),
        ChatMessage(
            role="assistant",
            blocks=[ToolCallBlock(tool_call_id="c1", tool_name="get_chart", tool_kwargs={})],
        ),
        ChatMessage(
            role="tool",
            blocks=[
                TextBlock(text="Chart for Paris:"),
                ImageBlock(image=PNG, image_mimetype="image/png"),
                ImageBlock(url="https://example.com/chart.png"),
            ],
            additional_kwargs={"tool_call_id": "c1"},
        ),
    ]


async def test_tool_result_images_become_a_text_note(
    run: Runner, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="llama_index_powertokens"):
        await run.chat(_history())
    tool = emu.requests[0].json["messages"][2]
    assert tool == {
        "role": "tool",
        "tool_call_id": "c1",
        "content": "Chart for Paris:\n"
        "[image omitted: image/png, inline bytes; tool results are text only]\n"
        "[image omitted: image/png, https://example.com/chart.png; tool results are text only]",
    }
    assert [r.levelno for r in caplog.records] == [logging.WARNING] * 2
    assert "tool results are text only" in caplog.records[0].getMessage()


async def test_function_agent_with_an_image_tool(
    llm: PowerTokens, emu: Emulator, caplog: pytest.LogCaptureFixture
) -> None:
    agent = FunctionAgent(tools=[FunctionTool.from_defaults(get_chart)], llm=llm)
    with caplog.at_level(logging.WARNING, logger="llama_index_powertokens"):
        await agent.run("Show me the weather chart of Paris.")
    sent = [m for r in emu.requests for m in r.json["messages"] if m["role"] == "tool"]
    assert sent
    assert all(isinstance(m["content"], str) for m in sent)
    assert "[image omitted: image/png" in sent[0]["content"]
    assert any("text only" in r.getMessage() for r in caplog.records)
