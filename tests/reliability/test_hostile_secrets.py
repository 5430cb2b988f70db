"""Secrets in settings: a key that cannot go in a header, a base_url with a password,
a query or a stray newline. Each is trimmed and works, or is refused when the client (or
model) is built, before anything is sent, with an error that names the field and shows
neither the key nor the password; nothing is retried.

The server is :class:`tests.hostile.HostileServer`, which records every request it gets:
"nothing was sent" is checked there, not assumed.
"""

from __future__ import annotations

import asyncio
import json
import logging
import pickle
import traceback
from collections.abc import Iterator
from typing import Any

import pytest
from pydantic import SecretStr, ValidationError

from langchain_powertokens import ChatPowerTokens
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import AsyncPowerTokens, PowerTokens, RequestValidationError, validate_params
from tests.hostile import HostileServer, completion, completion_chunk, json_response, sse_stream

from .stacks import FACES, KEY, Face

PASSWORD = "pw-SENTINEL-url-password-93c1"
HEADER = "hdr-SENTINEL-header-value-5d20"
SECRETS = (KEY, PASSWORD, HEADER)

# Keys a header cannot carry, each holding the sentinel whole (a leak of it shows).
BAD_KEYS = {
    "newline inside": f"{KEY}\n{KEY}",
    "crlf inside": f"{KEY}\r\nX-Injected: 1",
    "nul": f"{KEY}\x00",
    "del": f"\x7f{KEY}",
    "non-ascii": f"{KEY}é",
    "emoji": f"{KEY}\U0001f511",
    "no-break space inside": f"{KEY}\u00a0{KEY}",
}
# Keys as a file or a copy-paste gives them: trimmed, they work.
PADDED_KEYS = {
    "trailing newline": f"{KEY}\n",
    "windows line end": f"{KEY}\r\n",
    "spaces and tabs": f"  \t{KEY} \t",
}


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:
        yield hostile


def answer(server: HostileServer, face: Face) -> None:
    if face.stream:
        server.script(sse_stream(completion_chunk("ok"), completion_chunk(finish="stop")))
    else:
        server.script(json_response(200, completion("ok")))


def texts_of(error: BaseException) -> list[str]:
    """Every text form of an error and its causes: str, repr, args, attributes, the
    traceback, and (for ours) the pickle. Not the frames' locals: a constructor's own
    arguments are the caller's value, in every frame that receives it."""
    texts = ["".join(traceback.format_exception(error))]
    seen: BaseException | None = error
    while seen is not None:
        texts += [str(seen), repr(seen), repr(seen.args), repr(getattr(seen, "__dict__", {}))]
        if isinstance(seen, ValidationError):
            texts.append(json.dumps(seen.errors(), default=repr))
        seen = seen.__cause__ or seen.__context__
    if isinstance(error, RequestValidationError):
        texts.append(pickle.dumps(error).decode("latin-1"))
    return texts


def assert_hidden(*texts: Any) -> None:
    for text in texts:
        for secret in SECRETS:
            assert secret not in str(text), f"a secret leaked into: {str(text)[:300]!r}"


def assert_refused(error: BaseException, field: str, logs: pytest.LogCaptureFixture) -> None:
    assert_hidden(*texts_of(error), logs.text)
    for record in logs.records:
        assert_hidden(record.getMessage(), repr(record.args))
    if isinstance(error, ValidationError):  # LangChain: pydantic wraps the core's error
        [detail] = error.errors()
        error = detail["ctx"]["error"]
    assert isinstance(error, RequestValidationError)
    assert error.field == field
    assert_hidden(repr(error.value))


def build(stack: str, **settings: Any) -> Any:
    if stack == "core-sync":
        return PowerTokens(**settings)
    if stack == "core-async":
        return AsyncPowerTokens(**settings)
    if stack == "langchain":
        return ChatPowerTokens(**settings)
    return LlamaPowerTokens(**settings)


BUILDERS = ("core-sync", "core-async", "langchain", "llama_index")


# -- the key ------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", BUILDERS)
@pytest.mark.parametrize("bad", BAD_KEYS.values(), ids=BAD_KEYS.keys())
def test_a_key_a_header_cannot_carry_is_refused_when_built_and_never_shown(
    stack: str, bad: str, server: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)  # powertokens, httpx, httpcore: everything
    with pytest.raises((RequestValidationError, ValidationError)) as info:
        build(stack, api_key=bad, base_url=server.url, max_retries=2)
    assert_refused(info.value, "api_key", caplog)
    message = str(info.value)
    assert "api_key" in message
    assert "U+" in message  # which character, and where
    assert server.requests == []


@pytest.mark.parametrize("stack", BUILDERS)
def test_a_bad_key_from_the_environment_is_refused_and_named(
    stack: str,
    server: HostileServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("POWERTOKENS_API_KEY", BAD_KEYS["crlf inside"])
    with pytest.raises((RequestValidationError, ValidationError)) as info:
        build(stack, base_url=server.url)
    assert_refused(info.value, "api_key", caplog)
    assert "POWERTOKENS_API_KEY" in str(info.value)
    assert server.requests == []


def test_a_key_that_is_not_a_str_is_refused(server: HostileServer) -> None:
    with pytest.raises(RequestValidationError) as info:
        PowerTokens(api_key=KEY.encode(), base_url=server.url)  # type: ignore[arg-type]
    assert info.value.field == "api_key"
    assert "bytes" in str(info.value)
    assert_hidden(*texts_of(info.value))


@pytest.mark.parametrize("face", FACES, ids=lambda f: f.id)
@pytest.mark.parametrize("padded", PADDED_KEYS.values(), ids=PADDED_KEYS.keys())
async def test_a_key_with_surrounding_whitespace_is_trimmed_and_works(
    face: Face, padded: str, server: HostileServer
) -> None:
    answer(server, face)
    target = face.build(server.url, api_key=padded, max_retries=0)
    out = await face.run(target)
    await face.close(target)
    assert out.error is None, out.error
    assert out.text == "ok"
    assert [r.headers["authorization"] for r in server.requests] == [f"Bearer {KEY}"]


async def test_a_padded_key_from_the_environment_is_trimmed(
    server: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOKENS_API_KEY", f"{KEY}\r\n")
    server.script(json_response(200, completion("ok")))
    with PowerTokens(base_url=server.url, max_retries=0) as client:
        assert client.chat([{"role": "user", "content": "hi"}]).content == "ok"
    async with AsyncPowerTokens(base_url=server.url, max_retries=0) as aclient:
        assert (await aclient.chat([{"role": "user", "content": "hi"}])).content == "ok"
    assert [r.headers["authorization"] for r in server.requests] == [f"Bearer {KEY}"] * 2


def test_with_options_checks_a_new_key(server: HostileServer) -> None:
    with PowerTokens(api_key=KEY, base_url=server.url) as client:
        with pytest.raises(RequestValidationError) as info:
            client.with_options(api_key=BAD_KEYS["nul"])
        assert_hidden(*texts_of(info.value))
        server.script(json_response(200, completion("ok")))
        trimmed = client.with_options(api_key=f"{KEY}\n", max_retries=0)
        trimmed.chat([{"role": "user", "content": "hi"}])
    assert [r.headers["authorization"] for r in server.requests] == [f"Bearer {KEY}"]


# -- a key assigned to an adapter after construction ----------------------------------------


def test_langchain_checks_an_assigned_key_and_keeps_it_secret(
    server: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    model = ChatPowerTokens(api_key="placeholder", base_url=server.url, max_retries=2)
    with pytest.raises(RequestValidationError) as info:
        model.api_key = BAD_KEYS["newline inside"]  # type: ignore[assignment]
    assert_refused(info.value, "api_key", caplog)
    model.api_key = f"{KEY}\n"  # type: ignore[assignment]  # a str, as users write it
    assert isinstance(model.api_key, SecretStr)
    assert_hidden(repr(model), str(model), json.dumps(model.to_json(), default=repr))
    server.script(json_response(200, completion("ok")))
    assert model.invoke("hi").text == "ok"
    assert [r.headers["authorization"] for r in server.requests] == [f"Bearer {KEY}"]


async def test_langchain_refuses_a_copied_bad_key_at_call_time_without_sending(
    server: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    """``model_copy(update=...)`` skips every validator: the core's check still holds."""
    caplog.set_level(logging.DEBUG)
    model = ChatPowerTokens(api_key="placeholder", base_url=server.url, max_retries=2)
    copy = model.model_copy(update={"api_key": SecretStr(BAD_KEYS["crlf inside"])})
    for call in (lambda: copy.invoke("hi"), lambda: list(copy.stream("hi"))):
        with pytest.raises(RequestValidationError) as info:
            call()
        assert_refused(info.value, "api_key", caplog)
    with pytest.raises(RequestValidationError):
        await copy.ainvoke("hi")
    assert server.requests == []


def test_llama_index_checks_an_assigned_key_and_keeps_it_secret(
    server: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    llm = LlamaPowerTokens(api_key="placeholder", base_url=server.url, max_retries=2)
    with pytest.raises(RequestValidationError) as info:
        llm.api_key = BAD_KEYS["nul"]  # type: ignore[assignment]
    assert_refused(info.value, "api_key", caplog)
    llm.api_key = f"{KEY}\r\n"  # type: ignore[assignment]  # a str, as users write it
    assert isinstance(llm.api_key, SecretStr)
    assert_hidden(repr(llm), llm.model_dump_json(), json.dumps(llm.to_dict(), default=repr))
    server.script(json_response(200, completion("ok")))
    assert llm.complete("hi").text == "ok"
    assert [r.headers["authorization"] for r in server.requests] == [f"Bearer {KEY}"]


def test_langchain_construction_errors_do_not_echo_the_key_or_a_password() -> None:
    """pydantic shows the constructor's input in a model validator's error: the key and
    a URL password are masked there, whatever field failed."""
    with pytest.raises(RequestValidationError) as info:
        ChatPowerTokens(api_key=KEY, temperature=5)
    assert_hidden(*texts_of(info.value))
    with pytest.raises(RequestValidationError) as info:
        ChatPowerTokens(api_key=KEY, base_url=f"http://user:{PASSWORD}@127.0.0.1:9/v1")
    assert_hidden(*texts_of(info.value))
    assert "***@127.0.0.1" in str(info.value)


# -- base_url ------------------------------------------------------------------------------


def bad_urls(url: str) -> dict[str, str]:
    """Variants of the server's URL that must be refused."""
    after = url.removeprefix("http://")
    return {
        "password": f"http://user:{PASSWORD}@{after}",
        "password only": f"http://:{PASSWORD}@{after}",
        "user only": f"http://{PASSWORD}@{after}",
        "password with a slash": f"http://user:{PASSWORD}/x@{after}",
        "password with a hash": f"http://user:{PASSWORD}#x@{after}",
        "query": f"{url}?{PASSWORD}=1",
        "empty query": f"{url}?",
        "fragment": f"{url}#{PASSWORD}",
        "newline inside": url.replace("/v1", "/v\n1"),
        "nul inside": url.replace("/v1", "/v\x001"),
        "port out of range": url.replace(f":{after.split(':')[1].split('/')[0]}", ":99999"),
        "port not a number": url.replace(f":{after.split(':')[1].split('/')[0]}", ":http"),
        "not http": f"ftp://{after}",
    }


URL_CASES = list(bad_urls("http://127.0.0.1:1/v1"))


@pytest.mark.parametrize("stack", BUILDERS)
@pytest.mark.parametrize("case", URL_CASES)
def test_a_base_url_that_would_misroute_or_leak_is_refused_when_built(
    stack: str, case: str, server: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    url = bad_urls(server.url)[case]
    with pytest.raises((RequestValidationError, ValidationError)) as info:
        build(stack, api_key=KEY, base_url=url)
    assert_refused(info.value, "base_url", caplog)
    assert server.requests == []
    with pytest.raises(RequestValidationError) as direct:
        validate_params(base_url=url)
    assert_hidden(*texts_of(direct.value))


@pytest.mark.parametrize("stack", BUILDERS)
def test_a_bad_base_url_from_the_environment_is_refused_and_named(
    stack: str,
    server: HostileServer,
    caplog: pytest.LogCaptureFixture,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("POWERTOKENS_BASE_URL", bad_urls(server.url)["password"])
    with pytest.raises((RequestValidationError, ValidationError)) as info:
        build(stack, api_key=KEY)
    assert_refused(info.value, "base_url", caplog)
    assert "POWERTOKENS_BASE_URL" in str(info.value)
    assert "***@127.0.0.1" in str(info.value)  # the host still shows
    assert server.requests == []


def test_the_errors_say_what_is_wrong(server: HostileServer) -> None:
    urls = bad_urls(server.url)
    expected = {
        "password": "credentials",
        "query": "?query or #fragment",
        "fragment": "?query or #fragment",
        "newline inside": "non-printable",
        "port out of range": "out of range",
        "not http": "http(s)",
    }
    for case, words in expected.items():
        with pytest.raises(RequestValidationError) as info:
            PowerTokens(api_key=KEY, base_url=urls[case])
        assert words in str(info.value), (case, str(info.value))


@pytest.mark.parametrize("face", FACES, ids=lambda f: f.id)
async def test_a_base_url_with_surrounding_whitespace_is_trimmed_and_works(
    face: Face, server: HostileServer
) -> None:
    answer(server, face)
    target = face.build(f"  {server.url}/\r\n", max_retries=0)
    out = await face.run(target)
    await face.close(target)
    assert out.error is None, out.error
    assert [r.path for r in server.requests] == ["/v1/chat/completions"]


def test_a_padded_base_url_from_the_environment_is_trimmed(
    server: HostileServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("POWERTOKENS_BASE_URL", f"{server.url}\n")
    server.script(json_response(200, completion("ok")))
    with PowerTokens(api_key=KEY, max_retries=0) as client:
        assert client.base_url == server.url
        client.chat([{"role": "user", "content": "hi"}])
    assert [r.path for r in server.requests] == ["/v1/chat/completions"]


def test_adapters_check_an_assigned_base_url(server: HostileServer) -> None:
    url = bad_urls(server.url)["password"]
    model = ChatPowerTokens(api_key=KEY, base_url=server.url)
    with pytest.raises(RequestValidationError) as info:
        model.base_url = url
    assert_hidden(*texts_of(info.value), repr(model))
    llm = LlamaPowerTokens(api_key=KEY, base_url=server.url)
    with pytest.raises(RequestValidationError) as info:
        llm.base_url = url
    assert_hidden(*texts_of(info.value), repr(llm))
    llm.base_url = f"{server.url}/\n"
    assert llm.base_url == server.url
    with PowerTokens(api_key=KEY, base_url=server.url) as client:
        with pytest.raises(RequestValidationError) as info:
            client.with_options(base_url=url)
        assert_hidden(*texts_of(info.value), repr(client))
    assert server.requests == []


# -- headers: the same rule for default_headers ---------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"X-Token": f"{HEADER}\n"},
        {"X-Token": f" {HEADER}"},
        {"X-Token": f"{HEADER}\r\nX-Injected: 1"},
        {"X-Token": f"{HEADER}é"},
        {"X-Token": 42},
        {"X Token": "value"},
    ],
    ids=["newline", "leading space", "crlf", "non-ascii", "not a str", "bad name"],
)
@pytest.mark.parametrize("stack", BUILDERS)
def test_default_headers_a_request_cannot_carry_are_refused_when_built(
    stack: str, headers: dict[str, Any], server: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with pytest.raises(RequestValidationError) as info:
        build(stack, api_key=KEY, base_url=server.url, default_headers=headers)
    assert info.value.field.startswith("default_headers")
    assert_hidden(*texts_of(info.value), caplog.text)
    assert server.requests == []


def test_default_headers_assigned_to_a_llama_index_llm_are_checked(
    server: HostileServer, caplog: pytest.LogCaptureFixture
) -> None:
    llm = LlamaPowerTokens(api_key=KEY, base_url=server.url)
    with pytest.raises(RequestValidationError) as info:
        llm.default_headers = {"X-Token": f"{HEADER}\n"}
    assert info.value.field.startswith("default_headers")
    assert_hidden(*texts_of(info.value), caplog.text)
    with pytest.raises(RequestValidationError, match="must be a mapping") as info:
        llm.default_headers = HEADER  # type: ignore[assignment]
    assert_hidden(*texts_of(info.value))
    assert server.requests == []


@pytest.mark.parametrize("headers", [{"X-Token": HEADER + "\n"}, {"X-Token": HEADER + "é"}])
@pytest.mark.parametrize("mode", ["sync", "async"])
@pytest.mark.parametrize("stream", [False, True], ids=["call", "stream"])
def test_per_call_headers_a_request_cannot_carry_are_refused_before_sending(
    headers: dict[str, str],
    mode: str,
    stream: bool,
    server: HostileServer,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    messages = [{"role": "user", "content": "hi"}]

    def call() -> None:
        if mode == "sync":
            client = PowerTokens(api_key=KEY, base_url=server.url, max_retries=2)
            if stream:
                list(client.stream(messages, extra_headers=headers))
            else:
                client.chat(messages, extra_headers=headers)
            return

        async def acall() -> None:
            aclient = AsyncPowerTokens(api_key=KEY, base_url=server.url, max_retries=2)
            if stream:
                async for _ in aclient.stream(messages, extra_headers=headers):
                    pass
            else:
                await aclient.chat(messages, extra_headers=headers)

        asyncio.run(acall())

    with pytest.raises(RequestValidationError) as info:
        call()
    assert info.value.field.startswith("extra_headers")
    assert_hidden(*texts_of(info.value), caplog.text)
    assert server.requests == []
