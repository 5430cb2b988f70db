"""A key about to travel over plain ``http://`` beyond this machine warns, once per host;
loopback (127.0.0.0/8, ``localhost``, ``[::1]``) never does.

Nothing leaves the machine: the core warns when a client is built; the adapters build
their core client on the first call, which goes to an ``httpx.MockTransport`` here.
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from llama_index.core.base.llms.types import ChatMessage

import powertokens._plain_http as plain_http_module
from langchain_powertokens import ChatPowerTokens
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import AsyncPowerTokens, PowerTokens
from tests.hostile import HostileServer, completion, json_response

from .stacks import KEY

REMOTE = "http://10.20.30.40:8080/v1"


@pytest.fixture(autouse=True)
def fresh() -> Iterator[list[warnings.WarningMessage]]:
    """Forget the hosts already warned about; record every warning."""
    saved = set(plain_http_module._warned_plain_http)
    plain_http_module._warned_plain_http.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield caught
    plain_http_module._warned_plain_http.clear()
    plain_http_module._warned_plain_http.update(saved)


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


# -- a proxy from the environment ------------------------------------------------------------
#
# A client's own pools are httpx clients, which send plain-http requests through the proxy
# named in HTTP_PROXY / ALL_PROXY (unless NO_PROXY lists the host): the proxy would read
# the key, loopback base_url or not. https is tunnelled (CONNECT) and shows it nothing.

PROXY_PASSWORD = "proxy-SENTINEL-password-41aa"
LOOPBACK = "http://127.0.0.1:8787/v1"


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """No proxy settings but the test's own."""
    for name in list(os.environ):
        if name.lower().endswith("_proxy"):
            monkeypatch.delenv(name)
    return monkeypatch


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "http_proxy", "ALL_PROXY", "all_proxy"])
def test_a_proxy_in_the_environment_warns_even_for_loopback(
    fresh: list[warnings.WarningMessage], env: pytest.MonkeyPatch, variable: str
) -> None:
    env.setenv(variable, f"http://user:{PROXY_PASSWORD}@proxy.internal:3128")
    PowerTokens(api_key=KEY, base_url=LOOPBACK).close()
    AsyncPowerTokens(api_key=KEY, base_url=LOOPBACK)  # the same host: warned once
    [message] = plain_http(fresh)
    assert variable in message
    assert "proxy" in message
    assert "127.0.0.1" in message
    assert PROXY_PASSWORD not in message
    assert "proxy.internal" not in message  # the variable is named, its value never shown
    assert KEY not in message


@pytest.mark.parametrize("variable", ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY"])
def test_no_proxy_warning_for_https(
    fresh: list[warnings.WarningMessage], env: pytest.MonkeyPatch, variable: str
) -> None:
    env.setenv(variable, "http://proxy.internal:3128")
    PowerTokens(api_key=KEY, base_url="https://api.powertokens.ai/v1").close()
    PowerTokens(api_key=KEY, base_url="https://127.0.0.1:8787/v1").close()
    assert plain_http(fresh) == []


def test_no_proxy_warning_with_an_injected_http_client(
    fresh: list[warnings.WarningMessage], env: pytest.MonkeyPatch
) -> None:
    """An injected client is configured by its owner (``trust_env``, ``proxy``, mounts)."""
    env.setenv("HTTP_PROXY", "http://proxy.internal:3128")
    with httpx.Client(trust_env=False) as http:
        PowerTokens(api_key=KEY, base_url=LOOPBACK, http_client=http)
    AsyncPowerTokens(api_key=KEY, base_url=LOOPBACK, http_client=httpx.AsyncClient())
    assert plain_http(fresh) == []


ROUTES = {
    "HTTP_PROXY": ({"HTTP_PROXY": "{proxy}"}, True),
    "http_proxy": ({"http_proxy": "{proxy}"}, True),
    "ALL_PROXY": ({"ALL_PROXY": "{proxy}"}, True),
    "HTTPS_PROXY only": ({"HTTPS_PROXY": "{proxy}"}, False),
    "NO_PROXY host": ({"HTTP_PROXY": "{proxy}", "NO_PROXY": "127.0.0.1"}, False),
    "NO_PROXY list": ({"HTTP_PROXY": "{proxy}", "NO_PROXY": "example.com, 127.0.0.1"}, False),
    "NO_PROXY host:port": ({"HTTP_PROXY": "{proxy}", "no_proxy": "127.0.0.1:{port}"}, False),
    "NO_PROXY other port": ({"HTTP_PROXY": "{proxy}", "NO_PROXY": "127.0.0.1:1"}, True),
    "NO_PROXY *": ({"ALL_PROXY": "{proxy}", "NO_PROXY": "*"}, False),
    "NO_PROXY localhost": ({"HTTP_PROXY": "{proxy}", "NO_PROXY": "localhost"}, True),
    "NO_PROXY other host": ({"HTTP_PROXY": "{proxy}", "NO_PROXY": "127.0.0.2,.local"}, True),
}


@pytest.mark.parametrize("route", ROUTES.values(), ids=ROUTES.keys())
async def test_the_warning_matches_where_httpx_sends_the_key(
    fresh: list[warnings.WarningMessage],
    env: pytest.MonkeyPatch,
    route: tuple[dict[str, str], bool],
) -> None:
    """Over loopback: a second server plays the proxy. It gets the request (and reads the
    key) exactly when the client warned."""
    settings, proxied = route
    with HostileServer() as direct, HostileServer() as proxy:
        for server in (direct, proxy):
            server.script(json_response(200, completion("ok")))
        proxy_url = f"http://127.0.0.1:{proxy.port}"
        for name, value in settings.items():
            env.setenv(name, value.format(proxy=proxy_url, port=direct.port))
        messages = [{"role": "user", "content": "hi"}]
        with PowerTokens(api_key=KEY, base_url=direct.url, max_retries=0) as client:
            assert client.chat(messages).content == "ok"
        async with AsyncPowerTokens(api_key=KEY, base_url=direct.url, max_retries=0) as aclient:
            assert (await aclient.chat(messages)).content == "ok"
        seen_by_proxy = [r.headers.get("authorization") for r in proxy.requests]
        assert seen_by_proxy == ([f"Bearer {KEY}"] * 2 if proxied else [])
        assert len(direct.requests) == (0 if proxied else 2)
    warned = plain_http(fresh)
    assert len(warned) == (1 if proxied else 0), warned
    if proxied:
        [variable] = settings.keys() - {"NO_PROXY", "no_proxy"}
        assert variable in warned[0]


async def test_adapters_warn_for_an_environment_proxy(
    fresh: list[warnings.WarningMessage], env: pytest.MonkeyPatch
) -> None:
    with HostileServer() as proxy:
        proxy.script(json_response(200, completion("ok")))
        env.setenv("HTTP_PROXY", f"http://127.0.0.1:{proxy.port}")
        model = ChatPowerTokens(api_key=KEY, base_url=LOOPBACK, max_retries=0)
        assert model.invoke("hi").text == "ok"
        assert (await model.ainvoke("hi")).text == "ok"
        model.close()
        llm = LlamaPowerTokens(api_key=KEY, base_url="http://localhost:8787/v1", max_retries=0)
        assert llm.complete("hi").text == "ok"
        llm.close()
        assert len(proxy.requests) == 3
    warned = plain_http(fresh)
    assert len(warned) == 2  # one per host
    assert all("HTTP_PROXY" in message for message in warned)
