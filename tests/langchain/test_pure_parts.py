"""Errors, tools, content blocks and the structured-output parser: pure, no sockets."""

from __future__ import annotations

import pickle
import warnings
from collections.abc import Iterator
from typing import Annotated, Any

import pytest
from langchain_core import exceptions as lc
from langchain_core.exceptions import ModelRefusalError, OutputParserException
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration
from langchain_core.tools import tool
from pydantic import BaseModel, Field
from pytest_socket import disable_socket, enable_socket
from typing_extensions import TypedDict

import langchain_powertokens as lp
from langchain_powertokens import ChatPowerTokens, _tools
from langchain_powertokens._blocks import translate_content_chunk
from langchain_powertokens._errors import to_langchain_error
from langchain_powertokens._structured import ToolOrJsonTextParser
from langchain_powertokens._tools import format_tool
from powertokens import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    ChatCompletion,
    PowerTokensError,
    RateLimitError,
    RequestValidationError,
    StreamInterruptedError,
)
from powertokens._error_map import make_status_error


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


# --- errors: both trees --------------------------------------------------------------

STATUS_CASES = [
    (400, "1214", lp.PowerTokensBadRequestError, lc.ModelInvalidRequestError),
    (400, "1261", lp.PowerTokensContextOverflowError, lc.ContextOverflowError),
    (400, "1301", lp.PowerTokensContentFilterError, lc.ModelInvalidRequestError),
    (401, "1001", lp.PowerTokensAuthenticationError, lc.ModelAuthenticationError),
    (403, "1110", lp.PowerTokensPermissionDeniedError, lc.ModelPermissionDeniedError),
    (503, "model_not_found", lp.PowerTokensNotFoundError, lc.ModelNotFoundError),
    (429, "1302", lp.PowerTokensRateLimitError, lc.ModelRateLimitError),
    (429, "1308", lp.PowerTokensQuotaExceededError, lc.ModelRateLimitError),
    (429, "1311", lp.PowerTokensPermissionDeniedError, lc.ModelPermissionDeniedError),
    (429, "1312", lp.PowerTokensModelOverloadedError, lc.ModelRateLimitError),
    (429, "1313", lp.PowerTokensFairUseThrottleError, lc.ModelRateLimitError),
    (409, "1231", lp.PowerTokensConflictError, lc.ModelAPIError),
    (500, "1234", lp.PowerTokensInternalServerError, lc.ModelAPIError),
    (418, None, lp.PowerTokensAPIStatusError, lc.ModelAPIError),
]


@pytest.mark.parametrize(("status", "code", "dual", "lc_class"), STATUS_CASES)
def test_status_errors_belong_to_both_trees(
    status: int, code: str | None, dual: type[Exception], lc_class: type[Exception]
) -> None:
    body = {"error": {"code": code, "message": "it failed (request id: rid-7)"}}
    core = make_status_error(status, body, {"retry-after-ms": "5"})
    converted = to_langchain_error(core)
    assert type(converted) is dual
    assert isinstance(converted, type(core))
    assert isinstance(converted, lc_class)
    assert isinstance(converted, lc.ModelError)
    for attribute in ("status_code", "code", "message", "request_id", "body", "headers"):
        assert getattr(converted, attribute) == getattr(core, attribute)
    assert str(converted) == str(core)
    assert converted.is_retryable == core.is_retryable  # the core knows the business code
    assert converted.request_id == "rid-7"


def test_overloaded_model_keeps_its_suggestion() -> None:
    body = {"error": {"code": "1312", "message": "busy; switch to another model such as glm-4.7"}}
    converted = to_langchain_error(make_status_error(429, body))
    assert converted.is_retryable
    assert converted.suggested_model == "glm-4.7"  # type: ignore[attr-defined]


def test_quota_is_not_retryable_but_rate_limit_is() -> None:
    quota = to_langchain_error(make_status_error(429, {"error": {"code": "1308"}}))
    busy = to_langchain_error(make_status_error(429, {"error": {"code": "1302"}}))
    assert not quota.is_retryable
    assert busy.is_retryable
    assert isinstance(busy, RateLimitError)
    assert busy.retry_after is None  # type: ignore[attr-defined]


def test_other_errors_belong_to_both_trees() -> None:
    partial = ChatCompletion.model_validate({"choices": [{"message": {"content": "Hal"}}]})
    cases: list[tuple[PowerTokensError, type[Exception], type[Exception]]] = [
        (RequestValidationError("temperature", "must be in [0, 1]", 1.5),
         lp.PowerTokensRequestValidationError, lc.ModelInvalidRequestError),
        (APITimeoutError("timed out"), lp.PowerTokensTimeoutError, lc.ModelTimeoutError),
        (APIConnectionError("refused"), lp.PowerTokensConnectionError, lc.ModelConnectionError),
        (StreamInterruptedError("cut", partial=partial),
         lp.PowerTokensStreamInterruptedError, lc.ModelAPIError),
    ]  # fmt: skip
    for core, dual, lc_class in cases:
        converted = to_langchain_error(core)
        assert type(converted) is dual
        assert isinstance(converted, type(core))
        assert isinstance(converted, lc_class)
        assert vars(converted) == vars(core)
    validation = to_langchain_error(cases[0][0])
    assert isinstance(validation, ValueError)
    assert validation.field == "temperature"  # type: ignore[attr-defined]
    interrupted = to_langchain_error(cases[3][0])
    assert interrupted.partial_text == "Hal"  # type: ignore[attr-defined]


def test_conversion_is_idempotent_and_errors_pickle() -> None:
    core = make_status_error(401, {"error": {"code": "1001", "message": "bad key"}})
    once = to_langchain_error(core)
    assert to_langchain_error(once) is once
    assert isinstance(once, APIStatusError)


# --- tools ---------------------------------------------------------------------------


@tool
def get_weather(location: str) -> str:
    """Get the weather in a location."""
    return "sunny"


def add(a: int, b: int) -> int:
    """Add two integers."""
    return a + b


class Person(BaseModel):
    """A person."""

    name: str = Field(description="Full name")


class PersonDict(TypedDict):
    """A person."""

    name: Annotated[str, ..., "Full name"]


@pytest.mark.parametrize(
    "given",
    [
        get_weather,
        add,
        Person,
        PersonDict,
        Person.model_json_schema(),
        {"type": "function", "function": {"name": "f", "parameters": {}}, "strict": True},
        {"name": "color", "description": "Pick", "input_schema": {"type": "object"}},
    ],
)
def test_every_tool_form_becomes_a_plain_function_tool(given: Any) -> None:
    formatted = format_tool(given)
    assert set(formatted) == {"type", "function"}
    assert formatted["type"] == "function"
    assert set(formatted["function"]) <= {"name", "description", "parameters"}
    assert isinstance(formatted["function"]["parameters"], dict)


def test_bind_tools_refuses_a_bad_name_before_any_request() -> None:
    model = ChatPowerTokens(api_key="k")
    with pytest.raises(lp.PowerTokensRequestValidationError) as info:
        model.bind_tools([{"type": "function", "function": {"name": "has spaces"}}])
    assert info.value.field == "tools[0].function.name"


def test_forced_tool_choice_is_warned_once(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_tools, "_warned", False)
    model = ChatPowerTokens(api_key="k")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for choice in ("any", "required", True, "get_weather", "any"):
            bound = model.bind_tools([get_weather], tool_choice=choice)
            assert bound.kwargs["tool_choice"] == choice  # type: ignore[attr-defined]
        model.bind_tools([get_weather], tool_choice="auto")
        model.bind_tools([get_weather], tool_choice="none")
    assert len(caught) == 1
    assert "tool_choice='any' is sent as 'auto'" in str(caught[0].message)
    assert caught[0].filename == __file__  # shown at the caller's bind_tools line
    with pytest.raises(ValueError, match="tool_choice"):
        model.bind_tools([get_weather], tool_choice=3.5)  # type: ignore[arg-type]


# --- content blocks ---------------------------------------------------------------------


def test_stream_chunk_blocks_have_distinct_indices_per_kind() -> None:
    chunk = AIMessageChunk(
        content="Hi",
        additional_kwargs={"reasoning_content": "Think"},
        tool_call_chunks=[{"name": "f", "args": "{}", "id": "c", "index": 0}],
        response_metadata={"model_provider": "powertokens", "finish_reason": "sensitive"},
    )
    blocks = translate_content_chunk(chunk)
    assert [(b["type"], b.get("index")) for b in blocks] == [
        ("reasoning", "lc_rs_0"),
        ("text", "lc_txt_0"),
        ("tool_call_chunk", "lc_tc_0"),
        ("refusal", "lc_ref_0"),
    ]


# --- structured output parser -----------------------------------------------------------


def parse(parser: ToolOrJsonTextParser, message: AIMessage) -> Any:
    return parser.parse_result([ChatGeneration(message=message)])


PERSON = ToolOrJsonTextParser(tool_name="Person", pydantic_schema=Person)


@pytest.mark.parametrize(
    "message",
    [
        AIMessage("", tool_calls=[{"name": "Person", "args": {"name": "Ada"}, "id": "1"}]),
        AIMessage('Sure: {"name": "Ada"}'),
        AIMessage('```json\n{"name": "Ada"}\n```'),
        AIMessage('{"name": "Person", "arguments": {"name": "Ada"}}'),
        AIMessage('{"Person": {"name": "Ada"}}'),
        AIMessage("", invalid_tool_calls=[{"name": "Person", "args": '{"name": "Ada"} trailing'}]),
    ],
)
def test_structured_answer_from_a_tool_call_or_from_json_in_text(message: AIMessage) -> None:
    assert parse(PERSON, message) == Person(name="Ada")


def test_text_without_json_is_a_clear_parser_error() -> None:
    with pytest.raises(OutputParserException, match="instead of calling the Person tool") as info:
        parse(PERSON, AIMessage("I would rather not."))
    assert info.value.llm_output == "I would rather not."


def test_json_that_does_not_fit_the_schema_is_a_parser_error() -> None:
    with pytest.raises(OutputParserException, match="does not match Person"):
        parse(PERSON, AIMessage('{"age": 3}'))


def test_dict_schemas_return_dicts() -> None:
    parser = ToolOrJsonTextParser(tool_name="Person")
    assert parse(parser, AIMessage('{"name": "Ada"}')) == {"name": "Ada"}
    with pytest.raises(OutputParserException):
        parse(parser, AIMessage("[1, 2]"))


def test_a_refusal_raises_model_refusal_error() -> None:
    refused = AIMessage(
        "", response_metadata={"model_provider": "powertokens", "finish_reason": "sensitive"}
    )
    with pytest.raises(ModelRefusalError, match="content filter"):
        parse(PERSON, refused)


def test_model_pickles_without_clients() -> None:
    model = ChatPowerTokens(api_key="sk-secret-123", base_url="https://gw.test/v1")
    client = model._sync_client()
    clone = pickle.loads(pickle.dumps(model))
    assert clone._client is None
    assert clone.api_key is not None
    assert clone.api_key.get_secret_value() == "sk-secret-123"
    assert model._client is not None
    assert model._client[1] is client
    model.close()
