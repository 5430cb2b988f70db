"""``with_structured_output`` on an API whose only ``tool_choice`` is "auto".

The schema is offered as the one tool, the model is asked (in the system prompt) to
call it, and the answer is read from the tool call. When the model answers in text
instead, the first JSON object in the text is used; when there is none, a clear
:class:`~langchain_core.exceptions.OutputParserException` is raised. Every ``method``
("function_calling", "json_schema", "json_mode") and ``strict`` value is accepted: the
API has neither ``response_format`` nor strict schemas, so they all take this road.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from langchain_core.exceptions import ModelRefusalError, OutputParserException
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, BaseMessageChunk
from langchain_core.output_parsers.transform import BaseCumulativeTransformOutputParser
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, Generation, GenerationChunk
from langchain_core.runnables import Runnable, RunnableMap, RunnablePassthrough
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import ValidationError

from powertokens.lib import extract_json

from ._errors import thinking_budget_error
from ._tools import format_tool

if TYPE_CHECKING:
    from langchain_core.language_models import BaseChatModel, LanguageModelInput

__all__ = ["ToolOrJsonTextParser", "structured_output"]

METHODS = ("function_calling", "json_schema", "json_mode")


class ToolOrJsonTextParser(BaseCumulativeTransformOutputParser[Any]):
    """The schema's tool call arguments, else the JSON object in the text.

    Validated into ``pydantic_schema`` when one is given (pydantic 2 or 1 models),
    returned as a dict otherwise.

    Streamed (``.stream()``/``.astream()``), it yields growing partial results while
    the tool arguments arrive, as langchain-openai's tool parsers do: a dict each time
    the partial JSON adds something; a pydantic object each time the partial arguments
    validate (so once every required field has begun) and change. The last result is
    the whole answer, parsed as ``invoke`` would (errors included).
    """

    tool_name: str | None = None
    """The schema's tool; ``None`` reads JSON from the text only (json_mode, no schema)."""
    pydantic_schema: Any = None
    """The pydantic class to validate into, or ``None`` for a dict result."""

    def parse(self, text: str) -> Any:
        return self.parse_result([Generation(text=text)])

    def parse_result(self, result: list[Generation], *, partial: bool = False) -> Any:
        generation = result[0]
        if partial:
            return self._partial(generation)
        if isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage):
            message = generation.message
            _raise_if_refused(message)
            if (error := thinking_budget_error(message, self._wanted)) is not None:
                raise error
            data, text = self._from_message(message)
        else:
            text = generation.text
            data = self._from_text(text)
        return self._validate(data, text)

    @property
    def _wanted(self) -> str:
        return f"call of the {self.tool_name} tool" if self.tool_name else "JSON object"

    def _partial(self, generation: Generation) -> Any:
        """The result so far, or None while there is nothing (valid) to show."""
        if not (
            isinstance(generation, ChatGeneration) and isinstance(generation.message, AIMessage)
        ):
            return None
        calls = generation.message.tool_calls  # a chunk's calls: partial JSON, parsed
        args = next((c["args"] for c in calls if c["name"] == self.tool_name), None)
        if not isinstance(args, dict) or not args:
            return None
        try:
            return self._validate(args, "")
        except OutputParserException:
            return None  # not valid yet: wait for more arguments

    def _transform(self, input: Iterator[str | BaseMessage]) -> Iterator[Any]:
        prev: Any = None
        acc: ChatGenerationChunk | GenerationChunk | None = None
        for chunk in input:
            acc = _add(acc, chunk)
            parsed = self.parse_result([acc], partial=True)
            if parsed is not None and parsed != prev:
                prev = parsed
                yield parsed
        if acc is not None and (final := self.parse_result([acc])) != prev:
            yield final  # the whole answer, parsed strictly (raises like invoke)

    async def _atransform(self, input: AsyncIterator[str | BaseMessage]) -> AsyncIterator[Any]:
        prev: Any = None
        acc: ChatGenerationChunk | GenerationChunk | None = None
        async for chunk in input:
            acc = _add(acc, chunk)
            parsed = self.parse_result([acc], partial=True)
            if parsed is not None and parsed != prev:
                prev = parsed
                yield parsed
        if acc is not None and (final := self.parse_result([acc])) != prev:
            yield final

    def _from_message(self, message: AIMessage) -> tuple[Any, str]:
        calls = message.tool_calls
        if calls:
            for call in calls:
                if call["name"] == self.tool_name:
                    return call["args"], ""
            return calls[0]["args"], ""
        for bad in message.invalid_tool_calls:
            raw = bad.get("args") or ""
            try:
                return extract_json(raw), raw
            except ValueError:
                raise OutputParserException(
                    f"The model called the {bad.get('name')} tool with arguments that are "
                    f"not JSON: {raw[:200]!r}",
                    llm_output=raw,
                ) from None
        text = message.text
        return self._from_text(text), text

    def _from_text(self, text: str) -> Any:
        try:
            data = extract_json(text)
        except ValueError:
            if self.tool_name:
                why = f"The model answered in text instead of calling the {self.tool_name} tool"
            else:
                why = "The model's answer"
            raise OutputParserException(
                f"{why}, and the text holds no JSON object: {text[:200]!r}",
                llm_output=text,
            ) from None
        return _unwrap(data, self.tool_name)

    def _validate(self, data: Any, text: str) -> Any:
        schema = self.pydantic_schema
        if schema is None:
            if not isinstance(data, dict):
                raise OutputParserException(
                    f"Expected a JSON object, got {type(data).__name__}",
                    llm_output=text or json.dumps(data, ensure_ascii=False),
                )
            return data
        try:
            if hasattr(schema, "model_validate"):
                return schema.model_validate(data)
            return schema.parse_obj(data)  # pydantic.v1 model
        except (ValidationError, TypeError, ValueError) as exc:
            raise OutputParserException(
                f"The model's output does not match {schema.__name__}: {exc}",
                llm_output=text or json.dumps(data, ensure_ascii=False, default=str),
            ) from exc


def _add(
    acc: ChatGenerationChunk | GenerationChunk | None, chunk: str | BaseMessage
) -> ChatGenerationChunk | GenerationChunk:
    """The running sum of a stream's chunks, as a generation."""
    piece: ChatGenerationChunk | GenerationChunk
    if isinstance(chunk, BaseMessageChunk):
        piece = ChatGenerationChunk(message=chunk)
    elif isinstance(chunk, BaseMessage):
        piece = ChatGenerationChunk(message=AIMessageChunk(**chunk.model_dump(exclude={"type"})))
    else:
        piece = GenerationChunk(text=chunk)
    return piece if acc is None else acc + piece  # type: ignore[operator]


def _unwrap(data: Any, tool_name: str | None) -> Any:
    """Models that answer in text often write the call itself: take its arguments."""
    if not isinstance(data, dict) or tool_name is None:
        return data
    if data.get("name") == tool_name:
        for key in ("arguments", "parameters", "args"):
            inner = data.get(key)
            if isinstance(inner, dict):
                return inner
    if len(data) == 1 and isinstance(data.get(tool_name), dict):
        return data[tool_name]
    return data


def _raise_if_refused(message: AIMessage) -> None:
    if message.response_metadata.get("finish_reason") != "sensitive":
        return
    for block in message.content_blocks:
        if block["type"] == "refusal":
            raise ModelRefusalError.from_refusal(block, raw_message=message)


def structured_output(
    model: BaseChatModel,
    schema: dict[str, Any] | type | None,
    *,
    method: str,
    include_raw: bool,
    strict: bool | None,
    kwargs: dict[str, Any],
) -> Runnable[LanguageModelInput, Any]:
    """The runnable behind ``ChatPowerTokens.with_structured_output``."""
    if kwargs:
        raise ValueError(f"Received unsupported arguments {kwargs}")
    if method not in METHODS:
        raise ValueError(f"method: must be one of {', '.join(METHODS)} (got {method!r})")
    llm: Runnable[LanguageModelInput, Any]
    if schema is None:
        if method != "json_mode":
            raise ValueError(f"schema is required for method={method!r}")
        llm, parser = model, ToolOrJsonTextParser()
    else:
        tool = format_tool(schema)
        name = tool["function"]["name"]
        llm = model.bind(
            tools=[tool],
            tool_choice={"type": "function", "function": {"name": name}},
            ls_structured_output_format={
                "kwargs": {"method": method, "strict": strict},
                "schema": schema,
            },
        )
        pydantic_schema = (
            schema if isinstance(schema, type) and is_basemodel_subclass(schema) else None
        )
        parser = ToolOrJsonTextParser(tool_name=name, pydantic_schema=pydantic_schema)
    if not include_raw:
        return llm | parser
    parse = RunnablePassthrough.assign(
        parsed=itemgetter("raw") | parser, parsing_error=lambda _: None
    )
    no_parse = RunnablePassthrough.assign(parsed=lambda _: None)
    return RunnableMap(raw=llm) | parse.with_fallbacks([no_parse], exception_key="parsing_error")
