"""A setting of the client or model given to one call is refused, before anything is sent.

``chat(..., max_retries=0)`` or ``invoke(..., api_key=...)`` used to travel as request
body fields, which the gateway drops: the setting was silently ignored (and a key sent in
the body). Now each stack raises ``RequestValidationError`` naming the field and the way
to set it, without showing a key or header values; fields the API does not know that
are not settings still go to the body, as before. A client setting put among the extra
body fields (``extra_body``, ``model_kwargs``, LlamaIndex's ``additional_kwargs``) is
refused the same way.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from llama_index.core.llms import ChatMessage

from langchain_powertokens import ChatPowerTokens, PowerTokensRequestValidationError
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import PowerTokens, RequestValidationError
from powertokens.emulator import Emulator
from tests.hostile import HostileServer

from .stacks import FACES, KEY, Face

OTHER_KEY = "pt-per-call-secret-4d1f"
"""A key given per call: it must appear nowhere."""

# Settings every stack has; the stacks' own are below.
COMMON: list[tuple[str, Any]] = [
    ("max_retries", 0),
    ("api_key", OTHER_KEY),
    ("base_url", "http://127.0.0.1:9/v1"),
    ("default_headers", {"Authorization": f"Bearer {OTHER_KEY}"}),
    ("max_concurrent_requests", 1),
    ("max_event_bytes", 1024),
]
OWN: dict[str, list[tuple[str, Any]]] = {
    "core": [("http_client", None)],
    "langchain": [
        ("openai_api_key", OTHER_KEY),  # ChatOpenAI's names of settings, too
        ("api_base", "http://127.0.0.1:9/v1"),
        ("streaming", True),
        ("send_reasoning", False),
        ("nudge_tool_choice", False),
        ("model_kwargs", {"a": 1}),
        ("http_client", None),
    ],
    "llama_index": [
        ("api_base", "http://127.0.0.1:9/v1"),
        ("send_reasoning", False),
        ("send_reasoning_content", False),
        ("context_window", 5),
        ("additional_kwargs", {"a": 1}),
    ],
}


def _cells() -> list[Any]:
    return [
        pytest.param(face, name, value, id=f"{face.id}-{name}")
        for face in FACES
        for name, value in COMMON + OWN[face.stack]
    ]


@pytest.fixture
def server() -> Iterator[HostileServer]:
    with HostileServer() as hostile:  # scripted with nothing: any request would show
        yield hostile


@pytest.mark.parametrize(("face", "name", "value"), _cells())
async def test_a_setting_given_to_one_call_is_refused_before_sending(
    server: HostileServer, face: Face, name: str, value: Any
) -> None:
    target = face.build(server.url)
    outcome = await face.run(target, "hi", **{name: value})
    error = outcome.error
    assert isinstance(error, RequestValidationError), repr(error)
    if face.stack == "langchain":
        assert isinstance(error, PowerTokensRequestValidationError)
    assert error.field == name
    assert "not a request field" in str(error)
    assert OTHER_KEY not in str(error)
    assert OTHER_KEY not in repr(error.value)
    assert server.requests == []
    await face.close(target)


def test_the_error_says_how_to_set_it(server: HostileServer) -> None:
    client = PowerTokens(api_key=KEY, base_url=server.url)
    with pytest.raises(RequestValidationError) as caught:
        client.chat([{"role": "user", "content": "hi"}], max_retries=0)
    assert "client.with_options(max_retries=...)" in str(caught.value)
    assert "(got 0)" in str(caught.value)
    model = ChatPowerTokens(api_key=KEY, base_url=server.url)
    with pytest.raises(PowerTokensRequestValidationError, match="set it on the model"):
        model.invoke("hi", max_retries=0)
    llm = LlamaPowerTokens(api_key=KEY, base_url=server.url)
    with pytest.raises(RequestValidationError, match="set it on the LLM"):
        llm.complete("hi", context_window=5)
    with pytest.raises(RequestValidationError) as caught:
        client.chat([{"role": "user", "content": "hi"}], api_key=OTHER_KEY)
    assert "not shown" in str(caught.value)
    assert server.requests == []


async def test_unknown_fields_that_are_not_settings_still_reach_the_body(
    pt_emulator: Emulator,
) -> None:
    client = PowerTokens(api_key=KEY, base_url=pt_emulator.url, http_client=httpx.Client())
    client.chat([{"role": "user", "content": "hi"}], user_id="u-1")
    assert pt_emulator.requests[-1].json["user_id"] == "u-1"
    ChatPowerTokens(api_key=KEY, base_url=pt_emulator.url).invoke("hi", user_id="u-2")
    assert pt_emulator.requests[-1].json["user_id"] == "u-2"
    LlamaPowerTokens(api_key=KEY, base_url=pt_emulator.url).chat(
        [ChatMessage(role="user", content="hi")], user_id="u-3"
    )
    assert pt_emulator.requests[-1].json["user_id"] == "u-3"


@pytest.mark.parametrize("name", ["max_retries", "api_key", "base_url"])
@pytest.mark.parametrize("face", FACES, ids=lambda f: f.id)
async def test_a_setting_in_the_extra_body_is_refused_before_sending(
    server: HostileServer, face: Face, name: str
) -> None:
    target = face.build(server.url)
    outcome = await face.run(target, "hi", extra_body={name: OTHER_KEY, "user_id": "u"})
    error = outcome.error
    assert isinstance(error, RequestValidationError), repr(error)
    assert error.field == f"extra_body[{name!r}]"
    if name == "api_key":
        assert OTHER_KEY not in str(error)
    assert server.requests == []
    await face.close(target)


def test_a_setting_among_the_model_s_extra_fields_is_refused_at_the_call(
    server: HostileServer,
) -> None:
    chat_model = ChatPowerTokens(api_key=KEY, base_url=server.url, extra_body={"max_retries": 0})
    with pytest.raises(PowerTokensRequestValidationError, match=r"extra_body\['max_retries'\]"):
        chat_model.invoke("hi")
    llm = LlamaPowerTokens(
        api_key=KEY, base_url=server.url, additional_kwargs={"api_key": OTHER_KEY}
    )
    with pytest.raises(RequestValidationError) as caught:
        llm.complete("hi")
    assert caught.value.field == "extra_body['api_key']"
    assert OTHER_KEY not in str(caught.value)
    assert server.requests == []


@pytest.mark.parametrize("face", FACES, ids=lambda f: f.id)
async def test_a_stream_flag_in_the_extra_body_is_refused(
    server: HostileServer, face: Face
) -> None:
    """``stream: true`` in the body of a ``chat()`` made the service stream an answer the
    call could not read (billed, then an ``InvalidResponseError``); ``false`` in a stream
    the reverse. The method chooses."""
    target = face.build(server.url)
    outcome = await face.run(target, "hi", extra_body={"stream": not face.stream})
    assert isinstance(outcome.error, RequestValidationError), repr(outcome.error)
    assert outcome.error.field == "extra_body['stream']"
    assert server.requests == []
    await face.close(target)


def test_llama_index_stream_keyword_is_refused_not_sent(server: HostileServer) -> None:
    llm = LlamaPowerTokens(api_key=KEY, base_url=server.url)
    with pytest.raises(RequestValidationError, match="stream"):
        llm.chat([ChatMessage(role="user", content="hi")], stream=True)
    assert server.requests == []


def test_a_field_given_twice_is_refused_not_silently_overridden(server: HostileServer) -> None:
    client = PowerTokens(api_key=KEY, base_url=server.url)
    hi = [{"role": "user", "content": "hi"}]
    with pytest.raises(RequestValidationError, match=r"also given as model") as caught:
        client.chat(hi, model="glm-5", extra_body={"model": "glm-4.7"})
    assert caught.value.field == "extra_body['model']"
    with pytest.raises(RequestValidationError, match="own messages"):
        client.chat(hi, extra_body={"messages": []})
    chat_model = ChatPowerTokens(
        api_key=KEY, base_url=server.url, temperature=0.2, extra_body={"temperature": 0.9}
    )
    with pytest.raises(PowerTokensRequestValidationError, match="also given as temperature"):
        chat_model.invoke("hi")
    llm = LlamaPowerTokens(api_key=KEY, base_url=server.url, max_tokens=100)
    with pytest.raises(RequestValidationError, match="also given as max_tokens"):
        llm.complete("hi", extra_body={"max_tokens": 50})
    assert server.requests == []


def test_extra_fields_that_set_nothing_else_are_sent(pt_emulator: Emulator) -> None:
    client = PowerTokens(api_key=KEY, base_url=pt_emulator.url)
    client.chat([{"role": "user", "content": "hi"}], extra_body={"temperature": 0.3})
    assert pt_emulator.requests[-1].json["temperature"] == 0.3  # not also given: allowed


@pytest.mark.parametrize(
    ("alias", "target", "values"),
    [
        ("max_completion_tokens", "max_tokens", (50, 100)),
        ("model_name", "model", ("glm-4.7", "glm-5")),
        ("request_timeout", "timeout", (6.0, 5.0)),
    ],
)
@pytest.mark.parametrize("stack", ["langchain", "llama_index"])
def test_both_names_of_one_option_per_call_differently_is_an_error(
    server: HostileServer, stack: str, alias: str, target: str, values: tuple[Any, Any]
) -> None:
    """Before, one of the two was dropped without a word (which one: the adapter's and
    the keyword order's choice)."""
    kwargs = {alias: values[0], target: values[1]}
    if stack == "langchain":
        call: Any = ChatPowerTokens(api_key=KEY, base_url=server.url).invoke
    else:
        call = LlamaPowerTokens(api_key=KEY, base_url=server.url).complete
    with pytest.raises(RequestValidationError) as caught:
        call("hi", **kwargs)
    assert caught.value.field == alias
    assert server.requests == []


async def test_llama_index_none_and_an_alias_per_call_is_an_error(server: HostileServer) -> None:
    """None per call unsets a LlamaIndex field; with the alias set, the outcome hung on the
    keywords' order."""
    llm = LlamaPowerTokens(api_key=KEY, base_url=server.url)
    with pytest.raises(RequestValidationError, match="max_completion_tokens"):
        llm.complete("hi", max_tokens=None, max_completion_tokens=50)
    assert server.requests == []


async def test_an_alias_alone_per_call_is_the_option(pt_emulator: Emulator) -> None:
    model = ChatPowerTokens(api_key=KEY, base_url=pt_emulator.url)
    await model.ainvoke("hi", model_name="glm-4.7", max_completion_tokens=300)
    sent = pt_emulator.requests[-1].json
    assert (sent["model"], sent["max_tokens"]) == ("glm-4.7", 300)
    assert "model_name" not in sent
    llm = LlamaPowerTokens(api_key=KEY, base_url=pt_emulator.url)
    await llm.acomplete("hi", model_name="glm-4.7", max_completion_tokens=300)
    sent = pt_emulator.requests[-1].json
    assert (sent["model"], sent["max_tokens"]) == ("glm-4.7", 300)


def test_model_and_model_name_at_construction_differently_is_an_error() -> None:
    with pytest.raises(PowerTokensRequestValidationError, match="model_name"):
        ChatPowerTokens(api_key=KEY, model="glm-5", model_name="glm-4.7")
    assert ChatPowerTokens(api_key=KEY, model_name="glm-4.7").model == "glm-4.7"
