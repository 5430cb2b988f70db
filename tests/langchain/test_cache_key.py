"""The LLM cache answers a call only with an answer to the same request.

Over loopback, sync and async, invoke and streaming invoke (``model.stream`` never reads
the cache; ``streaming=True`` makes ``invoke`` stream through it): a second model whose
settings change the request must reach the service, not get the first answer. Without
a network: every field of the model either changes the key or is one of the documented
neutral fields (so a field added later cannot be forgotten), and the key never holds the
API key.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from langchain_core.caches import InMemoryCache
from langchain_core.globals import get_llm_cache, set_llm_cache
from langchain_core.language_models import BaseChatModel
from langchain_core.load import dumpd
from langchain_core.messages import AIMessage, HumanMessage
from langchain_core.rate_limiters import InMemoryRateLimiter
from langchain_core.tools import tool

from langchain_powertokens import ChatPowerTokens
from langchain_powertokens._cache import NEUTRAL_FIELDS
from powertokens import Timeout
from powertokens.emulator import Emulator

from .conftest import KEY, Factory
from .helpers import Run, add_up

PROMPT = "echo:Alpha beta. STOP here and gamma delta."


@tool
def get_weather(city: str) -> str:
    """Get the current weather in a city."""
    return f"It is sunny in {city}."


@pytest.fixture
def llm_cache() -> Iterator[InMemoryCache]:
    before = get_llm_cache()
    cache = InMemoryCache()
    set_llm_cache(cache)
    yield cache
    set_llm_cache(before)


@pytest.fixture(params=["invoke", "streaming"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def build(make_model: Factory, mode: str, **fields: Any) -> ChatPowerTokens:
    return make_model(streaming=mode == "streaming", **fields)


# --- over loopback ---------------------------------------------------------------------


async def test_a_stop_field_is_not_answered_from_the_cache(
    run: Run, mode: str, make_model: Factory, emu: Emulator, llm_cache: InMemoryCache
) -> None:
    whole = await run.invoke(build(make_model, mode), PROMPT)
    assert "STOP" in whole.text
    cut_model = build(make_model, mode, stop=["STOP"])
    cut = await run.invoke(cut_model, PROMPT)
    assert emu.request_count == 2  # the second request was sent
    assert "STOP" not in cut.text
    assert cut.text.startswith("Alpha beta.")
    again = await run.invoke(cut_model, PROMPT)  # the same request: from the cache
    assert emu.request_count == 2
    assert again.text == cut.text


@pytest.mark.parametrize(
    ("fields", "check"),
    [
        ({"stop": "STOP"}, lambda body: body["stop"] == ["STOP"]),
        ({"extra_body": {"user_id": "u-1"}}, lambda body: body["user_id"] == "u-1"),
        ({"model_kwargs": {"request_id": "r-1"}}, lambda body: body["request_id"] == "r-1"),
        ({"thinking": False}, lambda body: body["thinking"] == {"type": "disabled"}),
        ({"max_tokens": 3}, lambda body: body["max_tokens"] == 3),
        ({"model": "glm-4.7"}, lambda body: body["model"] == "glm-4.7"),
        (
            {"send_reasoning": False},
            lambda body: all("reasoning_content" not in m for m in body["messages"]),
        ),
    ],
    ids=["stop", "extra_body", "model_kwargs", "thinking", "max_tokens", "model", "reasoning"],
)
async def test_every_request_setting_misses_the_cache(
    run: Run,
    mode: str,
    make_model: Factory,
    emu: Emulator,
    llm_cache: InMemoryCache,
    fields: dict[str, Any],
    check: Any,
) -> None:
    history = [
        HumanMessage("Hello"),
        AIMessage("Hi.", additional_kwargs={"reasoning_content": "Greet back."}),
        HumanMessage(PROMPT),
    ]
    await run.invoke(build(make_model, mode), history)
    await run.invoke(build(make_model, mode, **fields), history)
    assert emu.request_count == 2
    assert check(emu.requests[-1]["json"])


@pytest.mark.filterwarnings("ignore:PowerTokens accepts only tool_choice")
async def test_tool_settings_and_bound_tools_miss_the_cache(
    run: Run, make_model: Factory, emu: Emulator, llm_cache: InMemoryCache
) -> None:
    question = "What is the weather in Paris?"
    nudged = make_model().bind_tools([get_weather], tool_choice="any")
    plain = make_model(nudge_tool_choice=False).bind_tools([get_weather], tool_choice="any")
    await run.invoke(nudged, question)
    await run.invoke(plain, question)
    assert emu.request_count == 2
    assert emu.requests[0]["json"]["messages"][0]["role"] == "system"  # the nudge
    assert emu.requests[1]["json"]["messages"][0]["role"] == "user"
    await run.invoke(make_model(), question)  # no tools bound: another request
    assert emu.request_count == 3


async def test_another_service_misses_the_cache(
    run: Run, emu: Emulator, llm_cache: InMemoryCache
) -> None:
    with Emulator(api_keys={KEY}) as other:
        first = ChatPowerTokens(api_key=KEY, base_url=emu.url)
        second = ChatPowerTokens(api_key=KEY, base_url=other.url)
        await run.invoke(first, PROMPT)
        await run.invoke(second, PROMPT)
        assert emu.request_count == 1
        assert other.request_count == 1
        await first.aclose()
        await second.aclose()


async def test_stream_after_a_cached_invoke_asks_the_service(
    run: Run, make_model: Factory, emu: Emulator, llm_cache: InMemoryCache
) -> None:
    model = make_model()
    await run.invoke(model, PROMPT)
    chunks = await run.stream(make_model(stop=["STOP"]), PROMPT)
    assert "STOP" not in add_up(chunks).text
    assert emu.request_count == 2


# --- the key, without a network ----------------------------------------------------------

# For every field that changes the request or the result: a value other than the
# default. A field missing here and from NEUTRAL_FIELDS fails the inventory test.
CHANGED: dict[str, Any] = {
    "model": "glm-4.7",
    "base_url": "https://other.test/v1",
    "temperature": 0.3,
    "top_p": 0.5,
    "max_tokens": 50,
    "stop": ["STOP"],
    "thinking": False,
    "streaming": True,
    "fallback_models": ["glm-4.7"],  # another model may answer
    "disable_streaming": True,
    "output_version": "v1",
    "default_headers": {"X-Route": "b"},
    "model_kwargs": {"user_id": "u"},
    "extra_body": {"user_id": "u"},
    "send_reasoning": False,
    "preserve_thinking": True,  # sends thinking.clear_thinking: false
    "nudge_tool_choice": False,
}

# For the neutral fields: a value other than the default, which must leave the key alone.
NEUTRAL_CHANGED: dict[str, Any] = {
    "api_key": "pt-another-key",
    "timeout": Timeout(read=5),
    "total_timeout": 30.0,
    "n": 1,
    "max_retries": 7,
    "max_concurrent_requests": 3,
    "max_event_bytes": 4096,
    "http_client": httpx.Client,  # built (and closed) in the test
    "http_async_client": httpx.AsyncClient,
    "cache": False,
    "callbacks": [],
    "verbose": True,
    "tags": ["a"],
    "metadata": {"a": 1},
    "rate_limiter": InMemoryRateLimiter(),
    "custom_get_token_ids": lambda text: [1],
    "name": "named",
    "profile": {"max_input_tokens": 1},
}


def key(model: BaseChatModel, stop: list[str] | None = None, **kwargs: Any) -> str:
    return model._get_llm_string(stop=stop, **kwargs)


def test_every_field_is_in_the_key_or_documented_neutral() -> None:
    fields = set(ChatPowerTokens.model_fields)
    assert set(CHANGED) | NEUTRAL_FIELDS == fields, "classify the new field"
    assert not set(CHANGED) & NEUTRAL_FIELDS
    assert set(NEUTRAL_CHANGED) == set(NEUTRAL_FIELDS)


@pytest.mark.parametrize("field", sorted(CHANGED))
def test_each_result_field_changes_the_key(field: str) -> None:
    base = ChatPowerTokens(api_key="k", base_url="https://gw.test/v1")
    changed = ChatPowerTokens(
        **{"api_key": "k", "base_url": "https://gw.test/v1", field: CHANGED[field]}
    )
    assert getattr(changed, field) != getattr(base, field)
    assert key(changed) != key(base)


@pytest.mark.parametrize("field", sorted(NEUTRAL_CHANGED))
def test_each_neutral_field_leaves_the_key_alone(field: str) -> None:
    base = ChatPowerTokens(api_key="k", base_url="https://gw.test/v1")
    value = NEUTRAL_CHANGED[field]
    if value in (httpx.Client, httpx.AsyncClient):
        value = value()
    changed = base.model_copy(update={field: value})
    assert key(changed) == key(base)
    if isinstance(value, httpx.Client):
        value.close()


def test_the_call_changes_the_key() -> None:
    model = ChatPowerTokens(api_key="k", base_url="https://gw.test/v1")
    assert key(model) != key(model, stop=["x"])
    assert key(model) != key(model, temperature=0.1)
    assert key(model, tool_choice="auto") != key(model, tool_choice="none")


def test_the_key_never_holds_secrets() -> None:
    model = ChatPowerTokens(
        api_key=KEY,
        base_url="https://gw.test/v1",
        default_headers={"X-Gateway-Token": "hdr-secret-123"},
    )
    shown = [
        key(model),
        key(model, extra_headers={"X-Other": "call-secret-456"}),
        str(ChatPowerTokens(api_key=KEY)._get_llm_string()),
    ]
    for text in shown:
        assert KEY not in text
        assert "hdr-secret-123" not in text
        assert "call-secret-456" not in text
    assert KEY not in str(dumpd(model))  # langchain-core's own serialized form
    other_headers = model.model_copy(update={"default_headers": {"X-Gateway-Token": "b"}})
    assert key(other_headers) != key(model)  # headers still count, by digest
