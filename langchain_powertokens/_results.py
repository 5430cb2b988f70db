"""Pure conversion of answers to LangChain: a whole completion to a ``ChatResult``,
stream deltas to ``ChatGenerationChunk``s. The core hands both over already cut at
the stop sequences, with the completion id and model on every delta.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, cast

from langchain_core.messages import AIMessage, AIMessageChunk, InvalidToolCall, ToolCall
from langchain_core.messages.ai import UsageMetadata
from langchain_core.messages.tool import invalid_tool_call, tool_call, tool_call_chunk
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult

from powertokens import ChatCompletion, StreamDelta, Usage
from powertokens import ToolCall as WireToolCall

__all__ = [
    "PROVIDER",
    "REFUSAL_TEXT",
    "USAGE_UNKNOWN",
    "ChunkBuilder",
    "chat_result",
    "parse_tool_calls",
    "usage_metadata",
]

PROVIDER = "powertokens"
"""``response_metadata["model_provider"]``: selects this package's block translator."""

REFUSAL_TEXT = "The service's content filter blocked the output (finish_reason='sensitive')."

USAGE_UNKNOWN = "stopped at a client-side stop sequence"
"""``response_metadata["usage_unknown"]`` of a stream that a stop sequence the service
was not sent ended on the client: the connection is closed at once (reading on would
wait for, and bill, text nobody wants), so the usage the service sends last never came.
``usage_metadata`` is then None rather than a guess."""


def usage_metadata(usage: Usage) -> UsageMetadata:
    """LangChain usage from the wire's; details only when the service reported them."""
    result: dict[str, Any] = {
        "input_tokens": usage.prompt_tokens,
        "output_tokens": usage.completion_tokens,
        "total_tokens": usage.total_tokens,
    }
    if usage.prompt_tokens_details is not None:
        result["input_token_details"] = {"cache_read": usage.prompt_tokens_details.cached_tokens}
    if usage.completion_tokens_details is not None:
        result["output_token_details"] = {
            "reasoning": usage.completion_tokens_details.reasoning_tokens
        }
    return cast("UsageMetadata", result)


def parse_tool_calls(
    calls: Sequence[WireToolCall],
) -> tuple[list[ToolCall], list[InvalidToolCall]]:
    """Valid and invalid tool calls; arguments that are not a JSON object are invalid."""
    valid: list[ToolCall] = []
    invalid: list[InvalidToolCall] = []
    for call in calls:
        name, text = call.function.name, call.function.arguments
        try:
            args = json.loads(text) if text.strip() else {}
        except (ValueError, RecursionError) as exc:  # nested too deep: not usable JSON
            invalid.append(
                invalid_tool_call(
                    name=name, args=text, id=call.id or None, error=f"invalid JSON: {exc}"
                )
            )
            continue
        if isinstance(args, dict):
            valid.append(tool_call(name=name, args=args, id=call.id or None))
        else:
            invalid.append(
                invalid_tool_call(
                    name=name, args=text, id=call.id or None, error="not a JSON object"
                )
            )
    return valid, invalid


def _response_metadata(
    model: str,
    finish_reason: str | None,
    response_id: str,
    request_id: str | None,
    exhausted: bool = False,
) -> dict[str, Any]:
    metadata: dict[str, Any] = {
        "model_provider": PROVIDER,
        "model_name": model,
        "finish_reason": finish_reason,
    }
    if response_id:
        metadata["id"] = response_id
    if request_id:
        metadata["request_id"] = request_id
    if finish_reason == "sensitive":
        metadata["refusal"] = REFUSAL_TEXT
    if exhausted:  # the thinking used up max_tokens: see ThinkingBudgetWarning
        metadata["thinking_exhausted_budget"] = True
    return metadata


def chat_result(completion: ChatCompletion) -> ChatResult:
    """A whole answer as a :class:`ChatResult`."""
    message = completion.message
    calls = message.tool_calls or []
    reasoning = message.reasoning_content
    usage = completion.usage
    fields: dict[str, Any] = {}
    if calls:
        fields["tool_calls"], fields["invalid_tool_calls"] = parse_tool_calls(calls)
    ai = AIMessage(
        content=message.content or "",
        additional_kwargs={"reasoning_content": reasoning} if reasoning else {},
        usage_metadata=usage_metadata(usage) if usage is not None else None,
        response_metadata=_response_metadata(
            completion.model,
            completion.finish_reason,
            completion.id,
            completion.request_id,
            completion.thinking_exhausted_budget,
        ),
        id=completion.id or None,
        **fields,
    )
    if completion.fallback_from:  # the models that were overloaded (fallback_models)
        ai.response_metadata["fallback_from"] = list(completion.fallback_from)
    llm_output: dict[str, Any] = {"model_name": completion.model}
    if usage is not None:
        llm_output["token_usage"] = usage.model_dump(exclude_none=True)
    return ChatResult(generations=[ChatGeneration(message=ai)], llm_output=llm_output)


_PROVIDER_ONLY = {"model_provider": PROVIDER}


class ChunkBuilder:
    """Stream deltas in, LangChain chunks out; one per stream.

    Every delta with reasoning, text or tool-call pieces becomes one chunk; finish
    reason, usage, model name and ids go on one final chunk (``chunk_position="last"``)
    so that adding the chunks up counts each once.
    """

    __slots__ = ("_finish", "_id", "_model", "_usage")

    def __init__(self) -> None:
        self._id: str | None = None
        self._model = ""
        self._finish: str | None = None
        self._usage: Usage | None = None

    def add(self, delta: StreamDelta) -> ChatGenerationChunk | None:
        """The chunk for one delta, or None when it carried nothing to show."""
        self._id = delta.id or None
        self._model = delta.model
        if delta.finish_reason:
            self._finish = delta.finish_reason
        if delta.usage is not None:
            self._usage = delta.usage
        text = delta.content
        reasoning = delta.reasoning
        calls = delta.tool_calls
        if not (text or reasoning or calls):
            return None
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content=text,
                additional_kwargs={"reasoning_content": reasoning} if reasoning else {},
                tool_call_chunks=[
                    tool_call_chunk(name=c.name, args=c.arguments, id=c.id, index=c.index)
                    for c in calls
                ],
                response_metadata=dict(_PROVIDER_ONLY),
                id=self._id,
            )
        )

    def finish(self, completion: ChatCompletion | None) -> ChatGenerationChunk:
        """The last chunk: usage and response metadata (``usage_unknown`` when a
        client-side stop ended the stream before the usage came: see
        :data:`USAGE_UNKNOWN`)."""
        request_id = completion.request_id if completion is not None else None
        usage = self._usage
        exhausted = completion is not None and completion.thinking_exhausted_budget
        metadata = _response_metadata(
            self._model, self._finish, self._id or "", request_id, exhausted
        )
        if usage is None and completion is not None and completion.stopped_by_client:
            metadata["usage_unknown"] = USAGE_UNKNOWN
        if completion is not None and completion.fallback_from:
            metadata["fallback_from"] = list(completion.fallback_from)
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=usage_metadata(usage) if usage is not None else None,
                response_metadata=metadata,
                id=self._id,
                chunk_position="last",
            )
        )
