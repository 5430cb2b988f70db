"""Typed models of the wire format (docs/wire.md).

Requests are strict about shape (the limits themselves live in ``_validation``, so
that dicts and models are checked by one piece of code). Responses are lenient:
unknown fields are kept, ``object`` may be absent, ``content`` may be ``""`` or
null, and tool-call ``arguments`` may arrive as a JSON string or as an object.
"""

from __future__ import annotations

import json
import logging
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidatorFunctionWrapHandler,
    WrapValidator,
    field_validator,
)

from ._budget import thinking_exhausted_budget
from ._json import loads

__all__ = [
    "AssistantMessage",
    "ChatCompletion",
    "ChatCompletionChunk",
    "ChatCompletionMessage",
    "ChatCompletionRequest",
    "Choice",
    "ChoiceDelta",
    "ChunkChoice",
    "CompletionTokensDetails",
    "FunctionCall",
    "FunctionDefinition",
    "ImageURL",
    "ImageURLPart",
    "Message",
    "PromptTokensDetails",
    "SystemMessage",
    "TextPart",
    "Thinking",
    "Tool",
    "ToolCall",
    "ToolMessage",
    "Usage",
    "UserMessage",
]


class _Wire(BaseModel):
    """Request-side base: fields as documented, nothing invented."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    def to_wire(self) -> dict[str, Any]:
        """The JSON-ready dict sent to the service (unset fields left out)."""
        return self.model_dump(mode="json", exclude_none=True)


class _Lenient(BaseModel):
    """Response-side base: unknown fields are kept, not rejected."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


# --- request: messages ---------------------------------------------------------------


class TextPart(_Wire):
    type: Literal["text"] = "text"
    text: str


class ImageURL(_Wire):
    url: str
    """An ``http(s)://`` URL or a ``data:image/...;base64,`` URI."""


class ImageURLPart(_Wire):
    type: Literal["image_url"] = "image_url"
    image_url: ImageURL


ContentPart = TextPart | ImageURLPart


class FunctionCall(_Lenient):
    """A function call as the model wrote it; ``arguments`` is a JSON string."""

    name: str = ""
    arguments: str = ""

    @field_validator("arguments", mode="before")
    @classmethod
    def _arguments_as_json(cls, value: Any) -> Any:
        # Docs say object, the wire says string (docs/wire.md "Answers"): keep the string form.
        if value is None:
            return ""
        if isinstance(value, (dict, list)):
            return json.dumps(value, ensure_ascii=False)
        return value


class ToolCall(_Lenient):
    id: str = ""
    type: str = "function"
    function: FunctionCall = Field(default_factory=FunctionCall)

    def parsed_arguments(self) -> Any:
        """The arguments decoded from JSON (raises ``ValueError`` when invalid, nesting
        too deep included)."""
        text = self.function.arguments
        return loads(text) if text.strip() else {}


class SystemMessage(_Wire):
    role: Literal["system"] = "system"
    content: str | list[ContentPart]


class UserMessage(_Wire):
    role: Literal["user"] = "user"
    content: str | list[ContentPart]


class AssistantMessage(_Wire):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    role: Literal["assistant"] = "assistant"
    content: str | list[ContentPart] | None = None
    tool_calls: list[ToolCall] | None = None
    reasoning_content: str | None = None
    """The turn's thinking, sent back for interleaved thinking (docs/wire.md "Thinking")."""


class ToolMessage(_Wire):
    role: Literal["tool"] = "tool"
    tool_call_id: str
    content: str | list[ContentPart]


Message = SystemMessage | UserMessage | AssistantMessage | ToolMessage


# --- request: tools, thinking, the request -------------------------------------------


class FunctionDefinition(_Wire):
    name: str
    description: str | None = None
    parameters: dict[str, Any] | None = None


class Tool(_Wire):
    type: Literal["function"] = "function"
    function: FunctionDefinition


class Thinking(_Wire):
    type: Literal["enabled", "disabled"]
    clear_thinking: bool | None = None


class ChatCompletionRequest(_Wire):
    """The request body. Limits are checked by the client before sending."""

    model: str
    messages: list[Message]
    stream: bool | None = None
    thinking: Thinking | None = None
    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: list[str] | None = None
    tools: list[Tool] | None = None
    tool_choice: Literal["auto"] | None = None


# --- responses -----------------------------------------------------------------------


_Count = Annotated[int, Field(ge=0, strict=True)]
"""A token count: a JSON integer >= 0 (not a string, a float, a bool or null)."""


class PromptTokensDetails(_Lenient):
    cached_tokens: _Count = 0


class CompletionTokensDetails(_Lenient):
    reasoning_tokens: _Count = 0


class Usage(_Lenient):
    """Token counts. An answer whose ``usage`` is malformed (a count that is not an
    integer >= 0, or not an object at all) gets ``usage=None``, as if it had none,
    with a warning logged: the answer itself is fine (``parse_usage``)."""

    prompt_tokens: _Count = 0
    completion_tokens: _Count = 0
    total_tokens: _Count = 0
    prompt_tokens_details: PromptTokensDetails | None = None
    completion_tokens_details: CompletionTokensDetails | None = None

    @property
    def cached_tokens(self) -> int:
        details = self.prompt_tokens_details
        return details.cached_tokens if details is not None else 0

    @property
    def reasoning_tokens(self) -> int:
        details = self.completion_tokens_details
        return details.reasoning_tokens if details is not None else 0


log = logging.getLogger("powertokens")


def _ignored(value: Any) -> None:
    shown = repr(value)
    if len(shown) > 200:
        shown = shown[:197] + "..."
    log.warning("the answer's usage is malformed and was ignored (usage=None): %s", shown)


def _usage_or_none(value: Any, handler: ValidatorFunctionWrapHandler) -> Usage | None:
    try:
        usage: Usage | None = handler(value)
    except ValidationError:
        _ignored(value)
        return None
    return usage


_MaybeUsage = Annotated[Usage | None, WrapValidator(_usage_or_none)]
"""The ``usage`` of an answer or chunk: None when absent or malformed."""


def parse_usage(value: Any) -> Usage | None:
    """A chunk's raw ``usage`` as a :class:`Usage`, or None when it is malformed."""
    try:
        return Usage.model_validate(value)
    except ValidationError:
        _ignored(value)
        return None


class ChatCompletionMessage(_Lenient):
    role: str = "assistant"
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[ToolCall] | None = None


class Choice(_Lenient):
    index: int = 0
    message: ChatCompletionMessage = Field(default_factory=ChatCompletionMessage)
    finish_reason: str | None = None


class ChatCompletion(_Lenient):
    """A non-stream answer, or the final result of a stream."""

    id: str = ""
    object: str | None = None
    created: int | None = None
    model: str = ""
    request_id: str | None = None
    choices: list[Choice] = Field(default_factory=list)
    usage: _MaybeUsage = None
    stopped_by_client: bool = Field(default=False, exclude=True)
    """True when the client ended the answer at a stop sequence the service did not
    apply (``chat()``/``stream()`` take several, the API one: the others are enforced
    here). A stream then closes its connection at once rather than wait for, and pay
    for, text nobody wants, so its ``usage`` is None: unknown, not zero. Not part of the
    wire format (left out of ``model_dump``)."""
    fallback_from: list[str] = Field(default_factory=list, exclude=True)
    """The models tried first and found overloaded (1312) after their retries, in
    order, when ``fallback_models`` answered; ``model`` is the one that did. Empty when
    the model asked for answered. Not part of the wire format."""

    @property
    def message(self) -> ChatCompletionMessage:
        """The first choice's message (the service returns exactly one)."""
        return self.choices[0].message if self.choices else ChatCompletionMessage()

    @property
    def content(self) -> str:
        return self.message.content or ""

    @property
    def reasoning_content(self) -> str:
        """The model's thinking; ``""`` when there was none (absent, null and ``""`` alike)."""
        return self.message.reasoning_content or ""

    @property
    def finish_reason(self) -> str | None:
        return self.choices[0].finish_reason if self.choices else None

    @property
    def thinking_exhausted_budget(self) -> bool:
        """True when the thinking used up ``max_tokens``: the answer finished by
        "length" with reasoning and neither text nor a tool call. The client then warns
        (:class:`~powertokens.ThinkingBudgetWarning`); the remedy is a larger
        ``max_tokens``, or ``thinking=False`` for that call."""
        if not self.choices:
            return False
        choice = self.choices[0]
        message = choice.message
        return thinking_exhausted_budget(
            choice.finish_reason, message.content, message.reasoning_content, message.tool_calls
        )


class ChoiceDelta(_Lenient):
    role: str | None = None
    content: str | None = None
    reasoning_content: str | None = None
    tool_calls: list[dict[str, Any]] | None = None


class ChunkChoice(_Lenient):
    index: int = 0
    delta: ChoiceDelta = Field(default_factory=ChoiceDelta)
    finish_reason: str | None = None


class ChatCompletionChunk(_Lenient):
    """One stream event, typed. The stream itself hands out lighter ``StreamDelta``s."""

    id: str = ""
    object: str | None = None
    created: int | None = None
    model: str = ""
    choices: list[ChunkChoice] = Field(default_factory=list)
    usage: _MaybeUsage = None
