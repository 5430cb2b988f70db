"""The LangChain and LlamaIndex contenders: ours, the alternative, the framework floor.

Each framework's six calls are written once (``_langchain``, ``_llama``) and given the
model under test, so every contender of a framework is driven by the same code: the
same messages, the same way of reading a stream, the same tool-call extraction.
"""

from __future__ import annotations

from typing import Any

from _contenders import Contender, Result, calls_of
from _floors import FloorChatModel, FloorLLM, script
from _wire import (
    API_KEY,
    BASE_URL,
    MODEL,
    QUESTION,
    SYSTEM,
    WEATHER_TOOL,
    Answerer,
    Canned,
    clients,
)

__all__ = [
    "chat_openai",
    "chat_powertokens",
    "langchain_floor",
    "llama_floor",
    "llama_powertokens",
    "openai_like",
]


# --- LangChain ----------------------------------------------------------------------------


def _langchain(name: str, kind: str, model: Any, tool_model: Any) -> Contender:
    """The six calls of a LangChain chat model (``tool_model``: tools already bound)."""
    from langchain_core.messages import HumanMessage, SystemMessage

    messages = [SystemMessage(SYSTEM), HumanMessage(QUESTION)]

    def text_of(chunk: Any) -> str:
        return chunk.content if isinstance(chunk.content, str) else ""

    def tool_result(full: Any) -> Result:
        return Result(text_of(full), tuple((c["name"], c["args"]) for c in full.tool_calls))

    def invoke() -> Result:
        return Result(model.invoke(messages).content)

    def stream() -> Result:
        return Result("".join(text_of(chunk) for chunk in model.stream(messages)))

    def tools() -> Result:
        full = None
        for chunk in tool_model.stream(messages):
            full = chunk if full is None else full + chunk
        return tool_result(full)

    async def ainvoke() -> Result:
        return Result((await model.ainvoke(messages)).content)

    async def astream() -> Result:
        return Result("".join([text_of(chunk) async for chunk in model.astream(messages)]))

    async def atools() -> Result:
        full = None
        async for chunk in tool_model.astream(messages):
            full = chunk if full is None else full + chunk
        return tool_result(full)

    return Contender(
        name,
        "langchain",
        kind,
        {"invoke": invoke, "stream": stream, "tools": tools},
        {"invoke": ainvoke, "stream": astream, "tools": atools},
    )


def chat_powertokens(answerer: Answerer) -> Contender:
    from langchain_powertokens import ChatPowerTokens

    sync, aio = clients(answerer)
    model = ChatPowerTokens(
        model=MODEL, api_key=API_KEY, base_url=BASE_URL, http_client=sync, http_async_client=aio
    )
    return _langchain("ChatPowerTokens", "ours", model, model.bind_tools([WEATHER_TOOL]))


def chat_openai(answerer: Answerer) -> Contender:
    from langchain_openai import ChatOpenAI

    sync, aio = clients(answerer)
    model = ChatOpenAI(
        model=MODEL, api_key=API_KEY, base_url=BASE_URL, http_client=sync, http_async_client=aio
    )
    return _langchain("ChatOpenAI", "alternative", model, model.bind_tools([WEATHER_TOOL]))


def langchain_floor(answer: Canned, stream: Canned, tools: Canned) -> Contender:
    whole = script(answer)
    model = FloorChatModel(answer=whole, chunks=script(stream))
    tool_model = FloorChatModel(answer=whole, chunks=script(tools))
    return _langchain("BaseChatModel, no I/O", "framework floor", model, tool_model)


# --- LlamaIndex ---------------------------------------------------------------------------


def _get_weather(city: str, unit: str = "celsius") -> str:
    """The current weather in a city."""
    return f"22 degrees {unit} in {city}"


def _llama(name: str, kind: str, llm: Any, tool_llm: Any, with_tools: bool) -> Contender:
    """The six calls of a LlamaIndex LLM. ``with_tools``: the tool case goes through
    ``stream_chat_with_tools`` (what agents call), else ``tool_llm`` streams calls unasked."""
    from llama_index.core.base.llms.types import ChatMessage
    from llama_index.core.tools import FunctionTool

    messages = [
        ChatMessage(role="system", content=SYSTEM),
        ChatMessage(role="user", content=QUESTION),
    ]
    tool = FunctionTool.from_defaults(fn=_get_weather, name="get_weather")
    options = {"chat_history": messages, "allow_parallel_tool_calls": True}

    def tool_result(last: Any) -> Result:
        if with_tools:
            found = llm.get_tool_calls_from_response(last, error_on_no_tool_call=False)
            calls = tuple((s.tool_name, s.tool_kwargs) for s in found)
        else:
            calls = calls_of(
                (c["name"], c["arguments"]) for c in last.message.additional_kwargs["tool_calls"]
            )
        return Result(last.message.content or "", calls)

    def invoke() -> Result:
        return Result(llm.chat(messages).message.content)

    def stream() -> Result:
        return Result("".join([r.delta or "" for r in llm.stream_chat(messages)]))

    def tools() -> Result:
        last = None
        responses = (
            llm.stream_chat_with_tools([tool], **options)
            if with_tools
            else tool_llm.stream_chat(messages)
        )
        for last in responses:  # noqa: B007 (the last response holds the calls)
            pass
        return tool_result(last)

    async def ainvoke() -> Result:
        return Result((await llm.achat(messages)).message.content)

    async def astream() -> Result:
        return Result("".join([r.delta or "" async for r in await llm.astream_chat(messages)]))

    async def atools() -> Result:
        last = None
        responses = (
            await llm.astream_chat_with_tools([tool], **options)
            if with_tools
            else await tool_llm.astream_chat(messages)
        )
        async for last in responses:  # noqa: B007
            pass
        return tool_result(last)

    return Contender(
        name,
        "llama-index",
        kind,
        {"invoke": invoke, "stream": stream, "tools": tools},
        {"invoke": ainvoke, "stream": astream, "tools": atools},
    )


def llama_powertokens(answerer: Answerer) -> Contender:
    from llama_index_powertokens import PowerTokens

    sync, aio = clients(answerer)
    llm = PowerTokens(
        model=MODEL, api_key=API_KEY, base_url=BASE_URL, http_client=sync, async_http_client=aio
    )
    return _llama("PowerTokens (llama-index)", "ours", llm, llm, with_tools=True)


def openai_like(answerer: Answerer) -> Contender:
    from llama_index.llms.openai_like import OpenAILike

    sync, aio = clients(answerer)
    llm = OpenAILike(
        model=MODEL,
        api_key=API_KEY,
        api_base=BASE_URL,
        is_chat_model=True,
        is_function_calling_model=True,
        context_window=200_000,
        http_client=sync,
        async_http_client=aio,
    )
    return _llama("OpenAILike", "alternative", llm, llm, with_tools=True)


def llama_floor(answer: Canned, stream: Canned, tools: Canned) -> Contender:
    whole = script(answer)
    llm = FloorLLM(whole, script(stream))
    tool_llm = FloorLLM(whole, script(tools))
    return _llama("CustomLLM, no I/O", "framework floor", llm, tool_llm, with_tools=False)
