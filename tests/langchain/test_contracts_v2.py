"""LangChain contracts of ChatPowerTokens v2, over loopback, sync and async, invoke and
stream: ChatOpenAI's constructor names, construction errors in the call-time taxonomy,
a missing key as an authentication error, ``tool_choice`` naming an unbound tool, the
model profile, text parts of a human message, and an instance in ``create_agent``."""

from __future__ import annotations

import traceback
import warnings
from typing import Any, get_type_hints

import pytest
from langchain.agents import create_agent
from langchain_core import exceptions as lc
from langchain_core.language_models import ModelProfile
from langchain_core.messages import AIMessage, HumanMessage, SystemMessage, ToolMessage
from langchain_core.tools import tool

import langchain_powertokens as lp
import powertokens
from langchain_powertokens import ChatPowerTokens
from powertokens import Timeout
from powertokens.emulator import Emulator

from .conftest import KEY, Factory
from .helpers import Run, add_up


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}."


async def call(run: Run, kind: str, runnable: Any, input: Any, **kwargs: Any) -> Any:
    """invoke, or stream and add the chunks up."""
    if kind == "invoke":
        return await run.invoke(runnable, input, **kwargs)
    return add_up(await run.stream(runnable, input, **kwargs))


@pytest.fixture(params=["invoke", "stream"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


# --- ChatOpenAI / ChatDeepSeek constructor names -------------------------------------------


async def test_openai_names_set_the_fields_and_stay_out_of_the_body(
    run: Run, kind: str, emu: Emulator
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "transferred to model_kwargs" warning
        model = ChatPowerTokens(
            openai_api_key=KEY,
            openai_api_base=emu.url,
            request_timeout=12.5,
            max_completion_tokens=40,
        )
    assert model.api_key is not None
    assert model.api_key.get_secret_value() == KEY
    assert model.base_url == emu.url
    assert model.timeout == 12.5
    assert model.max_tokens == 40
    assert model.model_kwargs == {}
    assert (await call(run, kind, model, "Hello")).text  # the key and URL were used
    body = emu.requests[-1]["json"]
    assert body["max_tokens"] == 40
    sent = set(body)
    assert not sent & {"request_timeout", "openai_api_base", "max_completion_tokens"}
    assert not sent & {"openai_api_key", "api_key", "api_base"}
    assert model._get_async_client().timeout == Timeout.coerce(12.5)
    assert model._sync_client().timeout == Timeout.coerce(12.5)
    await model.aclose()


async def test_api_base_reaches_the_service(run: Run, kind: str, emu: Emulator) -> None:
    model = ChatPowerTokens(api_key=KEY, api_base=emu.url)
    assert model.base_url == emu.url
    assert (await call(run, kind, model, "Hello")).text
    assert emu.request_count == 1
    assert "api_base" not in emu.requests[-1]["json"]
    await model.aclose()


def test_two_names_for_one_field_must_agree() -> None:
    assert ChatPowerTokens(api_key="k", timeout=3, request_timeout=3).timeout == 3
    with pytest.raises(lp.PowerTokensRequestValidationError, match="request_timeout"):
        ChatPowerTokens(api_key="k", timeout=3, request_timeout=4)
    with pytest.raises(lp.PowerTokensRequestValidationError) as info:
        ChatPowerTokens(api_key=KEY, openai_api_key="pt-other-key")
    assert KEY not in str(info.value)
    assert "pt-other-key" not in str(info.value)


# --- construction errors: the call-time taxonomy ---------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "shown"),
    [
        ({"max_retries": -1}, "max_retries", ">= 0"),
        ({"max_retries": "many"}, "max_retries", ">= 0"),
        ({"thinking": "maybe"}, "thinking.type", '"enabled" or "disabled"'),
        ({"thinking": 3}, "thinking", '"enabled"'),
        ({"max_concurrent_requests": 0}, "max_concurrent_requests", ">= 1"),
        ({"timeout": -1}, "timeout", "positive"),
        ({"temperature": 1.5}, "temperature", "[0, 1]"),
        ({"max_tokens": 200_000}, "max_tokens", "128000"),
        ({"stop": [""]}, "stop", "must not be empty"),
    ],
)
def test_bad_settings_fail_at_construction_as_a_call_would(
    fields: dict[str, Any], field: str, shown: str
) -> None:
    with pytest.raises(lp.PowerTokensRequestValidationError) as info:
        ChatPowerTokens(api_key=KEY, **fields)
    error = info.value
    assert isinstance(error, powertokens.RequestValidationError)
    assert isinstance(error, lc.ModelInvalidRequestError)
    assert isinstance(error, ValueError)
    assert error.field == field
    message = str(error)
    assert message.startswith(f"{field}: ")
    assert shown in message  # the rule: what is allowed
    assert "(got " in message  # and the value given
    assert "pydantic" not in message
    texts = [
        message,
        repr(error),
        "".join(traceback.format_exception(error)),
        "".join(traceback.TracebackException.from_exception(error, capture_locals=True).format()),
    ]
    for text in texts:
        assert KEY not in text
        assert KEY[:12] not in text  # pydantic showed the first characters of the inputs
    assert error.__context__ is None
    assert error.__cause__ is None


async def test_thinking_by_name_is_accepted_as_per_call(
    run: Run, kind: str, make_model: Factory, emu: Emulator
) -> None:
    await call(run, kind, make_model(thinking="disabled"), "Hello")
    assert emu.requests[-1]["json"]["thinking"] == {"type": "disabled"}
    await call(run, kind, make_model(), "Hello", thinking="enabled")
    assert emu.requests[-1]["json"]["thinking"] == {"type": "enabled"}


def test_a_bad_key_type_is_never_shown() -> None:
    with pytest.raises(lp.PowerTokensRequestValidationError) as info:
        ChatPowerTokens(api_key=12345678901234)
    assert info.value.field == "api_key"
    assert "12345678901234" not in str(info.value)
    assert "int" in str(info.value)


# --- no key anywhere: an authentication error, at call time ---------------------------------


async def test_no_key_is_an_authentication_error_at_call_time(
    run: Run, kind: str, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOKENS_API_KEY", raising=False)
    model = ChatPowerTokens(base_url=emu.url)  # building (or loading) needs no key
    with pytest.raises(lp.PowerTokensAuthenticationError) as info:
        await call(run, kind, model, "Hello")
    error = info.value
    assert isinstance(error, powertokens.AuthenticationError)
    assert isinstance(error, lc.ModelAuthenticationError)
    assert not isinstance(error, lc.ModelInvalidRequestError)
    assert not isinstance(error, ValueError)
    assert error.is_retryable is False
    assert "POWERTOKENS_API_KEY" in str(error)
    assert "nothing was sent" in str(error)
    assert emu.request_count == 0
    await model.aclose()


# --- tool_choice naming a tool that is not bound ---------------------------------------------


@pytest.mark.parametrize(
    "choice", ["get_time", {"type": "function", "function": {"name": "get_time"}}]
)
def test_binding_a_choice_of_an_unbound_tool_fails(choice: Any) -> None:
    model = ChatPowerTokens(api_key=KEY)
    with pytest.raises(lp.PowerTokensRequestValidationError) as info:
        model.bind_tools([get_weather], tool_choice=choice)
    assert info.value.field == "tool_choice"
    assert "get_weather" in str(info.value)  # what is bound
    assert "get_time" in str(info.value)  # what was asked


@pytest.mark.filterwarnings("ignore:PowerTokens accepts only tool_choice")
async def test_a_per_call_choice_of_an_unbound_tool_fails_before_sending(
    run: Run, kind: str, make_model: Factory, emu: Emulator
) -> None:
    bound = make_model().bind_tools([get_weather])
    with pytest.raises(lp.PowerTokensRequestValidationError, match="get_time"):
        await call(run, kind, bound, "Weather in Paris?", tool_choice="get_time")
    with pytest.raises(lp.PowerTokensRequestValidationError, match="bound: none"):
        await call(run, kind, make_model(), "Weather in Paris?", tool_choice="get_weather")
    assert emu.request_count == 0
    message = await call(run, kind, bound, "Weather in Paris?", tool_choice="get_weather")
    assert message.tool_calls[0]["name"] == "get_weather"


# --- the model profile --------------------------------------------------------------------


def test_the_profile_says_what_the_adapter_supports() -> None:
    profile = ChatPowerTokens(api_key=KEY, model="glm-5").profile
    assert profile is not None
    assert set(profile) <= set(get_type_hints(ModelProfile))  # only declared keys
    assert profile["image_inputs"] is True
    assert profile["image_url_inputs"] is True
    assert profile["text_inputs"] is True
    assert profile["tool_calling"] is True
    assert profile["tool_call_streaming"] is True
    assert profile["reasoning_output"] is True
    assert profile["temperature"] is True
    assert profile["max_input_tokens"] == 200_000
    for unsupported in ("pdf_inputs", "audio_inputs", "video_inputs", "image_outputs"):
        assert profile[unsupported] is False  # type: ignore[literal-required]
    assert profile["tool_choice"] is False  # "auto" only
    assert profile["structured_output"] is False  # no native structured output


# --- text parts of a human message --------------------------------------------------------


async def test_human_text_parts_go_out_as_parts(
    run: Run, kind: str, make_model: Factory, emu: Emulator
) -> None:
    messages = [
        SystemMessage(
            [{"type": "text", "text": "Be brief."}, {"type": "text", "text": "Be kind."}]
        ),
        HumanMessage([{"type": "text", "text": "echo:First part."}, "Second part."]),
    ]
    await call(run, kind, make_model(), messages)
    sent = emu.requests[-1]["json"]["messages"]
    assert sent[0] == {"role": "system", "content": "Be brief.\nBe kind."}
    assert sent[1]["content"] == [
        {"type": "text", "text": "echo:First part."},
        {"type": "text", "text": "Second part."},
    ]
    await call(run, kind, make_model(), [HumanMessage([{"type": "text", "text": "Hi"}])])
    assert emu.requests[-1]["json"]["messages"][0]["content"] == "Hi"  # one part: a string


async def test_tool_results_stay_text(run: Run, make_model: Factory, emu: Emulator) -> None:
    messages = [
        HumanMessage("Weather in Paris?"),
        AIMessage("", tool_calls=[{"name": "get_weather", "args": {"city": "Paris"}, "id": "c1"}]),
        ToolMessage([{"type": "text", "text": "Sunny."}, "Warm."], tool_call_id="c1"),
    ]
    await run.invoke(make_model().bind_tools([get_weather]), messages)
    assert emu.requests[-1]["json"]["messages"][-1]["content"] == "Sunny.\nWarm."


# --- an instance in create_agent ------------------------------------------------------------


async def test_create_agent_runs_with_an_instance(
    run: Run, kind: str, make_model: Factory, emu: Emulator
) -> None:
    agent = create_agent(model=make_model(), tools=[get_weather])
    question = {"messages": [("user", "What is the weather in Paris?")]}
    if kind == "invoke":
        state = await run.invoke(agent, question)
        messages = state["messages"]
    else:
        updates = await run.stream(agent, question, stream_mode="values")
        messages = updates[-1]["messages"]
    assert isinstance(messages[1], AIMessage)
    assert messages[1].tool_calls[0]["name"] == "get_weather"
    assert isinstance(messages[2], ToolMessage)
    assert "sunny" in messages[2].text.lower()
    assert isinstance(messages[-1], AIMessage)
    assert messages[-1].text
    assert emu.request_count == 2
    assert emu.requests[0]["json"]["tools"][0]["function"]["name"] == "get_weather"


async def test_a_langgraph_graph_runs_with_an_instance(
    run: Run, kind: str, make_model: Factory, emu: Emulator
) -> None:
    from langgraph.graph import START, MessagesState, StateGraph
    from langgraph.prebuilt import ToolNode, tools_condition

    model = make_model().bind_tools([get_weather])

    async def call_model(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    def call_model_sync(state: MessagesState) -> dict[str, Any]:
        return {"messages": [model.invoke(state["messages"])]}

    graph = StateGraph(MessagesState)
    graph.add_node("model", call_model_sync if run.mode == "sync" else call_model)
    graph.add_node("tools", ToolNode([get_weather]))
    graph.add_edge(START, "model")
    graph.add_conditional_edges("model", tools_condition)
    graph.add_edge("tools", "model")
    app = graph.compile()
    question = {"messages": [("user", "What is the weather in Paris?")]}
    if kind == "invoke":
        messages = (await run.invoke(app, question))["messages"]
    else:
        messages = (await run.stream(app, question, stream_mode="values"))[-1]["messages"]
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    assert messages[-1].text
    assert emu.request_count == 2
