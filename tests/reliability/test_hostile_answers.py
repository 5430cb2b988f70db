"""The error promise over loopback: whatever a server answers and whatever JSON a caller
passes, a call ends in the answer or a ``PowerTokensError``, with nothing delivered lost
(issue 11, "The error promise").

Each hostile answer is scripted byte for byte by ``tests/hostile.py``; the core is driven
sync and async, streamed and not, and the adapters through the same faces
(``stacks.FACES``) for a representative subset.
"""

from __future__ import annotations

import copy
import json
import math
import zlib
from typing import Any

import httpx
import pytest
from langchain_core.exceptions import ModelAPIError, OutputParserException
from llama_index.core.base.llms.types import ChatMessage
from pydantic import BaseModel

import langchain_powertokens as lp
from langchain_powertokens import ChatPowerTokens
from langchain_powertokens._errors import to_langchain_error
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import (
    APIConnectionError,
    APIError,
    APIStatusError,
    AsyncPowerTokens,
    InternalServerError,
    InvalidResponseError,
    PowerTokens,
    PowerTokensError,
    RequestValidationError,
    StreamInterruptedError,
    validate_params,
)
from powertokens._limits import MAX_JSON_DEPTH
from powertokens.lib import extract_json
from tests.hostile import (
    CLOSE,
    KEEP,
    HostileServer,
    chunk,
    completion,
    completion_chunk,
    json_response,
    response,
    sse,
    sse_stream,
    stream_head,
)

from .conftest import Sleeps
from .stacks import FACES, KEY, Face, Outcome

CORE = [face for face in FACES if face.stack == "core"]
ADAPTERS = [face for face in FACES if face.stack != "core"]
RID = "rid-hostile-7"
DEEP = b"[" * 100_000 + b"]" * 100_000
"""JSON nested 100,000 deep: past every parser's recursion."""
MESSAGES = [{"role": "user", "content": "hi"}]


def ids(faces: list[Face]) -> list[str]:
    return [face.id for face in faces]


async def call(face: Face, server: HostileServer, **fields: Any) -> Outcome:
    target = face.build(server.url, **fields)
    try:
        return await face.run(target, "hi")
    finally:
        await face.close(target)


def assert_promise(out: Outcome) -> None:
    """The outcome is an answer or one of our errors, never anything else."""
    if out.error is not None:
        assert isinstance(out.error, PowerTokensError), repr(out.error)


async def drain(stream: Any) -> None:
    """Read an async stream to its end (raising what it raises)."""
    async with stream as opened:
        async for _ in opened:
            pass


def with_request_id(answer: bytes) -> bytes:
    head, _, body = answer.partition(b"\r\n\r\n")
    return head + f"\r\nX-Oneapi-Request-Id: {RID}".encode() + b"\r\n\r\n" + body


# --- 1. a 200 body that is not a completion ------------------------------------------


def _message(**fields: Any) -> dict[str, Any]:
    body = completion("x")
    body["choices"][0]["message"].update(fields)
    return body


UNREADABLE: dict[str, tuple[bytes, str]] = {
    "list": (b"[]", "the body"),
    "null": (b"null", "the body"),
    "choices-null": (b'{"choices": null}', "choices"),
    "content-int": (json.dumps(_message(content=123)).encode(), "choices.0.message.content"),
    "created-str": (json.dumps(completion(created="yesterday")).encode(), "created"),
    "tool-calls-object": (
        json.dumps(_message(tool_calls={"id": "c1"})).encode(),
        "choices.0.message.tool_calls",
    ),
    "deep": (DEEP, "not JSON"),
    "html": (b"<html><body>Welcome to the hotel wifi</body></html>", "not JSON"),
}


@pytest.mark.parametrize("face", CORE, ids=ids(CORE))
@pytest.mark.parametrize("case", list(UNREADABLE))
async def test_a_200_body_that_is_no_completion_is_an_invalid_response(
    face: Face, case: str
) -> None:
    body, named = UNREADABLE[case]
    with HostileServer() as server:
        server.script(with_request_id(response(200, body)))
        out = await call(face, server, max_retries=2)
        error = out.error
        assert isinstance(error, InvalidResponseError), repr(error)
        assert len(server.requests) == 1  # not retried: the request may have been billed
    assert not error.is_retryable
    assert error.status_code == 200
    assert error.request_id == RID
    assert named in str(error)
    assert error.body == body[:200].decode()
    assert len(str(error)) < 600  # an excerpt, not the body


@pytest.mark.parametrize("face", ADAPTERS, ids=ids(ADAPTERS))
@pytest.mark.parametrize("case", ["content-int", "deep"])
async def test_the_adapters_raise_the_invalid_response_too(face: Face, case: str) -> None:
    with HostileServer() as server:
        server.script(with_request_id(response(200, UNREADABLE[case][0])))
        out = await call(face, server)
        assert isinstance(out.error, InvalidResponseError), repr(out.error)
        assert len(server.requests) == 1
    if face.stack == "langchain":
        assert isinstance(out.error, lp.PowerTokensInvalidResponseError)
        assert isinstance(out.error, ModelAPIError)


def test_the_langchain_dual_keeps_every_attribute() -> None:
    error = InvalidResponseError(
        "cannot read", status_code=200, request_id=RID, body="[]", headers={"a": "b"}
    )
    dual = to_langchain_error(error)
    assert type(dual) is lp.PowerTokensInvalidResponseError
    assert isinstance(dual, ModelAPIError)
    assert vars(dual) == vars(error)
    assert str(dual) == f"HTTP 200: cannot read (request id: {RID})"


# --- 2. JSON nested too deep: a 5xx, a stream event ----------------------------------


@pytest.mark.parametrize("face", CORE, ids=ids(CORE))
async def test_a_5xx_nested_too_deep_is_a_retried_server_error(face: Face, sleeps: Sleeps) -> None:
    with HostileServer() as server:
        server.script([response(500, DEEP), KEEP], json_response(200, completion("fine")))
        out = await call(face, server, max_retries=2)
        assert out.error is None, repr(out.error)
        assert out.text == "fine"
        assert len(server.requests) == 2
    with HostileServer() as server:
        server.script([response(503, DEEP), KEEP])
        out = await call(face, server, max_retries=1)
        assert isinstance(out.error, InternalServerError), repr(out.error)
        assert out.error.status_code == 503
        assert str(out.error).startswith("HTTP 503: [[[")
        assert len(server.requests) == 2


@pytest.mark.parametrize(
    "face", [f for f in FACES if f.stream], ids=ids([f for f in FACES if f.stream])
)
async def test_a_stream_event_nested_too_deep_keeps_what_was_delivered(face: Face) -> None:
    with HostileServer() as server:
        server.script(sse_stream(completion_chunk("Hel"), completion_chunk("lo"), DEEP.decode()))
        out = await call(face, server, max_retries=2)
        assert isinstance(out.error, StreamInterruptedError), repr(out.error)
        assert len(server.requests) == 1  # output was delivered: never re-sent
    assert out.delivered == "Hello"
    assert out.error.partial_text == "Hello"
    assert "malformed stream event" in str(out.error)


@pytest.mark.parametrize("face", CORE[1::2], ids=ids(CORE[1::2]))
async def test_a_first_stream_event_nested_too_deep_is_retried(face: Face, sleeps: Sleeps) -> None:
    with HostileServer() as server:
        server.script(sse_stream(DEEP.decode()), sse_stream(completion_chunk("ok", finish="stop")))
        out = await call(face, server, max_retries=2)
        assert out.error is None, repr(out.error)
        assert out.text == "ok"
        assert len(server.requests) == 2


# --- malformed chunks after output ---------------------------------------------------

BAD_CHUNKS: dict[str, Any] = {
    "role-int": completion_chunk("x", role=5),
    "content-int": completion_chunk(123),  # type: ignore[arg-type]
    "choices-str": {"id": "c", "choices": "x"},
    "choice-int": {"id": "c", "choices": [1]},
    "delta-list": {"id": "c", "choices": [{"index": 0, "delta": [1]}]},
    "tool-calls-object": completion_chunk(None, tool_calls={"index": 0}),
    "finish-int": completion_chunk("x", finish=7),  # type: ignore[arg-type]
    "json-list": [1, 2],
}


@pytest.mark.parametrize("face", CORE[1::2], ids=ids(CORE[1::2]))
@pytest.mark.parametrize("case", list(BAD_CHUNKS))
async def test_a_malformed_chunk_after_output_keeps_the_partial(face: Face, case: str) -> None:
    with HostileServer() as server:
        server.script(
            sse_stream(
                completion_chunk("Hel"), BAD_CHUNKS[case], completion_chunk("lo", finish="stop")
            )
        )
        out = await call(face, server)
        assert isinstance(out.error, StreamInterruptedError), repr(out.error)
        assert len(server.requests) == 1
    assert out.delivered == "Hel"
    assert out.error.partial_text.startswith("Hel")  # what arrived: never less than shown
    assert "malformed stream" in str(out.error)


# --- 3. httpx's own errors -----------------------------------------------------------


def _gzip(compressor: Any, *events: Any) -> bytes:
    """The next piece of one gzip stream: the events, flushed (decodable at once)."""
    data = b"".join(sse(event) for event in events)
    return compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH)


GZIP = {"Content-Encoding": "gzip"}


@pytest.mark.parametrize("face", CORE, ids=ids(CORE))
async def test_a_body_that_does_not_gunzip_is_an_invalid_response(face: Face) -> None:
    with HostileServer() as server:
        if face.stream:
            server.script([stream_head(headers=GZIP), chunk(b"not gzip at all"), chunk(b"")])
        else:
            server.script(response(200, b"not gzip at all", headers=GZIP))
        out = await call(face, server, max_retries=2)
        assert isinstance(out.error, InvalidResponseError), repr(out.error)
        assert len(server.requests) == 1
    assert "could not be decoded" in str(out.error)
    assert isinstance(out.error.__cause__, httpx.DecodingError)


@pytest.mark.parametrize(
    "face", [f for f in FACES if f.stream], ids=ids([f for f in FACES if f.stream])
)
async def test_a_stream_that_stops_gunzipping_keeps_the_partial(face: Face) -> None:
    with HostileServer() as server:
        server.script(
            [
                stream_head(headers=GZIP),
                chunk(
                    _gzip(
                        zlib.compressobj(wbits=31), completion_chunk("Hel"), completion_chunk("lo")
                    )
                ),
                0.05,
                chunk(b"\xff" * 64),
                chunk(b""),
            ]
        )
        out = await call(face, server, max_retries=2)
        assert isinstance(out.error, StreamInterruptedError), repr(out.error)
        assert len(server.requests) == 1
    assert out.delivered == "Hello"
    assert out.error.partial_text == "Hello"


def test_a_gzip_stream_that_decodes_is_read() -> None:
    compressor = zlib.compressobj(wbits=31)
    with HostileServer() as server:
        server.script(
            [
                stream_head(headers=GZIP),
                chunk(_gzip(compressor, completion_chunk("Hel"))),
                chunk(_gzip(compressor, completion_chunk("lo", finish="stop"), "[DONE]")),
                chunk(b""),
            ]
        )
        client = PowerTokens(api_key=KEY, base_url=server.url, max_retries=0)
        with client.stream(MESSAGES) as stream:
            assert "".join(d.content for d in stream) == "Hello"


def _redirect(location: str) -> list[Any]:
    return [response(307, b"", headers={"Location": location}), KEEP]


def test_too_many_redirects_and_an_unsupported_scheme_are_not_retried() -> None:
    with HostileServer() as server:
        server.script(_redirect("/v1/chat/completions"))
        http = httpx.Client(follow_redirects=True, max_redirects=3)
        client = PowerTokens(api_key="k", base_url=server.url, max_retries=2, http_client=http)
        with pytest.raises(APIError, match="redirected too many times") as info:
            client.chat(MESSAGES)
        assert not isinstance(info.value, APIConnectionError)
        assert len(server.requests) == 4  # one call: the first request and 3 redirects
    with HostileServer() as server:
        server.script(_redirect("ftp://127.0.0.1/file"))
        client = PowerTokens(api_key="k", base_url=server.url, max_retries=2, http_client=http)
        with pytest.raises(APIError, match="unsupported protocol") as info:
            client.chat(MESSAGES)
        assert not isinstance(info.value, APIConnectionError)
        assert len(server.requests) == 1
    http.close()


async def test_too_many_redirects_async() -> None:
    with HostileServer() as server:
        server.script(_redirect("/v1/chat/completions"))
        http = httpx.AsyncClient(follow_redirects=True, max_redirects=2)
        client = AsyncPowerTokens(api_key="k", base_url=server.url, http_client=http)
        with pytest.raises(APIError, match="redirected too many times"):
            await drain(client.stream(MESSAGES))
        assert len(server.requests) == 3
        await http.aclose()


async def test_a_header_httpx_will_not_write_is_refused_without_its_value() -> None:
    secret = "hidden-value-4242"
    with HostileServer() as server:
        sync = PowerTokens(api_key="k", base_url=server.url, max_retries=2)
        with pytest.raises(PowerTokensError) as info:
            sync.chat(MESSAGES, extra_headers={"X-Trace": f"{secret}\r\nX-Evil: 1"})
        aio = AsyncPowerTokens(api_key="k", base_url=server.url, max_retries=2)
        with pytest.raises(PowerTokensError) as ainfo:
            await drain(aio.stream(MESSAGES, extra_headers={"X-Trace": f"{secret}\n"}))
        await aio.close()
        assert server.requests == []  # nothing was sent, nothing retried
    for error in (info.value, ainfo.value):
        assert not isinstance(error, APIConnectionError)
        seen: BaseException | None = error
        while seen is not None:  # not in the message, nor in any exception it shows
            assert secret not in str(seen)
            seen = seen.__cause__ or (None if seen.__suppress_context__ else seen.__context__)


def test_a_broken_status_line_is_a_retried_connection_error(sleeps: Sleeps) -> None:
    with HostileServer() as server:
        server.script(b"HTTP/1.1 nonsense\r\n\r\n", json_response(200, completion("ok")))
        client = PowerTokens(api_key="k", base_url=server.url, max_retries=2)
        assert client.chat(MESSAGES).content == "ok"
        assert len(server.requests) == 2


def test_a_closed_injected_client_is_an_api_error() -> None:
    with HostileServer() as server:
        http = httpx.Client()
        http.close()
        client = PowerTokens(api_key="k", base_url=server.url, http_client=http)
        with pytest.raises(APIError, match="closed"):
            client.chat(MESSAGES)
        with pytest.raises(APIError, match="closed"), client.stream(MESSAGES) as stream:
            next(iter(stream))
        assert server.requests == []


async def test_a_closed_injected_async_client_is_an_api_error() -> None:
    with HostileServer() as server:
        http = httpx.AsyncClient()
        await http.aclose()
        client = AsyncPowerTokens(api_key="k", base_url=server.url, http_client=http)
        with pytest.raises(APIError, match="closed"):
            await client.chat(MESSAGES)
        with pytest.raises(APIError, match="closed"):
            await drain(client.stream(MESSAGES))
        assert server.requests == []


# --- 4, 5. the caller's JSON: too deep, NaN ------------------------------------------


def _nested(depth: int) -> dict[str, Any]:
    """A JSON object nested ``depth`` levels deep (itself the first)."""
    value: dict[str, Any] = {"type": "object"}
    for _ in range(depth - 1):
        value = {"nested": value}
    return value


def _tool(parameters: Any) -> dict[str, Any]:
    return {"type": "function", "function": {"name": "lookup", "parameters": parameters}}


NAN_SCHEMA = {"type": "object", "properties": {"n": {"type": "number", "maximum": math.nan}}}


@pytest.mark.parametrize("face", CORE, ids=ids(CORE))
async def test_a_tool_schema_too_deep_is_refused_before_sending(face: Face) -> None:
    with HostileServer() as server:
        target = face.build(server.url)
        try:
            out = await face.run(target, "hi", tools=[_tool(_nested(600))])
        finally:
            await face.close(target)
        assert server.requests == []
    error = out.error
    assert isinstance(error, RequestValidationError), repr(error)
    assert error.field == "tools[0].function.parameters"
    assert error.value == 600
    assert str(MAX_JSON_DEPTH) in error.limit


@pytest.mark.parametrize("face", CORE, ids=ids(CORE))
async def test_nan_in_a_tool_schema_is_refused_before_sending(face: Face) -> None:
    with HostileServer() as server:
        target = face.build(server.url)
        try:
            out = await face.run(target, "hi", tools=[_tool(NAN_SCHEMA)])
        finally:
            await face.close(target)
        assert server.requests == []
    error = out.error
    assert isinstance(error, RequestValidationError), repr(error)
    assert error.field == "tools[0].function.parameters.properties.n.maximum"
    assert "finite" in error.limit


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"extra_body": {"response_format": {"schema": {"a": [1, math.inf]}}}},
         "response_format.schema.a[1]"),
        ({"extra_body": {"response_format": _nested(200)}}, "response_format"),
        ({"extra_body": {"top_k": -math.inf}}, "top_k"),
        ({"thinking": {"type": "enabled", "budget": math.nan}}, "thinking.budget"),
    ],
)  # fmt: skip
def test_any_json_of_the_callers_is_checked(params: dict[str, Any], field: str) -> None:
    with HostileServer() as server:
        client = PowerTokens(api_key="k", base_url=server.url)
        with pytest.raises(RequestValidationError) as info:
            client.chat(MESSAGES, **params)
        assert server.requests == []
    assert info.value.field == field


def test_a_message_field_with_nan_or_nested_too_deep_is_refused() -> None:
    with HostileServer() as server:
        client = PowerTokens(api_key="k", base_url=server.url)
        with pytest.raises(RequestValidationError) as info:
            client.chat([{"role": "user", "content": "hi", "weight": math.nan}])
        assert info.value.field == "messages[0].weight"
        with pytest.raises(RequestValidationError) as info:
            client.chat([{"role": "user", "content": "hi", "meta": _nested(3000)}])
        assert info.value.field == "messages"
        assert server.requests == []


def test_the_words_nan_and_infinity_in_text_are_sent() -> None:
    schema = {"type": "object", "description": "NaN or Infinity", "maximum": 1e308}
    with HostileServer() as server:
        server.script(json_response(200, completion("ok")))
        client = PowerTokens(api_key="k", base_url=server.url)
        prompt = [{"role": "user", "content": "Is NaN a number? -Infinity?"}]
        assert client.chat(prompt, tools=[_tool(schema)]).content == "ok"
        sent = server.requests[0].json()
    assert sent["messages"] == prompt
    assert sent["tools"][0]["function"]["parameters"] == schema


def test_a_schema_at_the_limit_is_sent() -> None:
    with HostileServer() as server:
        server.script(json_response(200, completion("ok")))
        client = PowerTokens(api_key="k", base_url=server.url)
        assert client.chat(MESSAGES, tools=[_tool(_nested(MAX_JSON_DEPTH))]).content == "ok"
        assert len(server.requests) == 1
    with pytest.raises(RequestValidationError, match=f"at most {MAX_JSON_DEPTH}"):
        validate_params(tools=[_tool(_nested(MAX_JSON_DEPTH + 1))])


async def test_the_adapters_refuse_a_deep_or_nan_tool_schema() -> None:
    deep = _tool(_nested(600))
    nan = _tool(NAN_SCHEMA)
    with HostileServer() as server:
        model = ChatPowerTokens(api_key="k", base_url=server.url)
        for tool, field in ((deep, "tools[0].function.parameters"), (nan, "maximum")):
            with pytest.raises(
                lp.PowerTokensRequestValidationError, match=field.replace("[", r"\[")
            ):
                model.bind_tools([tool]).invoke("hi")
            with pytest.raises(lp.PowerTokensRequestValidationError):
                await model.bind_tools([tool]).ainvoke("hi")
        llm = LlamaPowerTokens(api_key="k", base_url=server.url)
        for tool in (deep, nan):
            with pytest.raises(RequestValidationError):
                llm.chat([ChatMessage(role="user", content="hi")], tools=[tool])
        assert server.requests == []


# --- 6. every field of a completion and of a chunk, of every wrong type --------------

WRONG: list[Any] = [None, 0, -1, 1.5, 10**30, True, "", "x", [], [1], {}, {"a": 1}, [None]]


def _full_completion() -> dict[str, Any]:
    call = {"id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = completion("hi", finish="tool_calls")
    body["choices"][0]["message"].update(reasoning_content="r", tool_calls=[call])
    body["usage"]["prompt_tokens_details"] = {"cached_tokens": 0}
    return body


def _full_chunk() -> dict[str, Any]:
    call = {"index": 0, "id": "t", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    body = completion_chunk("lo", role="assistant", reasoning_content="r", tool_calls=[call])
    body["usage"] = {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}
    return body


def _paths(value: Any, path: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    found = [path]
    items = (
        value.items()
        if isinstance(value, dict)
        else enumerate(value)
        if isinstance(value, list)
        else ()
    )
    for key, item in items:
        found += _paths(item, (*path, key))
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


def _mutants(base: dict[str, Any]) -> list[Any]:
    return [_replaced(base, path, wrong) for path in _paths(base) for wrong in WRONG]


@pytest.mark.slow  # hundreds of calls over loopback (tests/unit/test_error_promise.py: in-process)
@pytest.mark.parametrize("face", CORE, ids=ids(CORE))
async def test_every_wrong_type_in_a_completion_or_chunk_keeps_the_promise(face: Face) -> None:
    if face.stream:
        first = completion_chunk("Hel")
        finish = completion_chunk("", finish="stop")
        scripts = [[*sse_stream(first, bad, finish), KEEP] for bad in _mutants(_full_chunk())]
    else:
        scripts = [[json_response(200, bad), KEEP] for bad in _mutants(_full_completion())]
    with HostileServer() as server:
        server.script(*scripts)
        server.script([CLOSE])  # any call past the table fails loudly, as a connection error
        target = face.build(server.url, max_retries=0)
        try:
            for _ in scripts:
                out = await face.run(target, "hi")
                assert_promise(out)
                assert not isinstance(out.error, APIConnectionError), out.error
                if face.stream and out.error is not None and out.delivered:
                    partial = out.error.partial_text  # type: ignore[attr-defined]
                    assert partial.startswith(out.delivered), (partial, out.delivered)
        finally:
            await face.close(target)
        assert len(server.requests) == len(scripts)


@pytest.mark.parametrize("face", ADAPTERS, ids=ids(ADAPTERS))
async def test_odd_but_valid_answers_through_the_adapters(face: Face) -> None:
    """Tool calls whose arguments are not JSON, not an object, or nested too deep; null
    content: the adapters answer (invalid calls marked), they never raise."""
    deep = "[" * 100_000 + "]" * 100_000
    calls = [
        {"id": f"c{i}", "type": "function", "function": {"name": "f", "arguments": args}}
        for i, args in enumerate(["{not json", "123", "null", deep, '{"a": NaN}'])
    ]
    if face.stream:
        chunks = [
            completion_chunk(None, tool_calls=[{**call, "index": i}])
            for i, call in enumerate(calls)
        ]
        script = sse_stream(*chunks, completion_chunk(None, finish="tool_calls"))
    else:
        body = completion("", finish="tool_calls")
        body["choices"][0]["message"] = {"role": "assistant", "content": None, "tool_calls": calls}
        script = json_response(200, body)
    with HostileServer() as server:
        server.script(script)
        out = await call(face, server)
    assert out.error is None, repr(out.error)
    assert out.finish_reason == "tool_calls"


def test_status_errors_still_carry_their_class() -> None:
    """An error body on a 200 is still the service's error, not an unreadable answer."""
    with HostileServer() as server:
        server.script(json_response(200, {"error": {"code": "1261", "message": "too long"}}))
        client = PowerTokens(api_key="k", base_url=server.url, max_retries=0)
        with pytest.raises(APIStatusError, match="too long"):
            client.chat(MESSAGES)


async def test_structured_output_from_text_nested_too_deep_is_a_parse_error() -> None:
    """JSON looked for in the model's prose (``powertokens.lib.extract_json``): text nested
    too deep holds no usable JSON, and looking costs no seconds of retries."""
    deep = "[" * 100_000 + "]" * 100_000

    class Answer(BaseModel):
        x: int

    with HostileServer() as server:
        server.script([json_response(200, completion(f"here: {deep}")), KEEP])
        model = ChatPowerTokens(api_key="k", base_url=server.url, max_retries=0)
        structured = model.with_structured_output(Answer, method="json_mode")
        with pytest.raises(OutputParserException, match="holds no JSON"):
            structured.invoke("hi")
        with pytest.raises(OutputParserException, match="holds no JSON"):
            await structured.ainvoke("hi")
    assert extract_json(f'{deep[:5000]} then {{"x": 1}}') == {"x": 1}


@pytest.mark.parametrize(
    ("messages", "params", "field"),
    [
        ("hi", {}, "messages"),
        ({"role": "user", "content": "hi"}, {}, "messages"),
        ([5], {}, "messages[0]"),
        ([None], {}, "messages[0]"),
        (MESSAGES, {"tools": 5}, "tools"),
        (MESSAGES, {"tools": "lookup"}, "tools"),
        (MESSAGES, {"tools": [None]}, "tools[0]"),
        (MESSAGES, {"extra_body": [("top_k", 1)]}, "extra_body"),
    ],
)
async def test_input_of_the_wrong_shape_is_refused_before_sending(
    messages: Any, params: dict[str, Any], field: str
) -> None:
    with HostileServer() as server:
        client = PowerTokens(api_key="k", base_url=server.url)
        with pytest.raises(RequestValidationError) as info:
            client.chat(messages, **params)
        aclient = AsyncPowerTokens(api_key="k", base_url=server.url)
        with pytest.raises(RequestValidationError):
            await drain(aclient.stream(messages, **params))
        assert server.requests == []
    assert info.value.field == field
