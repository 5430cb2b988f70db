"""Every documented limit is refused before sending, naming field, limit and value."""

from __future__ import annotations

from typing import Any

import pytest

from powertokens import (
    ChatCompletionRequest,
    RequestValidationError,
    SystemMessage,
    Tool,
    UserMessage,
    build_body,
    normalize_thinking,
    validate_params,
    validate_request,
)

USER = [{"role": "user", "content": "hi"}]


def tool(name: str) -> dict[str, Any]:
    return {"type": "function", "function": {"name": name, "parameters": {"type": "object"}}}


# params, field named in the error, a fragment of the limit text
INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({"temperature": 1.5}, "temperature", "[0, 1]"),
    ({"temperature": -0.1}, "temperature", "[0, 1]"),
    ({"temperature": True}, "temperature", "number"),
    ({"temperature": "0.5"}, "temperature", "number"),
    ({"temperature": float("nan")}, "temperature", "number"),
    ({"top_p": 0.0}, "top_p", "[0.01, 1]"),
    ({"top_p": 1.01}, "top_p", "[0.01, 1]"),
    ({"max_tokens": 0}, "max_tokens", ">= 1"),
    ({"max_tokens": 1.5}, "max_tokens", "integer"),
    ({"max_tokens": True}, "max_tokens", "integer"),
    ({"max_tokens": 128_001, "model": "glm-5"}, "max_tokens", "<= 128000 for glm-5"),
    ({"max_tokens": 96_001, "model": "glm-4.5-air"}, "max_tokens", "<= 96000"),
    ({"stop": [""]}, "stop", "must not be empty"),
    ({"stop": ["a", ""]}, "stop", "must not be empty"),
    ({"stop": [1]}, "stop", "list of strings"),
    ({"stop": 7}, "stop", "list of strings"),
    ({"tools": [tool(f"t{i}") for i in range(129)]}, "tools", "at most 128"),
    ({"tools": [tool("has space")]}, "tools[0].function.name", "^[A-Za-z0-9_-]{1,64}$"),
    ({"tools": [tool("x" * 65)]}, "tools[0].function.name", "{1,64}"),
    ({"tools": [tool("ok"), tool("bad.dot")]}, "tools[1].function.name", "A-Za-z"),
    ({"tools": [{"type": "retrieval", "function": {"name": "x"}}]}, "tools[0].type", "function"),
    ({"tools": [{"type": "function"}]}, "tools[0].function", "object"),
    ({"tool_choice": "required"}, "tool_choice", "no tools were given"),
    ({"tool_choice": "get_weather"}, "tool_choice", "no tools were given"),
    ({"tool_choice": 3.5}, "tool_choice", "'auto', 'none', 'any'"),
    ({"thinking": {"type": "on"}}, "thinking.type", '"enabled" or "disabled"'),
    (
        {"thinking": {"type": "enabled", "clear_thinking": "no"}},
        "thinking.clear_thinking",
        "true or false",
    ),
    ({"thinking": 3}, "thinking", "True, False"),
    ({"model": ""}, "model", "non-empty"),
]


@pytest.mark.parametrize(("params", "field", "limit"), INVALID)
def test_invalid_params_are_refused(params: dict[str, Any], field: str, limit: str) -> None:
    with pytest.raises(RequestValidationError) as err:
        build_body(USER, params, stream=False)
    assert err.value.field == field
    assert limit in err.value.limit
    assert field in str(err.value)
    assert "got " in str(err.value)


INVALID_MESSAGES: list[tuple[Any, str, str]] = [
    ([], "messages", "non-empty"),
    ([{"role": "system", "content": "s"}], "messages", "neither system nor assistant"),
    ([{"role": "assistant", "content": "a"}], "messages", "neither system nor assistant"),
    (
        [{"role": "system", "content": "s"}, {"role": "assistant", "content": "a"}],
        "messages",
        "neither",
    ),
    ([{"role": "robot", "content": "x"}], "messages[0].role", "system, user, assistant or tool"),
    ([{"role": "user"}], "messages[0].content", "needs content"),
    ([{"role": "user", "content": 5}], "messages[0].content", "string or a list"),
    ([{"role": "user", "content": [{"type": "audio"}]}], "messages[0].content[0]", "parts"),
    (
        [{"role": "user", "content": [{"type": "image_url", "image_url": {"url": "ftp://x"}}]}],
        "messages[0].content[0].image_url.url",
        "http(s) URL or a data: URI",
    ),
    (
        [{"role": "user", "content": "q"}, {"role": "tool", "content": "r"}],
        "messages[1].tool_call_id",
        "tool_call_id",
    ),
    (
        [{"role": "user", "content": "q"}, {"role": "assistant", "tool_calls": [{"id": "x"}]}],
        "messages[1].tool_calls[0]",
        "function",
    ),
]


@pytest.mark.parametrize(("messages", "field", "limit"), INVALID_MESSAGES)
def test_invalid_messages_are_refused(messages: Any, field: str, limit: str) -> None:
    with pytest.raises(RequestValidationError) as err:
        build_body(messages, {}, stream=False)
    assert err.value.field == field
    assert limit in err.value.limit


def test_validation_error_is_a_value_error() -> None:
    with pytest.raises(ValueError, match=r"temperature: must be in \[0, 1\] \(got 1.5\)"):
        build_body(USER, {"temperature": 1.5}, stream=False)


def test_a_valid_body_is_normalized() -> None:
    body = build_body(
        [SystemMessage(content="be brief"), UserMessage(content="hi")],
        {
            "model": "glm-4.7",
            "temperature": 0,
            "top_p": 1,
            "max_tokens": 1,
            "stop": "END",
            "thinking": False,
            "tools": [Tool.model_validate(tool("get_weather")), tool("x-y_1")],
            "tool_choice": "auto",
            "extra_body": {"do_sample": False},
        },
        stream=True,
    )
    assert body == {
        "model": "glm-4.7",
        "messages": [{"role": "system", "content": "be brief"}, {"role": "user", "content": "hi"}],
        "temperature": 0,
        "top_p": 1,
        "max_tokens": 1,
        "stop": ["END"],  # a bare string goes out as a one-item list (docs/wire.md)
        "thinking": {"type": "disabled"},
        "tools": [tool("get_weather"), tool("x-y_1")],
        "tool_choice": "auto",
        "stream": True,
        "do_sample": False,
    }


def test_the_default_model_and_no_stream_flag() -> None:
    body = build_body(USER, {"stop": []}, stream=False)
    assert body == {"model": "glm-5-turbo", "messages": USER}


def test_a_request_model_is_accepted() -> None:
    request = ChatCompletionRequest.model_validate(
        {"model": "glm-5", "messages": USER, "temperature": 0.7, "max_tokens": 1024}
    )
    assert build_body(request, {"max_tokens": 10}, stream=False) == {
        "model": "glm-5",
        "messages": USER,
        "temperature": 0.7,
        "max_tokens": 10,
    }


def test_unknown_models_are_an_open_string() -> None:
    body = build_body(USER, {"model": "glm-9-future", "max_tokens": 500_000}, stream=False)
    assert body["model"] == "glm-9-future"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, {"type": "enabled"}),
        (False, {"type": "disabled"}),
        ("enabled", {"type": "enabled"}),
        (
            {"type": "enabled", "clear_thinking": False},
            {"type": "enabled", "clear_thinking": False},
        ),
        (None, None),
    ],
)
def test_normalize_thinking(value: Any, expected: Any) -> None:
    assert normalize_thinking(value) == expected


def test_several_stops_send_the_first_and_the_body_check_refuses_more() -> None:
    assert build_body(USER, {"stop": ["a", "b", "c"]})["stop"] == ["a"]
    with pytest.raises(RequestValidationError, match="takes one stop sequence") as err:
        validate_request({"model": "glm-5", "messages": USER, "stop": ["a", "b"]})
    assert err.value.field == "stop"


# validate_params: settings on their own, with the same rules (adapters check at construction)
INVALID_SETTINGS: list[tuple[dict[str, Any], str, str]] = [
    ({"temperature": 1.5}, "temperature", "[0, 1]"),
    ({"top_p": 0}, "top_p", "[0.01, 1]"),
    ({"max_tokens": 128_001, "model": "glm-5"}, "max_tokens", "<= 128000 for glm-5"),
    ({"max_tokens": 128_001}, "max_tokens", "<= 128000 for glm-5-turbo"),
    ({"max_tokens": 96_001, "model": "glm-4.5-air"}, "max_tokens", "<= 96000"),
    ({"stop": ["ok", ""]}, "stop", "must not be empty"),
    ({"thinking": {"type": "maybe"}}, "thinking.type", "enabled"),
    ({"tools": [tool("has space")]}, "tools[0].function.name", "A-Za-z"),
    ({"tool_choice": 3.5}, "tool_choice", "must be"),
    ({"base_url": "ftp://example.com"}, "base_url", "http(s) URL"),
    ({"timeout": -1}, "timeout", "positive"),
    ({"max_retries": -1}, "max_retries", ">= 0"),
    ({"model": ""}, "model", "non-empty"),
]


@pytest.mark.parametrize(("settings", "field", "limit"), INVALID_SETTINGS)
def test_validate_params_names_field_limit_and_value(
    settings: dict[str, Any], field: str, limit: str
) -> None:
    with pytest.raises(RequestValidationError) as err:
        validate_params(**settings)
    assert (err.value.field, limit in err.value.limit) == (field, True)


def test_validate_params_accepts_what_chat_accepts() -> None:
    validate_params()
    validate_params(
        model="glm-9-future",
        temperature=0,
        top_p=1,
        max_tokens=500_000,  # an unknown model: the catalog has no limit to enforce
        stop=["Observation:", "\nEND"],
        thinking=False,
        tools=[tool("get_weather")],
        tool_choice="required",
        base_url="http://127.0.0.1:1/v1",
        timeout=3,
        max_retries=0,
    )
