"""A key about to travel over plain ``http://`` beyond this machine warns, once per host;
loopback (127.0.0.0/8, ``localhost``, ``[::1]``) never does.

Nothing leaves the machine: the core warns when a client is built; the adapters build
their core client on the first call, which goes to an ``httpx.MockTransport`` here.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage

import powertokens._config as config
from langchain_powertokens import ChatPowerTokens
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import AsyncPowerTokens, PowerTokens

from .stacks import KEY

REMOTE = "http://10.20.30.40:8080/v1"


@pytest.fixture(autouse=True)
def fresh() -> Iterator[list[warnings.WarningMessage]]:
    """Forget the hosts already warned about; record every warning."""
    saved = set(config._warned_plain_http)
    config._warned_plain_http.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    config._warned_plain_http.clear()
    config._warned_plain_http.update(saved)


def plain_http(caught: list[warnings.WarningMessage]) -> list[str]:
    return [str(w.message) for w in caught if "plain http" in str(w.message)]


COMPLETION = {
    "id": "chatcmpl-1",
    "object": "chat.completion",
    "created": 1,
    "model": "glm-5-turbo",
    "choices": [
        {"index": 0, "message": {"role": "assistant", "content": "ok"}, "finish_reason": "stop"}
    ],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}


def _answer(sent: list[httpx.Request]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request)
        return httpx.Response(200, json=COMPLETION)

    return handler


def test_the_core_warns_once_per_host_at_construction(
    fresh: list[warnings.WarningMessage],
) -> None:
    clients = [
        PowerTokens(api_key=KEY, base_url=REMOTE),
        PowerTokens(api_key=KEY, base_url=REMOTE + "/"),
        AsyncPowerTokens(api_key=KEY, base_url=REMOTE),
    ]
    [message] = plain_http(fresh)
    assert "10.20.30.40" in message
    assert "unencrypted" in message
    assert KEY not in message
    PowerTokens(api_key=KEY, base_url="http://gateway.internal/v1")  # another host
    assert len(plain_http(fresh)) == 2
    for client in clients[:2]:
        client.close()


def test_the_environment_is_checked_too(
    fresh: list[warnings.WarningMessage], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOKENS_API_KEY", KEY)
    monkeypatch.setenv("POWERTOKENS_BASE_URL", REMOTE)
    PowerTokens().close()
    assert len(plain_http(fresh)) == 1


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8787/v1",
        "http://127.8.9.10/v1",
        "http://localhost:8787/v1",
        "http://LOCALHOST/v1",
        "http://emulator.localhost/v1",
        "http://[::1]:8787/v1",
        "http://[::ffff:127.0.0.1]:8787/v1",
        "https://10.20.30.40/v1",
        "https://api.powertokens.ai/v1",
    ],
)
def test_no_warning_for_loopback_or_https(fresh: list[warnings.WarningMessage], url: str) -> None:
    PowerTokens(api_key=KEY, base_url=url).close()
    assert plain_http(fresh) == []


def test_no_warning_without_a_key(
    fresh: list[warnings.WarningMessage], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOKENS_API_KEY", raising=False)
    PowerTokens(base_url=REMOTE).close()  # nothing would travel
    assert plain_http(fresh) == []


async def test_langchain_warns_once_before_the_key_travels(
    fresh: list[warnings.WarningMessage],
) -> None:
    sent: list[httpx.Request] = []
    model = ChatPowerTokens(
        api_key=KEY,
        base_url=REMOTE,
        http_client=httpx.Client(transport=httpx.MockTransport(_answer(sent))),
        http_async_client=httpx.AsyncClient(transport=httpx.MockTransport(_answer(sent))),
    )
    assert model.invoke("hi").text == "ok"
    assert len(plain_http(fresh)) == 1
    model.invoke("again")
    assert (await model.ainvoke("and async")).text == "ok"
    assert len(plain_http(fresh)) == 1  # once per host, whatever the client
    assert [r.headers["authorization"] for r in sent] == [f"Bearer {KEY}"] * 3
    assert [str(r.url) for r in sent] == [f"{REMOTE}/chat/completions"] * 3


async def test_llama_index_warns_once_before_the_key_travels(
    fresh: list[warnings.WarningMessage],
) -> None:
    sent: list[httpx.Request] = []
    llm = LlamaPowerTokens(
        api_key=KEY,
        base_url=REMOTE,
        http_client=httpx.Client(transport=httpx.MockTransport(_answer(sent))),
        async_http_client=httpx.AsyncClient(transport=httpx.MockTransport(_answer(sent))),
    )
    messages = [ChatMessage(role="user", content="hi")]
    assert llm.chat(messages).message.content == "ok"
    assert len(plain_http(fresh)) == 1
    await llm.achat(messages)
    llm.complete("hi")
    assert len(plain_http(fresh)) == 1
    assert len(sent) == 3


@pytest.mark.parametrize("url", ["http://127.0.0.1:8787/v1", "http://localhost/v1"])
def test_adapters_never_warn_for_loopback(fresh: list[warnings.WarningMessage], url: str) -> None:
    sent: list[httpx.Request] = []
    transport = httpx.MockTransport(_answer(sent))
    ChatPowerTokens(
        api_key=KEY, base_url=url, http_client=httpx.Client(transport=transport)
    ).invoke("hi")
    llm = LlamaPowerTokens(api_key=KEY, base_url=url, http_client=httpx.Client(transport=transport))
    llm.complete("hi")
    assert len(sent) == 2
    assert plain_http(fresh) == []
