"""The stream decoder against a hostile server over loopback (issue 11, "The stream
decoder"): huge lines, bytes after ``[DONE]``, malformed usage, a byte order mark,
surrogate pairs split across chunks, lone surrogates in the input."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Iterator
from typing import Any

import pytest

from powertokens import (
    AsyncPowerTokens,
    PowerTokens,
    PowerTokensError,
    RequestValidationError,
    StreamInterruptedError,
)
from tests.hostile import (
    HostileServer,
    chunk,
    completion,
    completion_chunk,
    json_response,
    sse,
    stream_head,
)

from .conftest import Sleeps

MESSAGES = [{"role": "user", "content": "hi"}]
DEFAULT_MAX_EVENT_BYTES = 16 * 1024 * 1024  # the documented default
MODES = ["sync", "async"]


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as s:
        yield s


def stream(server: HostileServer, mode: str, **options: Any) -> tuple[list[Any], Any]:
    """Run one stream; (the deltas, the final completion)."""
    options = {"max_retries": 0, **options}
    if mode == "sync":
        with PowerTokens(api_key="k", base_url=server.url, **options) as client:
            with client.stream(MESSAGES) as s:
                deltas = list(s)
            return deltas, s.completion

    async def main() -> tuple[list[Any], Any]:
        async with AsyncPowerTokens(api_key="k", base_url=server.url, **options) as client:
            async with client.stream(MESSAGES) as s:
                deltas = [d async for d in s]
            return deltas, s.completion

    return asyncio.run(main())


def chat(server: HostileServer, mode: str) -> Any:
    if mode == "sync":
        with PowerTokens(api_key="k", base_url=server.url, max_retries=0) as client:
            return client.chat(MESSAGES)

    async def main() -> Any:
        async with AsyncPowerTokens(api_key="k", base_url=server.url, max_retries=0) as client:
            return await client.chat(MESSAGES)

    return asyncio.run(main())


def body(*pieces: bytes) -> list[Any]:
    """A chunked stream answer, one chunk (one read) per piece."""
    return [stream_head(), *(chunk(p) for p in pieces), chunk(b"")]


FINISH = sse(completion_chunk("hello", finish="stop"))
DONE = sse("[DONE]")


# --- 1. long lines: linear time, and a cap -------------------------------------------


@pytest.mark.slow  # 20 MB through the decoder
@pytest.mark.parametrize("mode", MODES)
def test_a_20_mb_line_is_refused_at_the_default_cap(server: HostileServer, mode: str) -> None:
    before = sse(completion_chunk("kept"))
    huge = sse(completion_chunk("x" * 20_000_000, finish="stop"))
    server.script(body(before, huge, DONE))
    with pytest.raises(StreamInterruptedError) as info:
        stream(server, mode, max_retries=2)
    message = str(info.value)
    assert "max_event_bytes" in message
    assert str(DEFAULT_MAX_EVENT_BYTES) in message
    assert info.value.partial is not None
    assert info.value.partial_text == "kept"  # what was delivered is kept
    assert len(server.requests) == 1  # not retried


@pytest.mark.slow  # 20 MB through the decoder
@pytest.mark.parametrize("mode", MODES)
def test_a_20_mb_line_under_a_raised_cap_arrives_whole_and_fast(
    server: HostileServer, mode: str
) -> None:
    text = "y" * 20_000_000
    server.script(body(sse(completion_chunk(text, finish="stop")), DONE))
    start = time.perf_counter()
    deltas, final = stream(server, mode, max_event_bytes=32 * 1024 * 1024)
    elapsed = time.perf_counter() - start
    assert final.content == text
    assert "".join(d.content for d in deltas) == text
    # About a second on an idle machine; quadratic re-copying took many times that.
    assert elapsed < 30


@pytest.mark.parametrize("mode", MODES)
def test_max_event_bytes_is_per_client_and_with_options(
    server: HostileServer, mode: str, sleeps: Sleeps
) -> None:
    event = sse(completion_chunk("z" * 5000, finish="stop"))
    server.script(body(event, DONE))
    with pytest.raises(StreamInterruptedError, match=r"max_event_bytes=4096: \d+ bytes"):
        stream(server, mode, max_event_bytes=4096, max_retries=1)
    # Nothing was delivered: retried like any stream broken before output.
    assert len(server.requests) == 2
    assert len(sleeps.delays) == 1
    client = PowerTokens(api_key="k", base_url=server.url, max_event_bytes=4096)
    assert client.max_event_bytes == 4096
    assert client.with_options(max_event_bytes=10_000).max_event_bytes == 10_000
    assert client.with_options(max_retries=1).max_event_bytes == 4096
    assert PowerTokens(api_key="k").max_event_bytes == DEFAULT_MAX_EVENT_BYTES


@pytest.mark.parametrize("bad", [0, -1, 1.5, "16M", True, None])
def test_max_event_bytes_is_checked_when_the_client_is_built(bad: Any) -> None:
    with pytest.raises(RequestValidationError, match="max_event_bytes"):
        PowerTokens(api_key="k", max_event_bytes=bad)
    with pytest.raises(RequestValidationError, match="max_event_bytes"):
        AsyncPowerTokens(api_key="k", max_event_bytes=bad)
    with pytest.raises(RequestValidationError, match="max_event_bytes"):
        PowerTokens(api_key="k").with_options(max_event_bytes=bad)


# --- 2. parsing stops at [DONE] --------------------------------------------------------

GARBAGE = [
    pytest.param(b"retry: \xc2\xb2\n\n", id="retry-unicode-digit"),
    pytest.param(b"retry: " + b"9" * 5000 + b"\n\n", id="retry-5000-digits"),
    pytest.param(b"data: {broken\n\n", id="broken-json"),
    pytest.param(b'data: {"error": {"code": "1305", "message": "late"}}\n\n', id="error-event"),
    pytest.param(b"\xff\xfe garbage without an end", id="bytes"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("garbage", GARBAGE)
def test_bytes_after_done_in_the_same_read_do_not_fail_the_answer(
    server: HostileServer, mode: str, garbage: bytes
) -> None:
    server.script(body(FINISH + DONE + garbage))
    deltas, final = stream(server, mode)
    assert final.content == "hello"
    assert final.finish_reason == "stop"
    assert [d.content for d in deltas] == ["hello"]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("garbage", GARBAGE)
def test_bytes_after_done_in_a_later_read_do_not_fail_the_answer(
    server: HostileServer, mode: str, garbage: bytes
) -> None:
    server.script(body(FINISH, DONE, garbage))
    _, final = stream(server, mode)
    assert final.content == "hello"


@pytest.mark.parametrize("mode", MODES)
def test_an_oversized_line_after_done_is_not_even_measured(
    server: HostileServer, mode: str
) -> None:
    server.script(body(FINISH + DONE + b"data: " + b"x" * 5000 + b"\n\n"))
    _, final = stream(server, mode, max_event_bytes=1024)
    assert final.content == "hello"


# --- 3. malformed usage is missing usage -----------------------------------------------

BAD_USAGE = [
    pytest.param({"prompt_tokens": "3", "completion_tokens": 1, "total_tokens": 4}, id="string"),
    pytest.param({"prompt_tokens": 3.5, "completion_tokens": 1, "total_tokens": 4}, id="float"),
    pytest.param({"prompt_tokens": -3, "completion_tokens": 1, "total_tokens": 4}, id="negative"),
    pytest.param([3, 1, 4], id="list"),
    pytest.param("3 tokens", id="text"),
    pytest.param({"prompt_tokens": 3, "prompt_tokens_details": {"cached_tokens": "x"}}, id="deep"),
]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("usage", BAD_USAGE)
def test_malformed_usage_in_a_stream_is_no_usage(
    server: HostileServer, mode: str, usage: Any
) -> None:
    last = completion_chunk("hello", finish="stop")
    last["usage"] = usage
    server.script(body(sse(last), DONE))
    deltas, final = stream(server, mode)
    assert final.content == "hello"
    assert final.usage is None
    assert all(d.usage is None for d in deltas)


@pytest.mark.parametrize("mode", MODES)
def test_a_malformed_usage_after_a_good_one_keeps_the_good_one(
    server: HostileServer, mode: str
) -> None:
    good = completion_chunk("hello", finish="stop")
    good["usage"] = {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}
    extra = {"id": "hostile-1", "choices": [], "usage": {"prompt_tokens": "many"}}
    server.script(body(sse(good), sse(extra), DONE))
    deltas, final = stream(server, mode)
    assert final.usage is not None
    assert final.usage.total_tokens == 4
    assert [d.usage.total_tokens for d in deltas if d.usage is not None] == [4]


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("usage", BAD_USAGE)
def test_malformed_usage_in_a_whole_answer_is_no_usage(
    server: HostileServer, mode: str, usage: Any
) -> None:
    server.script(json_response(200, completion("hello", usage=usage)))
    answer = chat(server, mode)
    assert answer.content == "hello"
    assert answer.usage is None


# --- 4. a byte order mark ---------------------------------------------------------------

BOM = b"\xef\xbb\xbf"


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    "pieces",
    [
        pytest.param([BOM + FINISH, DONE], id="whole"),
        pytest.param([BOM, FINISH, DONE], id="own-read"),
        pytest.param([BOM[:1], BOM[1:] + FINISH, DONE], id="split-1-2"),
        pytest.param([BOM[:2], BOM[2:], FINISH + DONE], id="split-2-1"),
    ],
)
def test_a_byte_order_mark_does_not_drop_the_first_event(
    server: HostileServer, mode: str, pieces: list[bytes]
) -> None:
    server.script(body(*pieces))
    deltas, final = stream(server, mode)
    assert final.content == "hello"
    assert [d.content for d in deltas] == ["hello"]


# --- 5. a surrogate pair split across chunks ----------------------------------------------


def escaped(delta: dict[str, Any], finish: str | None = None) -> bytes:
    """An event whose JSON escapes everything (``\\ud83d`` stays a lone escape)."""
    return sse(json.dumps(completion_chunk(finish=finish, **delta)).encode())


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("field", ["content", "reasoning_content"])
def test_a_surrogate_pair_split_across_chunks_is_one_character(
    server: HostileServer, mode: str, field: str
) -> None:
    server.script(
        body(
            escaped({field: "a\ud83d"}),
            escaped({field: "\ude00b"}),
            escaped({field: "\ud83d"}),
            escaped({field: "\ude01"}, finish="stop"),
            DONE,
        )
    )
    deltas, final = stream(server, mode)
    attr = "content" if field == "content" else "reasoning"
    pieces = [getattr(d, attr) for d in deltas]
    assert "".join(pieces) == "a\U0001f600b\U0001f601"
    assert getattr(final, field) == "a\U0001f600b\U0001f601"
    for piece in pieces:
        piece.encode("utf-8")  # no delta carries half a pair


@pytest.mark.parametrize("mode", MODES)
def test_a_surrogate_pair_split_in_tool_call_arguments_is_one_character(
    server: HostileServer, mode: str
) -> None:
    first = {"index": 0, "id": "call_1", "function": {"name": "f", "arguments": '{"a": "\ud83d'}}
    second = {"index": 0, "function": {"arguments": '\ude00"}'}}
    server.script(
        body(
            escaped({"tool_calls": [first]}),
            escaped({"tool_calls": [second]}, finish="tool_calls"),
            DONE,
        )
    )
    deltas, final = stream(server, mode)
    pieces = [c.arguments for d in deltas for c in d.tool_calls]
    assert "".join(pieces) == '{"a": "\U0001f600"}'
    for piece in pieces:
        piece.encode("utf-8")
    assert final.message.tool_calls[0].parsed_arguments() == {"a": "\U0001f600"}


@pytest.mark.parametrize("mode", MODES)
def test_a_lone_surrogate_at_the_end_becomes_a_replacement_character(
    server: HostileServer, mode: str
) -> None:
    # Half a pair the next piece does not complete, and half a pair at the finish.
    server.script(
        body(
            escaped({"content": "a\ud83d"}),
            escaped({"content": "b\ud83d"}),
            escaped({}, finish="stop"),
            DONE,
        )
    )
    deltas, final = stream(server, mode)
    assert final.content == "a\ufffdb\ufffd"
    assert "".join(d.content for d in deltas) == final.content


# --- 6. a lone surrogate in the input ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
def test_a_lone_surrogate_in_a_message_is_refused_before_sending(
    server: HostileServer, mode: str
) -> None:
    messages = [{"role": "user", "content": "fine"}, {"role": "user", "content": "bad \ud83d"}]

    def call() -> Any:
        if mode == "sync":
            return PowerTokens(api_key="k", base_url=server.url).chat(messages)
        return asyncio.run(AsyncPowerTokens(api_key="k", base_url=server.url).chat(messages))

    with pytest.raises(RequestValidationError) as info:
        call()
    assert info.value.field == "messages[1].content"
    assert "lone surrogate" in str(info.value)
    assert server.requests == []


def test_a_lone_surrogate_in_a_tool_or_a_stream_request_is_refused_before_sending(
    server: HostileServer,
) -> None:
    client = PowerTokens(api_key="k", base_url=server.url)
    tool = {
        "type": "function",
        "function": {"name": "f", "description": "\udc00 half", "parameters": {"type": "object"}},
    }
    with pytest.raises(RequestValidationError) as info:
        client.chat(MESSAGES, tools=[tool])
    assert info.value.field == "tools[0].function.description"
    parts = [{"role": "user", "content": [{"type": "text", "text": "x\ud800"}]}]
    with pytest.raises(RequestValidationError) as info:
        client.stream(parts)
    assert info.value.field == "messages[0].content[0].text"
    assert server.requests == []


def test_a_lone_surrogate_through_the_langchain_adapter(server: HostileServer) -> None:
    from langchain_core.messages import HumanMessage

    from langchain_powertokens import ChatPowerTokens

    model = ChatPowerTokens(api_key="k", base_url=server.url, max_retries=0)
    with pytest.raises(PowerTokensError) as info:
        model.invoke([HumanMessage(content="bad \ud83d")])
    assert isinstance(info.value, RequestValidationError)
    assert info.value.field == "messages[0].content"
    assert server.requests == []


def test_a_lone_surrogate_through_the_llama_index_adapter(server: HostileServer) -> None:
    from llama_index.core.base.llms.types import ChatMessage

    from llama_index_powertokens import PowerTokens as LlamaPowerTokens

    llm = LlamaPowerTokens(api_key="k", base_url=server.url, max_retries=0)
    with pytest.raises(PowerTokensError) as info:
        llm.chat([ChatMessage(role="user", content="bad \ud83d")])
    assert isinstance(info.value, RequestValidationError)
    assert info.value.field == "messages[0].content"
    assert server.requests == []


# --- stop sequences that overlap ------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize(
    ("pieces", "expected"),
    [
        (["xxAB", "C rest"], "xx"),  # "ABC" starts before "B": it wins once complete
        (["xxAB", "D rest"], "xxA"),  # "ABC" never completes: cut at "B"
        (["xxA", "B"], "xxA"),  # the answer ends while "ABC" is still possible
    ],
)
def test_a_longer_stop_that_starts_earlier_wins_in_a_stream(
    server: HostileServer, mode: str, pieces: list[str], expected: str
) -> None:
    """The stream's text equals the whole answer cut at the earliest stop, even when a
    shorter stop completes first inside a longer one that began earlier."""
    events = [sse(completion_chunk(p)) for p in pieces[:-1]]
    server.script(body(*events, sse(completion_chunk(pieces[-1], finish="stop")), DONE))
    stops = ["B", "ABC"]

    if mode == "sync":
        with PowerTokens(api_key="k", base_url=server.url, max_retries=0) as client:
            with client.stream(MESSAGES, stop=stops) as s:
                deltas = list(s)
            final = s.completion
    else:

        async def main() -> tuple[list[Any], Any]:
            async with AsyncPowerTokens(api_key="k", base_url=server.url, max_retries=0) as c:
                async with c.stream(MESSAGES, stop=stops) as s:
                    got = [d async for d in s]
                return got, s.completion

        deltas, final = asyncio.run(main())
    assert "".join(d.content for d in deltas) == expected
    assert final.content == expected
    assert final.finish_reason == "stop"


# --- max_event_bytes through the adapters ------------------------------------------------


def test_max_event_bytes_through_the_langchain_adapter(server: HostileServer) -> None:
    from langchain_powertokens import ChatPowerTokens

    event = sse(completion_chunk("z" * 5000, finish="stop"))
    server.script(body(event, DONE))
    model = ChatPowerTokens(api_key="k", base_url=server.url, max_retries=0, max_event_bytes=4096)
    with pytest.raises(PowerTokensError, match=r"max_event_bytes=4096: \d+ bytes"):
        list(model.stream("hi"))
    model.max_event_bytes = None  # back to the default: the same event now passes
    assert "".join(str(c.content) for c in model.stream("hi")) == "z" * 5000
    with pytest.raises(PowerTokensError, match="max_event_bytes"):
        ChatPowerTokens(api_key="k", max_event_bytes=0)


def test_max_event_bytes_through_the_llama_index_adapter(server: HostileServer) -> None:
    from llama_index.core.llms import ChatMessage

    from llama_index_powertokens import PowerTokens as LlamaPowerTokens

    event = sse(completion_chunk("z" * 5000, finish="stop"))
    server.script(body(event, DONE))
    llm = LlamaPowerTokens(api_key="k", base_url=server.url, max_retries=0, max_event_bytes=4096)
    messages = [ChatMessage(role="user", content="hi")]

    async def consume() -> str:
        text = ""
        async for response in await llm.astream_chat(messages):
            text = response.message.content or ""
        return text

    with pytest.raises(PowerTokensError, match=r"max_event_bytes=4096: \d+ bytes"):
        asyncio.run(consume())
    llm.max_event_bytes = None
    assert asyncio.run(consume()) == "z" * 5000
    with pytest.raises(PowerTokensError, match="max_event_bytes"):
        LlamaPowerTokens(api_key="k", max_event_bytes=0)
