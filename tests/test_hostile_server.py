"""The hostile test server itself answers what it is scripted to (so tests built on it
prove what they claim)."""

from __future__ import annotations

import asyncio

import pytest

from powertokens import APIConnectionError, AsyncPowerTokens, PowerTokens

from .hostile import (
    CLOSE,
    KEEP,
    HostileServer,
    completion,
    completion_chunk,
    json_response,
    sse_stream,
)

MESSAGES = [{"role": "user", "content": "hi"}]


def test_scripted_answers_in_order_then_the_last_repeats() -> None:
    with HostileServer() as server:
        server.script(json_response(200, completion("one")), json_response(200, completion("two")))
        client = PowerTokens(api_key="k", base_url=server.url, max_retries=0)
        assert client.chat(MESSAGES).content == "one"
        assert client.chat(MESSAGES).content == "two"
        assert client.chat(MESSAGES).content == "two"
        assert [r.path for r in server.requests] == ["/v1/chat/completions"] * 3
        assert server.requests[0].json()["messages"] == MESSAGES


def test_streams_and_closes() -> None:
    with HostileServer() as server:
        server.script(
            sse_stream(completion_chunk("a"), completion_chunk("b", finish="stop")),
            [CLOSE],
        )
        client = PowerTokens(api_key="k", base_url=server.url, max_retries=0)
        with client.stream(MESSAGES) as stream:
            assert "".join(d.content or "" for d in stream) == "ab"
        with pytest.raises(APIConnectionError):
            client.chat(MESSAGES)


def test_keep_alive_reuses_the_connection() -> None:
    async def main() -> None:
        with HostileServer() as server:
            server.script([json_response(200, completion("x")), KEEP])
            async with AsyncPowerTokens(api_key="k", base_url=server.url) as client:
                for _ in range(3):
                    assert (await client.chat(MESSAGES)).content == "x"
            assert server.connections == 1

    asyncio.run(main())
