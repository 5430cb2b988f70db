"""Validation before any request, service faults through the adapter, and secrets."""

from __future__ import annotations

import json
import pickle
from typing import Any

import pytest
from langchain_core import exceptions as lc
from langchain_core.load import dumpd, dumps
from langchain_core.messages import HumanMessage
from pydantic import BaseModel

import langchain_powertokens as lp
import powertokens
from langchain_powertokens import ChatPowerTokens
from powertokens.emulator import Emulator

from .conftest import KEY, Factory
from .helpers import Run

# --- validation: raised before anything is sent ----------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"temperature": 1.5}, "temperature"),
        ({"top_p": 0.0}, "top_p"),
        ({"max_tokens": 0}, "max_tokens"),
        ({"max_tokens": 200_000}, "max_tokens"),
        ({"thinking": "sometimes"}, "thinking.type"),
        ({"tools": [{"type": "function", "function": {"name": "has spaces"}}]},
         "tools[0].function.name"),
    ],
)  # fmt: skip
async def test_bad_values_raise_before_any_request(
    run: Run, model: ChatPowerTokens, emu: Emulator, kwargs: dict[str, Any], field: str
) -> None:
    with pytest.raises(lp.PowerTokensRequestValidationError) as info:
        await run.invoke(model, "Hello", **kwargs)
    error = info.value
    assert error.field == field
    assert isinstance(error, ValueError)
    assert isinstance(error, powertokens.RequestValidationError)
    assert isinstance(error, lc.ModelInvalidRequestError)
    assert emu.request_count == 0


async def test_bad_values_raise_before_any_request_in_streams(
    run: Run, model: ChatPowerTokens, emu: Emulator
) -> None:
    chunks, error = await run.stream_until_error(model, "Hello", temperature=1.5)
    assert chunks == []
    assert isinstance(error, lp.PowerTokensRequestValidationError)
    audio = HumanMessage([{"type": "audio", "base64": "AAAA", "mime_type": "audio/wav"}])
    with pytest.raises(lp.PowerTokensRequestValidationError, match="text and images only"):
        await run.invoke(model, [audio])
    assert emu.request_count == 0


@pytest.mark.parametrize(
    "fields",
    [{"temperature": 1.5}, {"top_p": 2}, {"max_tokens": -1}, {"base_url": "ftp://x"}],
)
def test_bad_fields_fail_at_construction(fields: dict[str, Any]) -> None:
    with pytest.raises(lp.PowerTokensRequestValidationError) as info:
        ChatPowerTokens(api_key="k", **fields)
    assert info.value.field == next(iter(fields))
    assert isinstance(info.value, ValueError)  # as pydantic's ValidationError was


async def test_a_missing_key_fails_at_call_time_clearly(
    run: Run, emu: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("POWERTOKENS_API_KEY", raising=False)
    model = ChatPowerTokens(base_url=emu.url)  # construction works without a key
    assert model.api_key is None
    with pytest.raises(lp.PowerTokensAuthenticationError, match="POWERTOKENS_API_KEY"):
        await run.invoke(model, "Hello")
    assert emu.request_count == 0


def test_unknown_constructor_arguments_go_to_model_kwargs() -> None:
    with pytest.warns(UserWarning, match="transferred to model_kwargs"):
        model = ChatPowerTokens(api_key="k", do_sample=False)
    assert model.model_kwargs == {"do_sample": False}


# --- faults through the adapter ------------------------------------------------------


async def test_rate_limit_is_retried_then_succeeds(
    run: Run, model: ChatPowerTokens, emu: Emulator
) -> None:
    emu.push_fault("429:1302:retry-after-ms=1")
    message = await run.invoke(model, "Hello")
    assert message.text
    assert emu.request_count == 2


async def test_rate_limit_is_retried_then_succeeds_in_streams(
    run: Run, model: ChatPowerTokens, emu: Emulator
) -> None:
    emu.push_fault("429:1302:retry-after-ms=1")
    chunks = await run.stream(model, "Hello")
    assert "".join(c.text for c in chunks)
    assert emu.request_count == 2


async def test_exhausted_retries_raise_a_rate_limit_error_of_both_trees(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    emu.push_fault("429:1302:retry-after-ms=1", times=2)
    with pytest.raises(lp.PowerTokensRateLimitError) as info:
        await run.invoke(make_model(max_retries=1), "Hello")
    assert isinstance(info.value, lc.ModelRateLimitError)
    assert isinstance(info.value, powertokens.RateLimitError)
    assert info.value.code == "1302"
    assert info.value.request_id
    assert emu.request_count == 2


async def test_auth_error_is_not_retried(run: Run, model: ChatPowerTokens, emu: Emulator) -> None:
    emu.push_fault("401:1001")
    with pytest.raises(lc.ModelAuthenticationError) as info:
        await run.invoke(model, "Hello")
    error = info.value
    assert isinstance(error, lp.PowerTokensAuthenticationError)
    assert isinstance(error, powertokens.AuthenticationError)
    assert error.status_code == 401
    assert emu.request_count == 1
    assert KEY not in str(error)
    assert KEY not in repr(error.body)


async def test_a_wrong_key_is_an_authentication_error(run: Run, make_model: Factory) -> None:
    with pytest.raises(lp.PowerTokensAuthenticationError):
        await run.invoke(make_model(api_key="pt-wrong"), "Hello")


@pytest.mark.parametrize(
    ("fault", "dual", "lc_class"),
    [
        ("quota:1308", lp.PowerTokensQuotaExceededError, lc.ModelRateLimitError),
        ("400:1261", lp.PowerTokensContextOverflowError, lc.ContextOverflowError),
        ("400:1301", lp.PowerTokensContentFilterError, lc.ModelInvalidRequestError),
        ("503:model_not_found", lp.PowerTokensNotFoundError, lc.ModelNotFoundError),
    ],
)
async def test_errors_that_are_not_retried(
    run: Run,
    model: ChatPowerTokens,
    emu: Emulator,
    fault: str,
    dual: type[Exception],
    lc_class: type[Exception],
) -> None:
    emu.push_fault(fault)
    with pytest.raises(dual) as info:
        await run.invoke(model, "Hello")
    assert isinstance(info.value, lc_class)
    assert emu.request_count == 1


async def test_server_errors_retried_then_raised(
    run: Run, make_model: Factory, emu: Emulator
) -> None:
    emu.push_fault("500:1234:retry-after-ms=1", times=2)
    with pytest.raises(lp.PowerTokensInternalServerError) as info:
        await run.invoke(make_model(max_retries=1), "Hello")
    assert isinstance(info.value, lc.ModelAPIError)
    assert info.value.is_retryable


@pytest.mark.parametrize("fault", ["cut:14", "malformed:14", "done-no-finish:14"])
async def test_a_broken_stream_raises_after_the_first_tokens(
    run: Run, model: ChatPowerTokens, emu: Emulator, fault: str
) -> None:
    emu.push_fault(fault)
    chunks, error = await run.stream_until_error(model, "Hello")
    assert chunks  # output was delivered...
    assert "".join(c.text for c in chunks)  # ...answer text included...
    assert isinstance(error, lp.PowerTokensStreamInterruptedError)  # ...then it raised
    assert isinstance(error, lc.ModelAPIError)
    assert error.partial is not None
    assert error.partial_text == "".join(c.text for c in chunks)
    assert emu.request_count == 1  # never re-sent and spliced


async def test_an_in_stream_error_after_tokens_keeps_its_type(
    run: Run, model: ChatPowerTokens, emu: Emulator
) -> None:
    emu.push_fault("stream-error:1305:after=5")
    chunks, error = await run.stream_until_error(model, "Hello")
    assert chunks
    assert isinstance(error, lp.PowerTokensRateLimitError)
    assert error.partial is not None


class Answer(BaseModel):
    text: str


async def test_content_filter_finish_is_a_visible_refusal(
    run: Run, model: ChatPowerTokens, emu: Emulator
) -> None:
    emu.push_fault("finish:sensitive")
    message = await run.invoke(model, "Hello")
    assert message.response_metadata["finish_reason"] == "sensitive"
    assert "content filter" in message.response_metadata["refusal"]
    assert message.content_blocks[-1]["type"] == "refusal"
    emu.push_fault("finish:sensitive")
    full = None
    for chunk in await run.stream(model, "Hello"):
        full = chunk if full is None else full + chunk
    assert full is not None
    assert full.response_metadata["finish_reason"] == "sensitive"
    assert full.content_blocks[-1]["type"] == "refusal"
    emu.push_fault("finish:sensitive")
    with pytest.raises(lc.ModelRefusalError, match="content filter"):
        await run.invoke(model.with_structured_output(Answer), "Answer this")


# --- the key never shows ----------------------------------------------------------------


async def test_the_key_never_shows(run: Run, model: ChatPowerTokens, emu: Emulator) -> None:
    await run.invoke(model, "Hello")
    shown = [
        repr(model),
        str(model),
        dumps(model),
        json.dumps(dumpd(model)),
        str(model.model_dump()),
        model.model_dump_json(),
        repr(model._client),
        repr(model._async_client),
        str(emu.requests[-1]["headers"]),
    ]
    for text in shown:
        assert KEY not in text
    assert model.api_key is not None
    assert model.api_key.get_secret_value() == KEY
    assert model.lc_secrets == {"api_key": "POWERTOKENS_API_KEY"}
    clone = pickle.loads(pickle.dumps(model))  # picklable: the clients are not pickled
    assert clone._client is None
    assert clone._async_client is None
    assert (await run.invoke(clone, "Hello")).text
    await clone.aclose()
