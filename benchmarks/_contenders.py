"""The per-call contenders, each behind the same six calls; here the transport-level
ones (raw httpx + json, our core client, the openai SDK), in ``_adapters`` the
framework ones.

A call returns a :class:`Result` (answer text, tool calls) that is checked against the
canned answer before anything is timed, so a contender that silently does less work
(drops a chunk, misses a tool call) fails the run instead of winning it.

Each contender gets its own ``httpx`` clients on one shared :class:`_wire.Answerer`,
whose canned answer the harness switches per case.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from _wire import (
    API_KEY,
    BASE_URL,
    MODEL,
    QUESTION,
    SYSTEM,
    WEATHER_TOOL,
    Answerer,
    clients,
)

__all__ = ["CASES", "Contender", "Result", "calls_of", "core", "openai_sdk", "raw_httpx"]

CASES = ("invoke", "stream", "tools")
"""Non-stream answer; the long stream (reasoning then content); a stream with tool calls."""


@dataclass(frozen=True)
class Result:
    text: str
    calls: tuple[tuple[str, dict[str, Any]], ...] = ()


SyncCall = Callable[[], Result]
AsyncCall = Callable[[], Awaitable[Result]]


@dataclass
class Contender:
    name: str
    group: str  # "core", "langchain", "llama-index"
    kind: str  # "ours", "alternative", "framework floor", "raw httpx"
    sync: dict[str, SyncCall] = field(default_factory=dict)
    aio: dict[str, AsyncCall] = field(default_factory=dict)


WIRE_MESSAGES = [{"role": "system", "content": SYSTEM}, {"role": "user", "content": QUESTION}]
_HEADERS = {"Authorization": f"Bearer {API_KEY}", "Content-Type": "application/json"}
_URL = f"{BASE_URL}/chat/completions"


def calls_of(pairs: Iterable[tuple[str, str]]) -> tuple[tuple[str, dict[str, Any]], ...]:
    return tuple((name, json.loads(args) if args else {}) for name, args in pairs)


class _Calls:
    """Tool-call fragments accumulated by index, as a hand-written client does."""

    def __init__(self) -> None:
        self.by_index: dict[int, list[str]] = {}

    def add(self, index: int, name: str | None, args: str | None) -> None:
        entry = self.by_index.setdefault(index, ["", ""])
        if name:
            entry[0] = name
        if args:
            entry[1] += args

    def result(self) -> tuple[tuple[str, dict[str, Any]], ...]:
        return calls_of((n, a) for _, (n, a) in sorted(self.by_index.items()))


# --- raw httpx + json: the I/O floor ---------------------------------------------------


def _raw_body(stream: bool, tools: bool) -> bytes:
    body: dict[str, Any] = {"model": MODEL, "messages": WIRE_MESSAGES}
    if stream:
        body["stream"] = True
    if tools:
        body["tools"] = [WEATHER_TOOL]
    return json.dumps(body).encode()


def _raw_line(line: str, text: list[str], calls: _Calls) -> None:
    if not line.startswith("data: ") or line == "data: [DONE]":
        return
    for choice in json.loads(line[6:]).get("choices") or ():
        delta = choice.get("delta") or {}
        if content := delta.get("content"):
            text.append(content)
        for call in delta.get("tool_calls") or ():
            function = call.get("function") or {}
            calls.add(call["index"], function.get("name"), function.get("arguments"))


def raw_httpx(answerer: Answerer) -> Contender:
    sync, aio = clients(answerer)
    bodies = {(s, t): _raw_body(s, t) for s in (False, True) for t in (False, True)}

    def invoke() -> Result:
        response = sync.post(_URL, content=bodies[False, False], headers=_HEADERS)
        return Result(json.loads(response.content)["choices"][0]["message"]["content"])

    def stream(tools: bool) -> Result:
        text: list[str] = []
        calls = _Calls()
        with sync.stream("POST", _URL, content=bodies[True, tools], headers=_HEADERS) as r:
            for line in r.iter_lines():
                _raw_line(line, text, calls)
        return Result("".join(text), calls.result())

    async def ainvoke() -> Result:
        response = await aio.post(_URL, content=bodies[False, False], headers=_HEADERS)
        return Result(json.loads(response.content)["choices"][0]["message"]["content"])

    async def astream(tools: bool) -> Result:
        text: list[str] = []
        calls = _Calls()
        async with aio.stream("POST", _URL, content=bodies[True, tools], headers=_HEADERS) as r:
            async for line in r.aiter_lines():
                _raw_line(line, text, calls)
        return Result("".join(text), calls.result())

    return Contender(
        "raw httpx + json",
        "core",
        "raw httpx",
        {"invoke": invoke, "stream": lambda: stream(False), "tools": lambda: stream(True)},
        {"invoke": ainvoke, "stream": lambda: astream(False), "tools": lambda: astream(True)},
    )


# --- the core client ----------------------------------------------------------------------


def core(answerer: Answerer) -> Contender:
    from powertokens import AsyncPowerTokens, PowerTokens

    sync_http, async_http = clients(answerer)
    sync = PowerTokens(api_key=API_KEY, base_url=BASE_URL, http_client=sync_http)
    aio = AsyncPowerTokens(api_key=API_KEY, base_url=BASE_URL, http_client=async_http)

    def finish(text: list[str], completion: Any) -> Result:
        calls = completion.message.tool_calls or ()
        return Result(
            "".join(text), calls_of((c.function.name, c.function.arguments) for c in calls)
        )

    def invoke() -> Result:
        return Result(sync.chat(WIRE_MESSAGES, model=MODEL).content)

    def stream(tools: bool) -> Result:
        text: list[str] = []
        with sync.stream(WIRE_MESSAGES, model=MODEL, tools=[WEATHER_TOOL] if tools else None) as s:
            for delta in s:
                if delta.content:
                    text.append(delta.content)
        return finish(text, s.completion)

    async def ainvoke() -> Result:
        return Result((await aio.chat(WIRE_MESSAGES, model=MODEL)).content)

    async def astream(tools: bool) -> Result:
        text: list[str] = []
        tool_list = [WEATHER_TOOL] if tools else None
        async with aio.stream(WIRE_MESSAGES, model=MODEL, tools=tool_list) as s:
            async for delta in s:
                if delta.content:
                    text.append(delta.content)
        return finish(text, s.completion)

    return Contender(
        "powertokens (core)",
        "core",
        "ours",
        {"invoke": invoke, "stream": lambda: stream(False), "tools": lambda: stream(True)},
        {"invoke": ainvoke, "stream": lambda: astream(False), "tools": lambda: astream(True)},
    )


def openai_sdk(answerer: Answerer) -> Contender:
    from openai import AsyncOpenAI, OpenAI

    sync_http, async_http = clients(answerer)
    sync = OpenAI(api_key=API_KEY, base_url=BASE_URL, http_client=sync_http)
    aio = AsyncOpenAI(api_key=API_KEY, base_url=BASE_URL, http_client=async_http)

    def fold(chunk: Any, text: list[str], calls: _Calls) -> None:
        for choice in chunk.choices:
            delta = choice.delta
            if delta.content:
                text.append(delta.content)
            for call in delta.tool_calls or ():
                function = call.function
                calls.add(
                    call.index,
                    function.name if function else None,
                    function.arguments if function else None,
                )

    def invoke() -> Result:
        answer = sync.chat.completions.create(model=MODEL, messages=WIRE_MESSAGES)
        return Result(answer.choices[0].message.content or "")

    def stream(tools: bool) -> Result:
        text: list[str] = []
        calls = _Calls()
        extra: dict[str, Any] = {"tools": [WEATHER_TOOL]} if tools else {}
        chunks = sync.chat.completions.create(
            model=MODEL, messages=WIRE_MESSAGES, stream=True, **extra
        )
        for chunk in chunks:
            fold(chunk, text, calls)
        return Result("".join(text), calls.result())

    async def ainvoke() -> Result:
        answer = await aio.chat.completions.create(model=MODEL, messages=WIRE_MESSAGES)
        return Result(answer.choices[0].message.content or "")

    async def astream(tools: bool) -> Result:
        text: list[str] = []
        calls = _Calls()
        extra: dict[str, Any] = {"tools": [WEATHER_TOOL]} if tools else {}
        chunks = await aio.chat.completions.create(
            model=MODEL, messages=WIRE_MESSAGES, stream=True, **extra
        )
        async for chunk in chunks:
            fold(chunk, text, calls)
        return Result("".join(text), calls.result())

    return Contender(
        "openai SDK",
        "core",
        "alternative",
        {"invoke": invoke, "stream": lambda: stream(False), "tools": lambda: stream(True)},
        {"invoke": ainvoke, "stream": lambda: astream(False), "tools": lambda: astream(True)},
    )
