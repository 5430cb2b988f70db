"""What users build: agent loops, LCEL chains, structured output, the documented examples."""

from __future__ import annotations

import ast
import asyncio
import inspect
import re
import warnings
from typing import Annotated, Any

import pytest
from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage
from langchain_core.output_parsers import StrOutputParser
from langchain_core.prompts import ChatPromptTemplate
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from langchain_powertokens import ChatPowerTokens, PowerTokensRateLimitError
from powertokens.emulator import Emulator

from .conftest import KEY, Factory
from .helpers import Run, add_up

pytestmark = pytest.mark.filterwarnings("ignore:PowerTokens accepts only tool_choice")


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}."


# --- agent loops ---------------------------------------------------------------------


async def test_plain_tool_loop_runs_to_completion(
    run: Run, model: ChatPowerTokens, emu: Emulator
) -> None:
    llm = model.bind_tools([get_weather])
    messages: list[Any] = [HumanMessage("What is the weather in Paris?")]
    for _ in range(5):
        reply = await run.invoke(llm, messages)
        messages.append(reply)
        if not reply.tool_calls:
            break
        for call in reply.tool_calls:
            messages.append(await run.invoke(get_weather, call))
    assert isinstance(messages[-1], AIMessage)
    assert not messages[-1].tool_calls
    assert "It is sunny in Paris." in messages[-1].text
    assert [type(m).__name__ for m in messages] == [
        "HumanMessage",
        "AIMessage",
        "ToolMessage",
        "AIMessage",
    ]
    # The assistant turn went back with its tool calls and its reasoning.
    sent = emu.requests[-1]["json"]["messages"]
    assert sent[1]["tool_calls"][0]["function"]["name"] == "get_weather"
    assert sent[1]["reasoning_content"]


async def test_langchain_create_agent_runs_to_completion(run: Run, model: ChatPowerTokens) -> None:
    from langchain.agents import create_agent

    agent = create_agent(model, tools=[get_weather], system_prompt="You are helpful.")
    state = await run.invoke(agent, {"messages": [("user", "What is the weather in Paris?")]})
    messages = state["messages"]
    assert isinstance(messages[-1], AIMessage)
    assert "sunny in Paris" in messages[-1].text
    assert any(isinstance(m, ToolMessage) for m in messages)


async def test_langgraph_react_agent_streams_to_completion(model: ChatPowerTokens) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        from langgraph.prebuilt import create_react_agent

        agent = create_react_agent(model, [get_weather])
    inputs = {"messages": [("user", "What is the weather in Paris?")]}
    streamed = [part async for part in agent.astream(inputs, stream_mode="messages")]
    assert streamed  # token by token, through _astream
    final = await agent.ainvoke(inputs)
    assert "sunny in Paris" in final["messages"][-1].text


# --- LCEL ------------------------------------------------------------------------------


async def test_lcel_chain_streams_text(run: Run, model: ChatPowerTokens) -> None:
    prompt = ChatPromptTemplate.from_messages(
        [("system", "You are a concise assistant."), ("human", "echo:{text}")]
    )
    chain = prompt | model | StrOutputParser()
    pieces = await run.stream(chain, {"text": "Vector databases store embeddings."})
    assert len(pieces) > 2
    assert all(isinstance(p, str) for p in pieces)
    assert "".join(pieces) == "Vector databases store embeddings."
    assert await run.invoke(chain, {"text": "Same again."}) == "Same again."


# --- structured output ----------------------------------------------------------------


class Joke(BaseModel):
    setup: str = Field(description="question to set up a joke")
    punchline: str = Field(description="answer to resolve the joke")


class JokeDict(TypedDict):
    setup: Annotated[str, ..., "question to set up a joke"]
    punchline: Annotated[str, ..., "answer to resolve the joke"]


@pytest.mark.parametrize("schema", [Joke, JokeDict, Joke.model_json_schema()])
@pytest.mark.parametrize("method", ["function_calling", "json_schema", "json_mode"])
async def test_structured_output_over_tool_calling(
    run: Run, model: ChatPowerTokens, emu: Emulator, schema: Any, method: str
) -> None:
    structured = model.with_structured_output(schema, method=method, strict=True)  # type: ignore[arg-type]
    result = await run.invoke(structured, "Tell me a joke about cats.")
    if schema is Joke:
        assert isinstance(result, Joke)
    else:
        assert isinstance(result, dict)
        assert set(result) == {"setup", "punchline"}
    body = emu.requests[-1]["json"]
    assert body["tool_choice"] == "auto"  # the only value the API takes
    assert [t["function"]["name"] for t in body["tools"]] == [
        "Joke" if schema is not JokeDict else "JokeDict"
    ]
    assert "Call the" in body["messages"][0]["content"]  # the call is asked for


async def test_structured_output_include_raw(run: Run, model: ChatPowerTokens) -> None:
    structured = model.with_structured_output(Joke, include_raw=True)
    result = await run.invoke(structured, "Tell me a joke about cats.")
    assert set(result) == {"raw", "parsed", "parsing_error"}
    assert isinstance(result["raw"], AIMessage)
    assert result["raw"].tool_calls
    assert isinstance(result["parsed"], Joke)
    assert result["parsing_error"] is None


class Verdict(BaseModel):
    score: int | None = None
    reason: str | None = None


async def test_structured_output_falls_back_to_json_in_text(run: Run, make_model: Factory) -> None:
    # Without the system-prompt request and with nothing in the text that fills the
    # schema, the emulator answers in text: the echoed JSON.
    model = make_model(nudge_tool_choice=False)
    structured = model.with_structured_output(Verdict)
    answer = 'echo:Here you go: ```json\n{"score": 7, "reason": "fine"}\n```'
    assert await run.invoke(structured, answer) == Verdict(score=7, reason="fine")
    chunks = await run.stream(structured, answer)
    assert chunks[-1] == Verdict(score=7, reason="fine")


async def test_text_without_json_is_a_clear_output_parser_exception(
    run: Run, make_model: Factory
) -> None:
    model = make_model(nudge_tool_choice=False)
    with pytest.raises(OutputParserException, match="instead of calling the Verdict tool"):
        await run.invoke(model.with_structured_output(Verdict), "echo:No comment.")
    raw = await run.invoke(
        model.with_structured_output(Verdict, include_raw=True), "echo:No comment."
    )
    assert raw["parsed"] is None
    assert isinstance(raw["parsing_error"], OutputParserException)
    assert raw["raw"].text == "No comment."


async def test_json_mode_without_a_schema_reads_json_from_text(
    run: Run, model: ChatPowerTokens, emu: Emulator
) -> None:
    structured = model.with_structured_output(method="json_mode")
    assert await run.invoke(structured, 'echo:{"a": 1}') == {"a": 1}
    assert "tools" not in emu.requests[-1]["json"]


def test_structured_output_rejects_unknown_arguments(model: ChatPowerTokens) -> None:
    with pytest.raises(ValueError, match="unsupported"):
        model.with_structured_output(Joke, mode="x")
    with pytest.raises(ValueError, match="method"):
        model.with_structured_output(Joke, method="xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="schema is required"):
        model.with_structured_output(None)


# --- the model object -----------------------------------------------------------------


def test_profile_params_and_identity(make_model: Factory) -> None:
    model = make_model(model="glm-4.5-air", temperature=0.3, max_tokens=64, stop=["END"])
    assert model.profile is not None
    assert model.profile["max_input_tokens"] == 128_000
    assert model.profile["max_output_tokens"] == 96_000
    assert model.profile["tool_calling"] is True
    assert model.profile["tool_choice"] is False
    assert model.profile["reasoning_output"] is True
    assert ChatPowerTokens(api_key="k", model_name="glm-5").profile["max_input_tokens"] == 200_000
    assert ChatPowerTokens(api_key="k", model="glm-9-new").profile is not None  # unknown: defaults
    assert model._llm_type == "powertokens-chat"
    assert model._get_ls_params() == {
        "ls_provider": "powertokens",
        "ls_model_name": "glm-4.5-air",
        "ls_model_type": "chat",
        "ls_temperature": 0.3,
        "ls_max_tokens": 64,
        "ls_stop": ["END"],
    }
    assert model._get_ls_params(model="glm-5")["ls_model_name"] == "glm-5"
    assert model._identifying_params["model"] == "glm-4.5-air"


async def test_one_core_client_per_model_that_follows_settings_changes(
    make_model: Factory, emu: Emulator
) -> None:
    model = make_model()
    assert model._client is None  # nothing made at construction
    model.invoke("Hello")
    assert model._client is not None
    client = model._client[1]
    model.invoke("Hello")
    assert model._client[1] is client  # made once
    await model.ainvoke("Hello")
    assert model._async_client is not None
    async_client = model._async_client[1]
    await model.ainvoke("Hello")
    assert model._async_client[1] is async_client

    # However a setting changes (assignment, a copy's update), the next call uses it.
    strict = model.model_copy(update={"max_retries": 0})
    emu.push_fault("429:1302")
    with pytest.raises(PowerTokensRateLimitError):
        strict.invoke("Hello")
    assert emu.request_count == 5  # one attempt: not retried
    emu.push_fault("429:1302")
    assert model.invoke("Hello").text  # the original still retries
    model.max_retries = 0
    emu.push_fault("429:1302")
    with pytest.raises(PowerTokensRateLimitError):
        await model.ainvoke("Hello")
    assert model._async_client[1] is not async_client
    model.base_url = emu.url + "/"
    assert model.invoke("Hello").text
    deep = model.model_copy(deep=True)
    assert deep.invoke("Hello").text
    await model.aclose()


def test_one_async_client_serves_every_event_loop(make_model: Factory) -> None:
    model = make_model()
    assert asyncio.run(model.ainvoke("Hello")).text
    assert model._async_client is not None
    first = model._async_client[1]
    assert asyncio.run(model.ainvoke("Hello")).text  # a new loop: the core gives it a pool
    assert model._async_client[1] is first


# --- the documented examples -------------------------------------------------------------


def _examples() -> list[str]:
    doc = inspect.getdoc(ChatPowerTokens) or ""
    return [inspect.cleandoc(b) for b in re.findall(r"```python\n(.*?)```", doc, re.DOTALL)]


def test_every_documented_example_runs(emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOKENS_API_KEY", KEY)
    monkeypatch.setenv("POWERTOKENS_BASE_URL", emu.url)
    namespace: dict[str, Any] = {}
    examples = _examples()
    assert len(examples) >= 8
    for source in examples:
        code = compile(
            source, "<ChatPowerTokens docstring>", "exec", ast.PyCF_ALLOW_TOP_LEVEL_AWAIT
        )
        result = eval(code, namespace)  # a coroutine when the example awaits
        if inspect.iscoroutine(result):
            asyncio.run(result)
    assert isinstance(namespace["joke"], namespace["Joke"])
    assert namespace["ai_msg"].tool_calls[0]["args"] == {"location": "Paris"}
    assert [b["type"] for b in namespace["message"].content_blocks] == ["reasoning", "text"]
    assert add_up([namespace["full"]]).usage_metadata is not None
    history = namespace["history"]  # turn-level thinking: planned with it, read without
    assert history[1].tool_calls
    assert history[1].additional_kwargs["reasoning_content"]
    assert "reasoning_content" not in history[-1].additional_kwargs
    assert history[-1].text
