"""Step 2: a ``.bind_tools()`` agent loop that calls a tool and answers from its result.

The loop is the plain one LangChain's docs teach: call the model with the tools bound;
while it asks for tool calls, run them and send the results back as ``ToolMessage``s.
Each turn is streamed, so the reasoning and the tool call show as they arrive.
"""

from __future__ import annotations

import json
from typing import Any

from langchain_core.messages import AIMessageChunk, BaseMessage, HumanMessage
from langchain_core.tools import tool

from powertokens import model_info

from .context import Context

__all__ = ["get_model_limits", "run"]

QUESTION = 'What are the context window and the output limit of the model "glm-4.7"?'
MAX_TURNS = 4


@tool
def get_model_limits(model: str) -> str:
    """Look up the context window, the output limit and the thinking default of a GLM
    model served by PowerTokens."""
    info = model_info(model)
    if not info.known:
        return f"{model} is not a model this catalog knows."
    return (
        f"{info.name} has a context window of {info.context_window:,} tokens, writes at most "
        f"{info.max_output_tokens:,} output tokens, and its thinking is {info.thinking_default} "
        "by default"
    )


def _arguments(args: dict[str, Any]) -> str:
    return ", ".join(f"{k}={json.dumps(v, ensure_ascii=False)}" for k, v in args.items())


def run(ctx: Context) -> None:
    console = ctx.console
    tools = {"get_model_limits": get_model_limits}
    model = ctx.chat_model().bind_tools(list(tools.values()))
    console.label("tools", "get_model_limits(model: str), bound with .bind_tools()")
    console.label("question", QUESTION)
    messages: list[BaseMessage] = [HumanMessage(QUESTION)]
    for turn in range(1, MAX_TURNS + 1):
        streamer = console.streamer(f"{ctx.model} (turn {turn})")
        reply: BaseMessage | None = None
        try:
            for chunk in model.stream(messages):
                streamer.reasoning(chunk.additional_kwargs.get("reasoning_content", ""))
                streamer.answer(chunk.text)
                reply = chunk if reply is None else reply + chunk
        finally:
            streamer.close()
        assert isinstance(reply, AIMessageChunk)  # a stream always ends with a last chunk
        messages.append(reply)
        if not reply.tool_calls:
            console.note(
                f"{turn} model turns; the answer came from the tool's result, "
                "sent back as a ToolMessage."
            )
            return
        for call in reply.tool_calls:
            console.label("tool call", f"{call['name']}({_arguments(call['args'])})", "yellow")
            result = tools[call["name"]].invoke(call)  # a ToolMessage with the call's id
            console.label("result", str(result.content), "yellow")
            messages.append(result)
    console.note(f"stopped after {MAX_TURNS} turns without a final answer")
