"""docs/comparison.md's table, proved: each row is a test here, run against the emulator.

For each behaviour, the same scenario goes through ``ChatPowerTokens`` / ``PowerTokens``
and through what a user would otherwise pick: ``ChatOpenAI`` with ``base_url``,
langchain-community's ``ChatZhipuAI``, LlamaIndex's ``OpenAILike``. The emulator answers
as the service does (docs/wire.md): it rejects what the service rejects and ignores the
fields the gateway drops. A row of that table that no test here proves does not belong
in the table.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx
import pytest
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.tools import tool
from llama_index.core.agent.workflow import FunctionAgent
from llama_index.core.llms import ChatMessage
from llama_index.core.tools import FunctionTool
from llama_index.llms.openai_like import OpenAILike
from pydantic import BaseModel

from langchain_powertokens import ChatPowerTokens
from llama_index_powertokens import PowerTokens
from powertokens.emulator import Emulator

if TYPE_CHECKING:
    from langchain_openai import ChatOpenAI

pytestmark = [
    pytest.mark.slow,  # imports and drives the alternatives (ChatOpenAI, ChatZhipuAI)
    pytest.mark.filterwarnings("ignore:PowerTokens accepts only tool_choice"),
    pytest.mark.filterwarnings("ignore::DeprecationWarning"),
    pytest.mark.filterwarnings("ignore::pydantic.warnings.PydanticDeprecatedSince20"),
]

KEY = "pt-comparison.0123456789abcdef0123456789abcdef"  # "id.secret", as ChatZhipuAI signs it
QUESTION = "Why is the sky blue?"


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny in {city}"


def weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"Sunny in {city}"


WEATHER = FunctionTool.from_defaults(weather, name="get_weather")


class Joke(BaseModel):
    setup: str
    punchline: str


@pytest.fixture(scope="module")
def service() -> Iterator[Emulator]:
    with Emulator() as emu:
        yield emu


@pytest.fixture
def emu(service: Emulator) -> Emulator:
    service.reset()
    return service


@pytest.fixture
def ours(emu: Emulator) -> ChatPowerTokens:
    return ChatPowerTokens(model="glm-5", api_key=KEY, base_url=emu.url)


@pytest.fixture
def chat_openai(emu: Emulator) -> ChatOpenAI:
    from langchain_openai import ChatOpenAI  # seconds to import: only when a test runs

    return ChatOpenAI(model="glm-5", api_key=KEY, base_url=emu.url, max_retries=0)  # type: ignore[arg-type]


@pytest.fixture
def zhipu(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> Any:
    """ChatZhipuAI, given the benefit of a working auth header (see the first ZhipuAI test)."""
    module = pytest.importorskip("langchain_community.chat_models.zhipuai")
    pytest.importorskip("jwt")
    signed = module._get_jwt_token
    monkeypatch.setattr(module, "_get_jwt_token", lambda key: f"Bearer {signed(key)}")
    return module.ChatZhipuAI(
        model="glm-5", api_key=KEY, zhipuai_api_base=f"{emu.url}/chat/completions"
    )


# --- LangChain --------------------------------------------------------------------------


def test_reasoning_is_kept_by_ours_and_dropped_by_chat_openai(
    ours: ChatPowerTokens, chat_openai: ChatOpenAI
) -> None:
    message = ours.invoke(QUESTION)
    assert message.additional_kwargs["reasoning_content"]
    assert [b["type"] for b in message.content_blocks] == ["reasoning", "text"]
    streamed = [c.additional_kwargs.get("reasoning_content", "") for c in ours.stream(QUESTION)]
    assert "".join(streamed) == message.additional_kwargs["reasoning_content"]

    theirs = chat_openai.invoke(QUESTION)
    assert theirs.usage_metadata is not None  # usage, reasoning tokens included, it keeps
    assert theirs.usage_metadata["output_token_details"]["reasoning"] > 0
    assert "reasoning_content" not in theirs.additional_kwargs
    assert [b["type"] for b in theirs.content_blocks] == ["text"]
    assert not any("reasoning_content" in c.additional_kwargs for c in chat_openai.stream(QUESTION))


def test_tool_choice_any_works_with_ours_and_is_rejected_for_chat_openai(
    ours: ChatPowerTokens, chat_openai: ChatOpenAI, emu: Emulator
) -> None:
    reply = ours.bind_tools([get_weather], tool_choice="any").invoke("Weather in Paris?")
    assert reply.tool_calls[0]["args"] == {"city": "Paris"}
    assert emu.requests[-1].json["tool_choice"] == "auto"

    with pytest.raises(Exception, match="Tool choice must be auto") as caught:
        chat_openai.bind_tools([get_weather], tool_choice="any").invoke("Weather in Paris?")
    assert getattr(caught.value, "status_code", None) == 400
    assert emu.requests[-1].json["tool_choice"] == "required"


def test_two_stop_sequences_are_enforced_by_ours_and_rejected_for_chat_openai(
    ours: ChatPowerTokens, chat_openai: ChatOpenAI
) -> None:
    answer = ours.invoke("echo:one, two; three", stop=[";", ","]).text
    assert answer == "one"

    with pytest.raises(Exception, match="stop") as caught:
        chat_openai.invoke("echo:one, two; three", stop=[";", ","])
    assert getattr(caught.value, "status_code", None) == 400


def test_two_stop_sequences_are_rejected_for_chat_zhipuai(zhipu: Any) -> None:
    with pytest.raises(httpx.HTTPStatusError, match="400"):
        zhipu.invoke("echo:one, two; three", stop=[";", ","])


def test_structured_output_by_default_works_with_ours_not_with_chat_openai(
    ours: ChatPowerTokens, chat_openai: ChatOpenAI, emu: Emulator
) -> None:
    assert isinstance(ours.with_structured_output(Joke).invoke("Tell me a joke about cats"), Joke)

    # ChatOpenAI's default is response_format (json_schema), a field the gateway drops:
    # the model answers in prose, and parsing it fails.
    with pytest.raises(Exception, match=r"(?i)json"):
        chat_openai.with_structured_output(Joke).invoke("Tell me a joke about cats")
    assert "response_format" in emu.requests[-1].json


def test_chat_zhipuai_cannot_authenticate_to_powertokens(emu: Emulator) -> None:
    module = pytest.importorskip("langchain_community.chat_models.zhipuai")
    pytest.importorskip("jwt")
    model = module.ChatZhipuAI(
        model="glm-5", api_key=KEY, zhipuai_api_base=f"{emu.url}/chat/completions"
    )
    with pytest.raises(httpx.HTTPStatusError, match="401"):
        model.invoke(QUESTION)  # a Zhipu JWT in Authorization, without "Bearer "
    with pytest.raises(ValueError, match="Invalid API key"):
        module.ChatZhipuAI(model="glm-5", api_key="sk-no-dot").invoke(QUESTION)


def test_chat_zhipuai_has_no_reasoning_and_no_usage_metadata(
    ours: ChatPowerTokens, zhipu: Any
) -> None:
    message = ours.invoke(QUESTION)
    assert message.usage_metadata is not None
    assert message.usage_metadata["output_token_details"]["reasoning"] > 0

    theirs = zhipu.invoke(QUESTION)
    assert theirs.usage_metadata is None
    assert "reasoning_content" not in theirs.additional_kwargs
    streamed = None
    for chunk in zhipu.stream(QUESTION):
        streamed = chunk if streamed is None else streamed + chunk
    assert streamed is not None
    assert streamed.usage_metadata is None


def test_tool_calls_go_back_in_the_history_except_with_chat_zhipuai(
    ours: ChatPowerTokens, chat_openai: ChatOpenAI, zhipu: Any, emu: Emulator
) -> None:
    for model in (ours, chat_openai, zhipu):
        bound = model.bind_tools([get_weather])
        messages: list[Any] = [HumanMessage("What is the weather in Paris?")]
        reply = bound.invoke(messages)
        assert isinstance(reply, AIMessage)
        messages += [reply, get_weather.invoke(reply.tool_calls[0])]
        bound.invoke(messages)
        sent = emu.requests[-1].json["messages"][1]
        assert sent["role"] == "assistant"
        if model is zhipu:
            assert "tool_calls" not in sent
        else:
            assert sent["tool_calls"][0]["function"]["name"] == "get_weather"


def test_chat_zhipuai_does_not_retry_a_rate_limit_and_raises_a_bare_http_error(
    ours: ChatPowerTokens, zhipu: Any, emu: Emulator
) -> None:
    emu.push_fault("429:1302")
    assert ours.invoke("Hello").text  # retried, then answered
    assert emu.request_count == 2

    emu.reset()
    emu.push_fault("429:1302")
    with pytest.raises(httpx.HTTPStatusError, match="429"):
        zhipu.invoke("Hello")
    assert emu.request_count == 1


def test_tool_choice_any_is_refused_by_chat_zhipuai(zhipu: Any) -> None:
    with pytest.raises(ValueError, match="only supports `auto`"):
        zhipu.bind_tools([get_weather], tool_choice="any")


# --- LlamaIndex -------------------------------------------------------------------------


@pytest.fixture
def llama(emu: Emulator) -> Iterator[PowerTokens]:
    llm = PowerTokens(model="glm-5", api_key=KEY, base_url=emu.url)
    yield llm
    llm.close()


def _openai_like(emu: Emulator, **fields: Any) -> OpenAILike:
    return OpenAILike(model="glm-5", api_key=KEY, api_base=emu.url, max_retries=0, **fields)


def test_metadata_tells_the_truth_with_ours_not_with_openai_like_defaults(
    llama: PowerTokens, emu: Emulator
) -> None:
    assert (llama.metadata.is_chat_model, llama.metadata.is_function_calling_model) == (True, True)
    assert llama.metadata.context_window == 200_000
    theirs = _openai_like(emu).metadata
    assert (theirs.is_chat_model, theirs.is_function_calling_model) == (False, False)
    assert theirs.context_window == 3900


def test_openai_like_defaults_call_a_completions_endpoint_the_api_lacks(
    llama: PowerTokens, emu: Emulator
) -> None:
    question = [ChatMessage(role="user", content=QUESTION)]
    assert llama.chat(question).message.content
    with pytest.raises(Exception, match="404") as caught:
        _openai_like(emu).chat(question)
    assert "/v1/completions" in str(caught.value)


def test_function_agent_takes_ours_and_refuses_openai_like_defaults(
    llama: PowerTokens, emu: Emulator
) -> None:
    async def ask(llm: Any) -> str:
        return str(await FunctionAgent(tools=[WEATHER], llm=llm).run("Weather in Paris?"))

    assert asyncio.run(ask(llama)) == "According to get_weather: Sunny in Paris."
    with pytest.raises(ValueError, match="FunctionCallingLLM"):
        asyncio.run(ask(_openai_like(emu)))


def test_two_tool_calls_in_one_chunk_ours_keeps_both_openai_like_drops_one(
    llama: PowerTokens, emu: Emulator
) -> None:
    theirs = _openai_like(emu, is_chat_model=True, is_function_calling_model=True)
    found = {}
    for name, llm in (("ours", llama), ("theirs", theirs)):
        emu.push_fault("tool-calls-one-chunk")
        *_, last = llm.stream_chat_with_tools(
            [WEATHER], "What is the weather in Paris and London?", allow_parallel_tool_calls=True
        )
        calls = llm.get_tool_calls_from_response(last, error_on_no_tool_call=False)
        found[name] = [c.tool_kwargs["city"] for c in calls]
    assert found == {"ours": ["Paris", "London"], "theirs": ["Paris"]}


def test_tool_required_works_with_ours_and_is_rejected_for_openai_like(
    llama: PowerTokens, emu: Emulator
) -> None:
    reply = llama.chat_with_tools([WEATHER], "Weather in Paris?", tool_required=True)
    assert llama.get_tool_calls_from_response(reply)[0].tool_kwargs == {"city": "Paris"}
    theirs = _openai_like(emu, is_chat_model=True, is_function_calling_model=True)
    with pytest.raises(Exception, match="Tool choice must be auto"):
        theirs.chat_with_tools([WEATHER], "Weather in Paris?", tool_required=True)
    assert emu.requests[-1].json["tool_choice"] == "required"


def test_the_api_key_stays_out_of_to_dict_with_ours_not_with_openai_like(
    llama: PowerTokens, emu: Emulator
) -> None:
    assert KEY not in str(llama.to_dict())
    assert KEY in str(_openai_like(emu).to_dict())
