"""Every documented limit, broken once through each public entry point: a clear error
naming the field, the rule and the value, raised before anything is sent (the emulator
counts no request).

Entry points: the core's ``chat``/``stream`` (sync and async); ChatPowerTokens'
``invoke``/``ainvoke``/``stream``/``astream``/``batch``/``abatch`` and ``bind_tools``;
the LlamaIndex LLM's ``chat``/``achat``/``stream_chat``/``astream_chat`` and the four
``complete`` methods.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from langchain_core.exceptions import ModelInvalidRequestError
from langchain_core.messages import (
    BaseMessage,
    ChatMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from llama_index.core.base.llms.types import ChatMessage as LlamaMessage
from llama_index.core.base.llms.types import ImageBlock, TextBlock
from llama_index.core.tools import FunctionTool

from langchain_powertokens import ChatPowerTokens
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import AsyncPowerTokens, PowerTokens, RequestValidationError
from powertokens.emulator import Emulator

from .scan import assert_error_has_no_key
from .stacks import KEY


def _lookup(x: int) -> int:
    """Look x up."""
    return x


def _dict_tools(n: int, name: str = "lookup") -> list[dict[str, Any]]:
    return [
        {
            "type": "function",
            "function": {"name": f"{name}{i}" if n > 1 else name, "parameters": {}},
        }
        for i in range(n)
    ]


def _li_tools(n: int, name: str = "lookup") -> list[FunctionTool]:
    return list(_li_tools_made(n, name))


@functools.cache
def _li_tools_made(n: int, name: str) -> tuple[FunctionTool, ...]:
    """Made once per (n, name): a FunctionTool builds a pydantic model, and the 129 tools
    were made again for each of the eight entry points. Reused as given: nothing is sent."""
    return tuple(
        FunctionTool.from_defaults(_lookup, name=f"{name}{i}" if n > 1 else name) for i in range(n)
    )


IMAGE = "ftp://example.com/cat.png"


@dataclass(frozen=True)
class Limit:
    id: str
    where: str
    """The field the error must name."""
    rule: str
    """Part of the error's ``limit`` text."""
    shown: str
    """Part of the message that shows the value given."""
    params: dict[str, Any] = field(default_factory=dict)
    """Per-call keyword arguments that break the limit."""
    messages: str | None = None
    """A conversation that breaks the limit (see ``conversation``)."""
    tools: tuple[int, str] | None = None
    """(how many, name) of tools to pass: too many, or a bad name."""
    stacks: tuple[str, ...] = ("core", "langchain", "llama_index")


LIMITS = [
    Limit("temperature", "temperature", "[0, 1]", "1.5", {"temperature": 1.5}),
    Limit("top_p", "top_p", "[0.01, 1]", "0.001", {"top_p": 0.001}),
    Limit("max_tokens-zero", "max_tokens", ">= 1", "0", {"max_tokens": 0}),
    Limit("max_tokens-float", "max_tokens", "integer", "2.5", {"max_tokens": 2.5}),
    Limit("max_tokens-model", "max_tokens", "<= 128000", "128001", {"max_tokens": 128_001}),
    Limit(
        "max_tokens-air",
        "max_tokens",
        "<= 96000",
        "100000",
        {"max_tokens": 100_000, "model": "glm-4.5-air"},
    ),
    Limit("thinking", "thinking.type", "enabled", "sometimes", {"thinking": "sometimes"}),
    Limit("stop-empty", "stop", "must not be empty", "''", {"stop": ""}),
    Limit("too-many-tools", "tools", "at most 128", "129 tools", tools=(129, "tool")),
    Limit(
        "tool-name",
        "tools[0].function.name",
        "A-Za-z0-9_-",
        "bad name!",
        tools=(1, "bad name!"),
        stacks=("core", "langchain"),  # LlamaIndex itself rewrites such names ("bad_name_")
    ),
    Limit("tool-name-length", "tools[0].function.name", "{1,64}", "x" * 65, tools=(1, "x" * 65)),
    Limit("model", "model", "non-empty string", "''", {"model": ""}, stacks=("core",)),
    Limit(
        "tool-choice",
        "tool_choice",
        "'auto', 'none', 'any', 'required'",
        "3.5",
        {"tool_choice": 3.5},
        tools=(1, "lookup"),
        stacks=("core",),  # every framework choice maps onto "auto" (+ a hint)
    ),
    Limit(
        "no-user-turn",
        "messages",
        "neither system nor assistant",
        "['system']",
        messages="system-only",
    ),
    Limit(
        "image-url",
        "messages[0].content[1].image_url.url",
        "http(s) URL or a data: URI",
        IMAGE,
        messages="image",
    ),
    Limit(
        "tool-result-id",
        "messages[1].tool_call_id",
        "needs tool_call_id",
        "got",
        messages="tool-without-id",
    ),
    Limit(
        "role",
        "messages[0].role",
        "user",
        "narrator",
        messages="role",
        stacks=("core", "langchain"),  # a LlamaIndex message cannot have another role
    ),
]


def conversation(stack: str, kind: str | None) -> Any:
    """The conversation for a limit, in the stack's own message type."""
    if stack == "core":
        return {
            None: [{"role": "user", "content": "hi"}],
            "system-only": [{"role": "system", "content": "Be brief."}],
            "image": [
                {
                    "role": "user",
                    "content": [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": IMAGE}},
                    ],
                }
            ],
            "tool-without-id": [
                {"role": "user", "content": "hi"},
                {"role": "tool", "content": "42"},
            ],
            "role": [{"role": "narrator", "content": "Once upon a time"}],
        }[kind]
    if stack == "langchain":
        lc: dict[str | None, list[BaseMessage] | str] = {
            None: "hi",
            "system-only": [SystemMessage("Be brief.")],
            "image": [
                HumanMessage(
                    [
                        {"type": "text", "text": "What is this?"},
                        {"type": "image_url", "image_url": {"url": IMAGE}},
                    ]
                )
            ],
            "tool-without-id": [HumanMessage("hi"), ToolMessage("42", tool_call_id="")],
            "role": [ChatMessage(role="narrator", content="Once upon a time")],
        }
        return lc[kind]
    return {
        None: [LlamaMessage(role="user", content="hi")],
        "system-only": [LlamaMessage(role="system", content="Be brief.")],
        "image": [
            LlamaMessage(
                role="user", blocks=[TextBlock(text="What is this?"), ImageBlock(url=IMAGE)]
            )
        ],
        "tool-without-id": [
            LlamaMessage(role="user", content="hi"),
            LlamaMessage(role="tool", content="42"),
        ],
    }[kind]


# -- the entry points: (stack, name, call(target, limit) -> awaitable or value) ---------------

Call = Callable[[Any, Limit], Any]


def _kwargs(stack: str, limit: Limit) -> dict[str, Any]:
    kwargs = dict(limit.params)
    if limit.tools is not None:
        n, name = limit.tools
        kwargs["tools"] = _li_tools(n, name) if stack == "llama_index" else _dict_tools(n, name)
    return kwargs


async def _core_sync_stream(client: PowerTokens, limit: Limit) -> None:
    with client.stream(conversation("core", limit.messages), **_kwargs("core", limit)) as s:
        for _ in s:
            pass


async def _core_async_stream(client: AsyncPowerTokens, limit: Limit) -> None:
    stream = client.stream(conversation("core", limit.messages), **_kwargs("core", limit))
    async with stream:
        async for _ in stream:
            pass


async def _lc(method: str, model: ChatPowerTokens, limit: Limit) -> Any:
    data, kwargs = conversation("langchain", limit.messages), _kwargs("langchain", limit)
    if method == "invoke":
        return model.invoke(data, **kwargs)
    if method == "ainvoke":
        return await model.ainvoke(data, **kwargs)
    if method == "stream":
        return list(model.stream(data, **kwargs))
    if method == "astream":
        return [c async for c in model.astream(data, **kwargs)]
    if method == "batch":
        return model.batch([data, data], **kwargs)
    if method == "abatch":
        return await model.abatch([data, data], **kwargs)
    # bind_tools: the tools are checked when bound; everything else on the call
    bound = model.bind_tools(kwargs.pop("tools", []))
    return await bound.ainvoke(data, **kwargs)


async def _li(method: str, llm: LlamaPowerTokens, limit: Limit) -> Any:
    data, kwargs = conversation("llama_index", limit.messages), _kwargs("llama_index", limit)
    if "complete" in method:
        data = "hi"
    result = getattr(llm, method)(data, **kwargs)
    if method.startswith("a"):
        result = await result
    if "stream" in method:
        if method.startswith("a"):
            return [r async for r in result]
        return list(result)
    return result


def _core_chat(client: Any, limit: Limit) -> Any:
    return client.chat(conversation("core", limit.messages), **_kwargs("core", limit))


ENTRY_POINTS: list[tuple[str, str, Call]] = [
    ("core", "chat", _core_chat),
    ("core", "stream", _core_sync_stream),
    ("core", "achat", _core_chat),
    ("core", "astream", _core_async_stream),
    *(
        ("langchain", m, lambda t, limit, m=m: _lc(m, t, limit))
        for m in ("invoke", "ainvoke", "stream", "astream", "batch", "abatch", "bind_tools")
    ),
    *(
        ("llama_index", m, lambda t, limit, m=m: _li(m, t, limit))
        for m in (
            "chat",
            "achat",
            "stream_chat",
            "astream_chat",
            "complete",
            "acomplete",
            "stream_complete",
            "astream_complete",
        )
    ),
]

# Asserted the same way already (tests/langchain/test_faults.py, tests/llama_index/test_faults.py).
COVERED = {
    *(
        ("langchain", m, lim)
        for m in ("invoke", "ainvoke")
        for lim in ("temperature", "top_p", "max_tokens-zero", "max_tokens-model", "tool-name")
    ),
    *(
        ("llama_index", m, lim)
        for m in ("chat", "achat", "stream_chat", "astream_chat", "complete", "acomplete")
        for lim in ("temperature", "top_p", "max_tokens-zero", "max_tokens-model")
    ),
    *(
        ("llama_index", m, lim)
        for m in ("stream_complete", "astream_complete")
        for lim in ("temperature", "top_p", "max_tokens-zero", "max_tokens-model")
    ),
    *(
        ("llama_index", m, "tool-name-length")
        for m in ("chat", "achat", "stream_chat", "astream_chat")
    ),
}


def _applies(stack: str, method: str, limit: Limit) -> bool:
    if stack not in limit.stacks or (stack, method, limit.id) in COVERED:
        return False
    if stack == "llama_index" and "complete" in method and limit.messages is not None:
        return False  # a prompt string is always one user message
    if method == "bind_tools":
        return limit.tools is not None  # the tool limits, when the tools are bound
    return True


PARAMS = [
    pytest.param(stack, method, call, limit, id=f"{stack}-{method}-{limit.id}")
    for stack, method, call in ENTRY_POINTS
    for limit in LIMITS
    if _applies(stack, method, limit)
]


async def _call(call: Call, target: Any, limit: Limit) -> None:
    result = call(target, limit)
    if hasattr(result, "__await__"):
        await result


def _target(stack: str, async_: bool, url: str) -> Any:
    if stack == "core":
        return (AsyncPowerTokens if async_ else PowerTokens)(api_key=KEY, base_url=url)
    if stack == "langchain":
        return ChatPowerTokens(api_key=KEY, base_url=url)
    return LlamaPowerTokens(api_key=KEY, base_url=url)


@pytest.mark.parametrize(("stack", "method", "call", "limit"), PARAMS)
async def test_a_broken_limit_is_refused_before_sending(
    stack: str, method: str, call: Call, limit: Limit, emu: Emulator
) -> None:
    target = _target(stack, method.startswith("a"), emu.url)
    with pytest.raises(RequestValidationError) as info:
        await _call(call, target, limit)
    error = info.value
    assert emu.request_count == 0  # nothing was sent
    assert error.field == limit.where
    assert limit.rule in error.limit
    message = str(error)
    assert message.startswith(f"{limit.where}: ")  # "field: rule (got value)"
    assert limit.shown in message
    assert isinstance(error, ValueError)
    if stack == "langchain":
        assert isinstance(error, ModelInvalidRequestError)  # langchain-core's class too
    assert_error_has_no_key(error)


def test_every_documented_limit_is_in_the_table() -> None:
    from powertokens._limits import MAX_TOOLS

    fields = {limit.where.split("[")[0].split(".")[0] for limit in LIMITS}
    assert fields >= {"temperature", "top_p", "max_tokens", "thinking", "stop", "tools"}
    assert fields >= {"model", "tool_choice", "messages"}
    assert MAX_TOOLS == 128
