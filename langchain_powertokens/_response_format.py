"""``response_format`` on an API that has none: over tool calling, like
``with_structured_output``.

``model.bind(response_format=...)`` (and ``create_agent(..., response_format=
ProviderStrategy(...))``, which binds an OpenAI-style ``{"type": "json_schema", ...}``)
take these forms:

* a pydantic class, a TypedDict or a JSON schema dict, or ``{"type": "json_schema",
  "json_schema": {"name", "schema", "description"?, "strict"?}}``: the schema is offered
  as one more tool. Alone, it is the forced ``tool_choice`` (the core asks for the call
  in the system prompt); beside the caller's tools, the system prompt asks for the final
  answer through it. The answer's call of that tool becomes the message's text (the
  arguments, as JSON) and ``additional_kwargs["parsed"]`` (the pydantic object, else
  the dict), the way langchain-openai reports a parsed answer, and the call itself is
  removed from ``tool_calls`` (LangChain's ``ProviderStrategy`` reads the JSON from the
  text, and only from a message without tool calls);
* ``{"type": "json_object"}``: the system prompt asks for one JSON object;
* ``{"type": "text"}`` or None: nothing to do.

When the model answers in text instead, the first JSON object in the text is used
(``content`` becomes that JSON; the text as written is kept in
``additional_kwargs["raw_text"]``). An answer with neither a call nor JSON (and no other
tool call) raises :class:`~langchain_core.exceptions.OutputParserException` at once,
rather than a JSON decode error later in the agent. Anything else as ``response_format``
is refused before sending.

Streams: the schema tool's argument pieces are yielded as text (no ``tool_call_chunks``
for it) and the last chunk carries ``additional_kwargs["parsed"]``; text the model wrote
before the call has already been yielded and stays in the streamed text.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from langchain_core.exceptions import OutputParserException
from langchain_core.messages import AIMessage, AIMessageChunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.utils.pydantic import is_basemodel_subclass
from pydantic import ValidationError

from powertokens import RequestValidationError
from powertokens.lib import extract_json

from ._errors import thinking_budget_error
from ._tools import format_tool, format_tools

__all__ = ["ResponseFormat", "take_response_format"]

_KINDS = (
    "a pydantic class, a TypedDict, a JSON schema, "
    '{"type": "json_schema", "json_schema": {...}}, {"type": "json_object"} or {"type": "text"}'
)
_JSON_ONLY = "Answer with one JSON object and nothing else."
_FINAL_BY_TOOL = (
    "When you give your final answer, give it as the arguments of the {name} tool; "
    "do not write it as plain text."
)


@dataclass(frozen=True)
class ResponseFormat:
    """One call's ``response_format``, resolved: the schema's tool (None for
    ``json_object``) and what to validate the answer into."""

    tool: dict[str, Any] | None
    pydantic_schema: Any = None

    @property
    def name(self) -> str | None:
        return self.tool["function"]["name"] if self.tool is not None else None

    # -- the request ------------------------------------------------------------------

    def apply(
        self, wire: list[dict[str, Any]], params: dict[str, Any], *, nudge: bool
    ) -> list[dict[str, Any]]:
        """Add the schema's tool to ``params`` (and the hint); returns the messages."""
        if self.tool is None:
            return _with_note(wire, _JSON_ONLY)
        others = format_tools(params.get("tools") or [])
        params["tools"] = [*others, self.tool]
        if not others and params.get("tool_choice") in (None, "auto", "any", "required", True):
            params["tool_choice"] = self.name  # forced: the core asks for the call
            params["tool_hint"] = nudge
            return wire
        return _with_note(wire, _FINAL_BY_TOOL.format(name=self.name)) if nudge else wire

    # -- the answer -------------------------------------------------------------------

    def result(self, result: ChatResult) -> ChatResult:
        """The answer with the schema's call (or JSON text) as text and ``parsed``."""
        generation = result.generations[0]
        message = generation.message
        if not isinstance(message, AIMessage):
            return result
        if (error := thinking_budget_error(message, self._wanted)) is not None:
            raise error
        calls = message.tool_calls
        mine = [c for c in calls if c["name"] == self.name] if self.name else []
        extra = dict(message.additional_kwargs)
        if mine:
            data = mine[0]["args"]
            if message.text:
                extra["raw_text"] = message.text
            rest = [c for c in calls if c is not mine[0]]
            content = json.dumps(data, ensure_ascii=False)
        elif calls:
            return result  # a step that calls the caller's tools: not the answer yet
        else:
            for bad in message.invalid_tool_calls:
                if bad.get("name") == self.name:
                    raise OutputParserException(
                        f"response_format: the model called {self.name} with arguments "
                        f"that are not a JSON object: {(bad.get('args') or '')[:200]!r}",
                        llm_output=bad.get("args") or "",
                    )
            data = self._json_in_text(message.text)
            content = json.dumps(data, ensure_ascii=False)
            if content != message.text:
                extra["raw_text"] = message.text
            rest = []
        extra["parsed"] = self._validate(data)
        updated = message.model_copy(
            update={"content": content, "tool_calls": rest, "additional_kwargs": extra}
        )
        generations = [ChatGeneration(message=updated, generation_info=generation.generation_info)]
        return ChatResult(generations=generations, llm_output=result.llm_output)

    @property
    def _wanted(self) -> str:
        return f"call of the {self.name} tool" if self.name else "JSON object"

    def stream_state(self) -> _StreamState:
        """The converter of one stream's chunks: the schema's argument pieces become
        text, and the last chunk carries ``parsed``."""
        return _StreamState(self)

    def _json_in_text(self, text: str) -> Any:
        try:
            data = extract_json(text)
        except ValueError:
            asked = f"the {self.name} tool" if self.name else "one JSON object"
            raise OutputParserException(
                f"response_format asked for {asked}, and the model answered in text "
                f"with no JSON object: {text[:200]!r}",
                llm_output=text,
            ) from None
        if self.name and isinstance(data, dict) and isinstance(data.get(self.name), dict):
            data = data[self.name]
        return data

    def _validate(self, data: Any) -> Any:
        schema = self.pydantic_schema
        if schema is None:
            return data
        try:
            return schema.model_validate(data)
        except ValidationError as exc:
            raise OutputParserException(
                f"response_format: the answer does not match {schema.__name__}: {exc}",
                llm_output=json.dumps(data, ensure_ascii=False, default=str),
            ) from exc


class _StreamState:
    """Routes the schema tool's pieces into text while a stream runs."""

    def __init__(self, fmt: ResponseFormat) -> None:
        self.fmt = fmt
        self.index: int | None = None  # the schema call's index, once seen
        self.other_calls = False
        self.text: list[str] = []  # all text yielded (the JSON, when the tool was called)
        self.args: list[str] = []

    def convert(self, chunk: ChatGenerationChunk) -> ChatGenerationChunk:
        message = chunk.message
        assert isinstance(message, AIMessageChunk)
        if message.chunk_position == "last":
            return self._last(chunk, message)
        pieces = message.tool_call_chunks
        if isinstance(message.content, str) and message.content:
            self.text.append(message.content)
        if not pieces:
            return chunk
        kept = []
        args = ""
        for piece in pieces:
            if self.index is None and self.fmt.name and piece.get("name") == self.fmt.name:
                self.index = piece.get("index")
            if self.index is not None and piece.get("index") == self.index:
                args += piece.get("args") or ""
            else:
                self.other_calls = True
                kept.append(piece)
        if len(kept) == len(pieces):
            return chunk
        self.args.append(args)
        content = (message.content if isinstance(message.content, str) else "") + args
        updated = AIMessageChunk(  # built anew: tool_calls are derived from the chunks
            content=content,
            additional_kwargs=message.additional_kwargs,
            response_metadata=message.response_metadata,
            tool_call_chunks=kept,
            id=message.id,
        )
        return ChatGenerationChunk(message=updated, generation_info=chunk.generation_info)

    def _last(self, chunk: ChatGenerationChunk, message: AIMessageChunk) -> ChatGenerationChunk:
        fmt = self.fmt
        if (error := thinking_budget_error(message, fmt._wanted)) is not None:
            raise error  # the flag is the whole answer's: no text and no call came
        if self.index is not None:
            text = "".join(self.args)
            try:
                data = json.loads(text) if text.strip() else {}
            except ValueError:
                raise OutputParserException(
                    f"response_format: the model called {fmt.name} with arguments that are "
                    f"not JSON: {text[:200]!r}",
                    llm_output=text,
                ) from None
        elif self.other_calls:
            return chunk  # a step that calls the caller's tools: not the answer yet
        else:
            data = fmt._json_in_text("".join(self.text))
        extra = {**message.additional_kwargs, "parsed": fmt._validate(data)}
        updated = message.model_copy(update={"additional_kwargs": extra})
        return ChatGenerationChunk(message=updated, generation_info=chunk.generation_info)


def _with_note(wire: list[dict[str, Any]], note: str) -> list[dict[str, Any]]:
    """``wire`` with ``note`` in the leading system message (or a new one first)."""
    first = wire[0] if wire else None
    if first is not None and first.get("role") == "system":
        content = first.get("content")
        if isinstance(content, str):
            return [{**first, "content": f"{content}\n\n{note}" if content else note}, *wire[1:]]
        if isinstance(content, list):
            return [{**first, "content": [*content, {"type": "text", "text": note}]}, *wire[1:]]
    return [{"role": "system", "content": note}, *wire]


def take_response_format(kwargs: dict[str, Any]) -> ResponseFormat | None:
    """Pop ``response_format`` from one call's kwargs and resolve it (see the module
    docstring); raises :class:`~powertokens.RequestValidationError` for a form the
    adapter cannot honour."""
    value = kwargs.pop("response_format", None)
    if value is None:
        return None
    if isinstance(value, Mapping) and "type" in value and "properties" not in value:
        kind = value.get("type")
        if kind == "text":
            return None
        if kind == "json_object":
            return ResponseFormat(None)
        spec = value.get("json_schema")
        if kind == "json_schema" and isinstance(spec, Mapping):
            schema = spec.get("schema")
            name = spec.get("name")
            if not isinstance(schema, Mapping) or not isinstance(name, str):
                raise RequestValidationError(
                    "response_format.json_schema", "needs a name and a schema object", value
                )
            function: dict[str, Any] = {"name": name}
            if description := spec.get("description"):
                function["description"] = description
            function["parameters"] = dict(schema)
            return ResponseFormat({"type": "function", "function": function})
        raise RequestValidationError("response_format", f"must be {_KINDS}", value)
    if isinstance(value, (Mapping, type)):
        try:
            tool = format_tool(value)
        except (TypeError, ValueError, KeyError) as exc:
            raise RequestValidationError("response_format", f"must be {_KINDS}", value) from exc
        pydantic = value if isinstance(value, type) and is_basemodel_subclass(value) else None
        if pydantic is not None and not hasattr(pydantic, "model_validate"):
            pydantic = None  # a pydantic.v1 model: the dict is returned
        return ResponseFormat(tool, pydantic)
    raise RequestValidationError("response_format", f"must be {_KINDS}", value)
