"""``get_num_tokens_from_messages`` and ``trim_messages(token_counter=model)`` work with
no tokenizer installed (a GLM-aware estimate; no network)."""

from __future__ import annotations

from langchain_core.messages import (
    AIMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
    trim_messages,
)
from langchain_core.tools import tool

from langchain_powertokens import ChatPowerTokens


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}."


def model() -> ChatPowerTokens:
    return ChatPowerTokens(api_key="k", base_url="http://127.0.0.1:9/v1")


HISTORY = [
    SystemMessage("You are a concise and professional assistant."),
    HumanMessage("What is the weather in Paris?"),
    AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]),
    ToolMessage("It is sunny in Paris.", tool_call_id="c1"),
    AIMessage("It is sunny in Paris."),
    HumanMessage("请用三句话解释向量数据库。"),
]


def test_counting_needs_no_tokenizer_and_counts_tools() -> None:
    m = model()
    plain = m.get_num_tokens_from_messages(HISTORY)
    assert 50 <= plain <= 90
    assert m.get_num_tokens_from_messages(HISTORY, tools=[get_weather]) > plain + 110
    assert m.get_num_tokens("Explain vector databases in three sentences.") == 7


def test_trim_messages_with_the_model_as_counter() -> None:
    m = model()
    trimmed = trim_messages(
        HISTORY, max_tokens=30, token_counter=m, strategy="last", include_system=True
    )
    assert trimmed[0] == HISTORY[0]
    assert trimmed[-1] == HISTORY[-1]
    assert len(trimmed) < len(HISTORY)
    assert m.get_num_tokens_from_messages(trimmed) <= 30
