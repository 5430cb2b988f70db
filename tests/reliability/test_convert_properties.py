"""Both message converters under arbitrary framework messages (hypothesis).

Any list of LangChain ``BaseMessage`` objects (text, list content, images in every form,
tool calls, reasoning, junk blocks) or LlamaIndex ``ChatMessage`` objects (every block
type, legacy ``additional_kwargs``) either raises our typed
:class:`~powertokens.RequestValidationError` naming a message, or becomes wire messages
that pass :func:`powertokens.validate_request`, that the emulator's validator (the
service's rules) accepts, and that still hold every piece of text, every image and every
tool call of the input: never a crash, never a silent loss.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    ChatMessage,
    FunctionMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from llama_index.core.base.llms.types import (
    AudioBlock,
    CacheControl,
    CachePoint,
    CitableBlock,
    CitationBlock,
    DocumentBlock,
    ImageBlock,
    MessageRole,
    TextBlock,
    ThinkingBlock,
    ToolCallBlock,
)
from llama_index.core.base.llms.types import ChatMessage as LlamaMessage
from pydantic import ValidationError
from pytest_socket import disable_socket, enable_socket

from langchain_powertokens._convert import messages_to_wire as langchain_to_wire
from llama_index_powertokens._messages import to_wire_messages as llama_to_wire
from powertokens import RequestValidationError, validate_request
from powertokens._limits import encode_body
from powertokens.emulator.http.validation import validate as service_validate

# property sweeps over every message form: seconds in all
pytestmark = pytest.mark.slow

# example counts and the deadline come from the profile (tests/conftest.py)
PROPERTY = settings(suppress_health_check=[HealthCheck.too_slow])


@pytest.fixture(autouse=True)
def _no_network() -> Iterator[None]:
    """Pure conversion: nothing may touch the network (a URL must never be fetched)."""
    disable_socket(allow_unix_socket=True)
    yield
    enable_socket()


# -- shared strategies --------------------------------------------------------------------

text = st.text(max_size=24)
words = st.text(st.characters(categories=["L", "N"]), min_size=1, max_size=12)
good_urls = st.sampled_from(
    [
        "https://example.com/cat.png",
        "http://img.example.org/a/b.jpg?x=1",
        "data:image/png;base64,iVBORw0KGgoAAAANSUhEUg==",
    ]
)
bad_urls = st.sampled_from(["ftp://example.com/cat.png", "s3://bucket/key.png", "file-123"])
b64 = st.sampled_from(["iVBORw0KGgoAAAA=", "/9j/4AAQSkZJRg==", "R0lGODlhAQABAA==", "UklGRiQA"])
json_leaf = st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | text
json_value = st.recursive(
    json_leaf,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(text, inner, max_size=3),
    max_leaves=6,
)
# Values a framework object may hold but JSON cannot: must give a typed error, not a crash.
odd_value = st.sampled_from([datetime.date(2026, 1, 1), b"\x00bytes", {1, 2}, object()])
any_value = json_value | odd_value


def strings_in(value: Any) -> Iterator[str]:
    """Every string inside a wire message (content, parts, urls, reasoning, tool calls)."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from strings_in(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings_in(item)


def assert_valid_for_the_service(wire: list[dict[str, Any]], *, good: bool = False) -> None:
    """Whether our validation passes; when it does, the service's rules must agree and the
    body must encode. (Our rules may be stricter: e.g. an image URL scheme.)"""
    body = {"model": "glm-5-turbo", "messages": wire}
    encode_body(body)  # JSON-ready: no stray Python objects
    error = typed_error(validate_request, body)
    if error is not None:
        assert error.field.startswith("messages")
        if good:  # only the rule about the conversation itself: no user or tool turn
            assert error.field == "messages", error
            assert service_validate(body) is not None  # the service refuses it too
        event("converted, then refused by validate_request")
        return
    assert service_validate(json.loads(encode_body(body))) is None
    event("converted and valid")


def typed_error(function: Any, *args: Any, **kwargs: Any) -> RequestValidationError | None:
    """The RequestValidationError ``function`` raised, or None; any other error propagates."""
    try:
        function(*args, **kwargs)
    except RequestValidationError as error:
        return error
    return None


# -- LangChain ------------------------------------------------------------------------------


text_block = text | st.builds(lambda t: {"type": "text", "text": t}, text)
plain_block = st.builds(
    lambda t: {"type": "text-plain", "text": t, "mime_type": "text/plain"}, text
)
good_image_block = st.one_of(
    st.builds(lambda u: {"type": "image_url", "image_url": {"url": u}}, good_urls),
    st.builds(lambda u: {"type": "image_url", "image_url": u}, good_urls),
    st.builds(lambda u: {"type": "image", "url": u}, good_urls),
    st.builds(lambda u: {"type": "input_image", "image_url": u}, good_urls),
    st.builds(
        lambda d, m: {"type": "image", "base64": d, "mime_type": m},
        b64,
        st.none() | st.just("image/png"),
    ),
    st.builds(lambda d: {"type": "image", "source_type": "base64", "data": d}, b64),
    st.builds(
        lambda d: {
            "type": "image",
            "source": {"type": "base64", "media_type": "image/gif", "data": d},
        },
        b64,
    ),
)
image_block = good_image_block | st.one_of(
    st.builds(lambda u: {"type": "image_url", "image_url": {"url": u}}, bad_urls),
    st.just({"type": "image", "file_id": "file-abc"}),  # unsupported: a typed error
)
reasoning_block = st.builds(lambda t: {"type": "reasoning", "reasoning": t}, text) | st.builds(
    lambda t: {"type": "thinking", "thinking": t}, text
)
junk_block = st.one_of(
    st.builds(lambda k: {"type": k}, st.sampled_from(["audio", "file", "video", "bogus", ""])),
    st.builds(lambda v: {"type": v}, any_value),
    st.dictionaries(st.sampled_from(["type", "text", "url", "base64", "image_url"]), any_value),
    st.builds(lambda v: {"type": "text", "text": v}, any_value),
    st.builds(lambda v: {"type": "image", "base64": v}, any_value),
    st.just({"type": "tool_use", "id": "t1", "name": "f", "input": {}}),
    st.just({"type": "refusal", "refusal": "no"}),
)
lc_content = text | st.lists(
    st.one_of(text_block, text_block, plain_block, image_block, reasoning_block, junk_block),
    max_size=4,
)
good_lc_content = text | st.lists(
    st.one_of(text_block, text_block, plain_block, reasoning_block, good_image_block),
    max_size=4,
)
tool_names = st.from_regex(r"[A-Za-z0-9_-]{1,20}", fullmatch=True)
lc_tool_call = st.builds(
    lambda name, args, call_id: {"name": name, "args": args, "id": call_id, "type": "tool_call"},
    tool_names | text,
    st.dictionaries(text, json_value | odd_value, max_size=3),
    st.none() | words,
)
lc_good_call = st.builds(
    lambda name, args, call_id: {"name": name, "args": args, "id": call_id, "type": "tool_call"},
    tool_names,
    st.dictionaries(text, json_value, max_size=3),
    words,
)
lc_invalid_call = st.builds(
    lambda name, args: {
        "name": name,
        "args": args,
        "id": "bad1",
        "error": None,
        "type": "invalid_tool_call",
    },
    st.none() | tool_names,
    st.none() | text,
)


@st.composite
def lc_messages(draw: st.DrawFn, good: bool = False) -> BaseMessage:
    """Any message; ``good``: only forms the API can take (the conversion must succeed)."""
    kinds = ["human", "ai", "system", "tool", "chat"] + ([] if good else ["function"])
    kind = draw(st.sampled_from(kinds))
    content = draw(good_lc_content if good else lc_content)
    if good and kind == "system" and not isinstance(content, str):
        content = [b for b in content if isinstance(b, str) or "image" not in b["type"]]
    try:
        if kind == "human":
            return HumanMessage(content=content, name=draw(st.none() | words))
        if kind == "ai":
            reasoning = text if good else any_value
            kwargs = draw(st.fixed_dictionaries({}, optional={"reasoning_content": reasoning}))
            calls = lc_good_call if good else lc_tool_call
            return AIMessage(
                content=content,
                tool_calls=draw(st.lists(calls, max_size=3)),
                invalid_tool_calls=draw(st.lists(lc_invalid_call, max_size=1)),
                additional_kwargs=kwargs,
            )
        if kind == "system":
            return SystemMessage(content=content)
        if kind == "tool":
            return ToolMessage(
                content=content, tool_call_id=draw(words if good else st.just("") | words)
            )
        if kind == "function":
            return FunctionMessage(content=content, name="f")
        roles = ["user", "assistant", "system", "developer"] + ([] if good else ["tool", "bard"])
        role = draw(st.sampled_from(roles))
        if good and role in ("system", "developer") and not isinstance(content, str):
            content = [b for b in content if isinstance(b, str) or "image" not in b["type"]]
        return ChatMessage(role=role, content=content)
    except ValidationError:
        assume(False)
        raise  # unreachable


def lc_expected(message: BaseMessage, send_reasoning: bool) -> list[str]:
    """Texts of the input that must reach the wire (output-only blocks excepted)."""
    content = message.content
    assistant = isinstance(message, AIMessage) or (
        isinstance(message, ChatMessage) and message.role in ("assistant", "ai")
    )
    texts: list[str] = []
    blocks = [content] if isinstance(content, str) else content
    for block in blocks:
        if isinstance(block, str):
            texts.append(block)
        elif block.get("type") in ("text", "text-plain") and isinstance(block.get("text"), str):
            texts.append(block["text"])
        elif not assistant and block.get("type") in ("image_url", "input_image", "image"):
            image = block.get("image_url")
            url = image.get("url") if isinstance(image, dict) else image or block.get("url")
            texts.append(url if isinstance(url, str) else block.get("base64") or "")
            if block.get("source_type") == "base64":
                texts.append(block["data"])
            if isinstance(block.get("source"), dict):
                texts.append(block["source"]["data"])
        elif assistant and send_reasoning and block.get("type") in ("reasoning", "thinking"):
            reasoning = message.additional_kwargs.get("reasoning_content")
            if not (isinstance(reasoning, str) and reasoning):
                texts.append(block.get(block["type"]) or "")
    if isinstance(message, AIMessage):
        texts += [call["name"] for call in message.tool_calls]
        reasoning = message.additional_kwargs.get("reasoning_content")
        if send_reasoning and isinstance(reasoning, str):
            texts.append(reasoning)
    return [t for t in texts if t]


@given(st.lists(lc_messages(), min_size=1, max_size=5), st.booleans())
@PROPERTY
def test_langchain_messages_convert_or_raise_typed(
    messages: list[BaseMessage], send_reasoning: bool
) -> None:
    error = typed_error(langchain_to_wire, messages, send_reasoning=send_reasoning)
    if error is not None:
        assert error.field.startswith("messages[")  # names the message at fault
        assert str(error).startswith(f"{error.field}: ")
        event("typed error")
        return
    wire = langchain_to_wire(messages, send_reasoning=send_reasoning)
    assert len(wire) == len(messages)
    for message, out in zip(messages, wire, strict=True):
        seen = "\x00".join(strings_in(out))
        for expected in lc_expected(message, send_reasoning):
            assert expected in seen, (expected, out)
        if isinstance(message, AIMessage):
            sent = out.get("tool_calls", [])
            assert len(sent) == len(message.tool_calls) + len(message.invalid_tool_calls)
            for call, wired in zip(message.tool_calls, sent, strict=False):
                assert json.loads(wired["function"]["arguments"]) == call["args"]
    assert_valid_for_the_service(wire)


@given(st.lists(lc_messages(good=True), min_size=1, max_size=5), st.booleans())
@PROPERTY
def test_langchain_messages_the_api_takes_always_convert(
    messages: list[BaseMessage], send_reasoning: bool
) -> None:
    wire = langchain_to_wire(messages, send_reasoning=send_reasoning)  # never raises
    for message, out in zip(messages, wire, strict=True):
        seen = "\x00".join(strings_in(out))
        for expected in lc_expected(message, send_reasoning):
            assert expected in seen, (expected, out)
    assert_valid_for_the_service(wire, good=True)


# -- LlamaIndex -----------------------------------------------------------------------------

li_image = st.one_of(
    st.builds(lambda u: ImageBlock(url=u), good_urls | bad_urls.filter(lambda u: ":" in u)),
    st.builds(
        lambda raw, mime: ImageBlock(image=raw, image_mimetype=mime),
        st.sampled_from([b"\x89PNG\r\n\x1a\n0000", b"GIF89a0000", b"not an image"]),
        st.none() | st.just("image/png"),
    ),
)
li_block = st.one_of(
    st.builds(TextBlock, text=text),
    st.builds(TextBlock, text=text),
    li_image,
    st.builds(ThinkingBlock, content=st.none() | text),
    st.builds(
        ToolCallBlock,
        tool_call_id=st.none() | words,
        tool_name=tool_names | text,
        tool_kwargs=st.dictionaries(text, json_value | odd_value, max_size=3) | text,
    ),
    st.builds(lambda t: CitableBlock(title="doc", source="s", content=[TextBlock(text=t)]), text),
    st.builds(
        lambda t: CitationBlock(
            cited_content=TextBlock(text=t), source="s", title="t", additional_location_info={}
        ),
        text,
    ),
    st.just(CachePoint(cache_control=CacheControl(type="ephemeral"))),
    st.just(AudioBlock(audio=b"RIFF0000WAVE", format="wav")),
    st.just(DocumentBlock(data=b"%PDF-1.4", document_mimetype="application/pdf")),
)
legacy_call = st.one_of(
    st.builds(
        lambda i, n, a: {"id": i, "type": "function", "function": {"name": n, "arguments": a}},
        st.none() | words,
        tool_names,
        text | st.dictionaries(text, json_value, max_size=2),
    ),
    any_value,
    st.builds(lambda f: {"id": "x", "function": f}, any_value),
)
li_kwargs = st.fixed_dictionaries(
    {},
    optional={
        "tool_calls": st.lists(legacy_call, max_size=2) | any_value,
        "tool_call_id": st.none() | words | any_value,
        "reasoning_content": any_value,
    },
)


good_li_block = st.one_of(
    st.builds(TextBlock, text=text),
    st.builds(TextBlock, text=text),
    st.builds(lambda u: ImageBlock(url=u), good_urls),
    st.builds(ThinkingBlock, content=st.none() | text),
    st.builds(
        ToolCallBlock,
        tool_call_id=st.none() | words,
        tool_name=tool_names,
        tool_kwargs=st.dictionaries(text, json_value, max_size=3),
    ),
    st.just(CachePoint(cache_control=CacheControl(type="ephemeral"))),
)


@st.composite
def li_messages(draw: st.DrawFn, good: bool = False) -> LlamaMessage:
    """Any message; ``good``: only forms the API can take (the conversion must succeed)."""
    role = draw(st.sampled_from(list(MessageRole)))
    if not good:
        blocks, kwargs = draw(st.lists(li_block, max_size=4)), draw(li_kwargs)
    else:
        blocks = draw(st.lists(good_li_block, max_size=4))
        kwargs = {"tool_call_id": draw(words)} if role in ("tool", "function") else {}
        if role not in ("user",):  # images only in user turns
            blocks = [b for b in blocks if not isinstance(b, ImageBlock)]
    return LlamaMessage(role=role, blocks=blocks, additional_kwargs=kwargs)


def li_expected(message: LlamaMessage, send_reasoning: bool) -> list[str]:
    assistant = message.role in (MessageRole.ASSISTANT, MessageRole.CHATBOT, MessageRole.MODEL)
    texts: list[str] = []
    for block in message.blocks:
        if isinstance(block, TextBlock):
            texts.append(block.text)
        elif isinstance(block, (CitableBlock, CitationBlock)):
            texts += [b.text for b in block.nested_blocks if isinstance(b, TextBlock)]
        elif isinstance(block, ImageBlock) and block.url is not None:
            if message.role not in (MessageRole.TOOL, MessageRole.FUNCTION):
                texts.append(str(block.url))
            elif not str(block.url).startswith("data:"):
                texts.append(str(block.url))  # named in the note that stands for it
        elif assistant and isinstance(block, ToolCallBlock):
            texts.append(block.tool_name)
        elif assistant and send_reasoning and isinstance(block, ThinkingBlock):
            texts.append(block.content or "")
    return [t for t in texts if t]


@given(st.lists(li_messages(), min_size=1, max_size=5), st.booleans())
@PROPERTY
def test_llama_index_messages_convert_or_raise_typed(
    messages: list[LlamaMessage], send_reasoning: bool
) -> None:
    error = typed_error(llama_to_wire, messages, send_reasoning=send_reasoning)
    if error is not None:
        assert str(error).startswith(f"{error.field}: ")
        event("typed error")
        return
    wire = llama_to_wire(messages, send_reasoning=send_reasoning)
    assert len(wire) == len(messages)
    for message, out in zip(messages, wire, strict=True):
        seen = "\x00".join(strings_in(out))
        for expected in li_expected(message, send_reasoning):
            assert expected in seen, (expected, out)
        calls = [b for b in message.blocks if isinstance(b, ToolCallBlock)]
        if out["role"] == "assistant" and calls:
            assert len(out["tool_calls"]) == len(calls)
            for block, wired in zip(calls, out["tool_calls"], strict=True):
                if isinstance(block.tool_kwargs, dict):
                    assert json.loads(wired["function"]["arguments"]) == block.tool_kwargs
                else:
                    assert wired["function"]["arguments"] == block.tool_kwargs
        images = [b for b in message.blocks if isinstance(b, ImageBlock)]
        parts = out["content"] if isinstance(out["content"], list) else []
        if out["role"] == "tool":  # tool results are text: one note per image
            assert not [p for p in parts if p["type"] == "image_url"]
            assert seen.count("[image omitted: ") == len(images), out
        else:
            assert len([p for p in parts if p["type"] == "image_url"]) == len(images)
    assert_valid_for_the_service(wire)


@given(st.lists(li_messages(good=True), min_size=1, max_size=5), st.booleans())
@PROPERTY
def test_llama_index_messages_the_api_takes_always_convert(
    messages: list[LlamaMessage], send_reasoning: bool
) -> None:
    wire = llama_to_wire(messages, send_reasoning=send_reasoning)  # never raises
    for message, out in zip(messages, wire, strict=True):
        seen = "\x00".join(strings_in(out))
        for expected in li_expected(message, send_reasoning):
            assert expected in seen, (expected, out)
    assert_valid_for_the_service(wire, good=True)
