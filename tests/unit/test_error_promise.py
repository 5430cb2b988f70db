"""The error promise, pure parts (no sockets): httpx's exceptions mapped one by one,
JSON nested too deep, and any JSON at any field of an answer or a chunk (hypothesis)."""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st

from powertokens import (
    APIConnectionError,
    APIError,
    APITimeoutError,
    InvalidResponseError,
    PowerTokensError,
    RetryPolicy,
    StreamAccumulator,
)
from powertokens._json import loads
from powertokens._response import decode_completion, transport_error

REQUEST = httpx.Request("POST", "http://127.0.0.1/v1/chat/completions")


@pytest.mark.parametrize(
    ("exc", "cls", "retried"),
    [
        (httpx.ConnectError("refused"), APIConnectionError, True),
        (httpx.ReadError("reset"), APIConnectionError, True),
        (httpx.RemoteProtocolError("bad status line"), APIConnectionError, True),
        (httpx.ProxyError("proxy down"), APIConnectionError, True),
        (httpx.ReadTimeout("slow"), APITimeoutError, True),
        (httpx.LocalProtocolError("Illegal header value b'secret\\n'"), APIError, False),
        (httpx.UnsupportedProtocol("Request URL has an unsupported protocol 'ftp://'."),
         APIError, False),
        (httpx.DecodingError("Error -3 while decompressing data"), InvalidResponseError, False),
        (httpx.TooManyRedirects("Exceeded maximum allowed redirects."), APIError, False),
        (httpx.InvalidURL("Invalid non-printable ASCII character in URL"), APIError, False),
        (httpx.StreamClosed(), APIError, False),
        (httpx.StreamConsumed(), APIError, False),
        (httpx.ResponseNotRead(), APIError, False),
        (RuntimeError("Cannot send a request, as the client has been closed."), APIError, False),
    ],
)  # fmt: skip
def test_every_httpx_error_is_ours_and_retried_only_for_transport(
    exc: Exception, cls: type[APIError], retried: bool
) -> None:
    error = transport_error(exc)
    assert type(error) is cls
    assert (RetryPolicy().next_delay(error, 0) is not None) is retried
    if isinstance(exc, httpx.LocalProtocolError):
        assert "secret" not in str(error)
        assert error.__cause__ is None
        assert error.__suppress_context__
    else:
        assert error.__cause__ is exc


def test_decoding_error_names_the_answer() -> None:
    response = httpx.Response(
        200, headers={"content-encoding": "br", "x-oneapi-request-id": "r1"}, request=REQUEST
    )
    error = transport_error(httpx.DecodingError("bad"), response)
    assert isinstance(error, InvalidResponseError)
    assert (error.status_code, error.request_id) == (200, "r1")
    assert str(error) == (
        "HTTP 200: the service's answer could not be decoded (Content-Encoding: br): bad "
        "(request id: r1)"
    )


@pytest.mark.parametrize("data", [b"[" * 100_000, b"[" * 100_000 + b"]" * 100_000, "{" * 5000])
def test_json_nested_too_deep_is_a_value_error(data: str | bytes) -> None:
    with pytest.raises(ValueError, match=r"nested too deeply|Expecting"):
        loads(data)


def test_json_at_ordinary_depths_still_decodes() -> None:
    assert loads(b"[" * 500 + b"]" * 500) is not None  # deeper than pydantic's 200


# --- any JSON anywhere ---------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=5),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3)
    ),
    max_leaves=6,
)

COMPLETION: dict[str, Any] = {
    "id": "c", "object": "chat.completion", "created": 1, "model": "m",
    "choices": [{"index": 0, "finish_reason": "tool_calls", "message": {
        "role": "assistant", "content": "hi", "reasoning_content": "r",
        "tool_calls": [{"id": "t", "type": "function", "index": 0,
                        "function": {"name": "f", "arguments": "{}"}}]}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2,
              "prompt_tokens_details": {"cached_tokens": 0}},
}  # fmt: skip
CHUNK: dict[str, Any] = {
    "id": "c", "object": "chat.completion.chunk", "created": 1, "model": "m",
    "choices": [{"index": 0, "finish_reason": None, "delta": {
        "role": "assistant", "content": "lo", "reasoning_content": "r",
        "tool_calls": [{"id": "t", "type": "function", "index": 0,
                        "function": {"name": "f", "arguments": "{}"}}]}}],
    "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
}  # fmt: skip


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*path, index))
    return found


def _replaced(value: Any, path: tuple[Any, ...], new: Any) -> Any:
    if not path:
        return new
    copied = copy.deepcopy(value)
    node = copied
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = new
    return copied


@given(path=st.sampled_from(_paths(COMPLETION)), value=json_values)
def test_any_json_at_any_field_of_an_answer(path: tuple[Any, ...], value: Any) -> None:
    body = json.dumps(_replaced(COMPLETION, path, value)).encode()
    response = httpx.Response(200, content=body, request=REQUEST)
    with contextlib.suppress(PowerTokensError):
        decode_completion(response, body)


@given(path=st.sampled_from(_paths(CHUNK)), value=json_values, stops=st.booleans())
def test_any_json_at_any_field_of_a_chunk(path: tuple[Any, ...], value: Any, stops: bool) -> None:
    acc = StreamAccumulator(("STOP",) if stops else ())
    acc.add_data(json.dumps({"id": "c", "choices": [{"index": 0, "delta": {"content": "Hel"}}]}))
    try:
        acc.add_data(json.dumps(_replaced(CHUNK, path, value)))
        acc.add_data(json.dumps({"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}))
        acc.result()
    except PowerTokensError as error:
        partial = getattr(error, "partial", None)
        if partial is not None:
            assert partial.content.startswith("Hel")  # nothing delivered is lost
