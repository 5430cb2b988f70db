"""The ReAct text protocol (LlamaIndex ``ReActAgent``): tools described in the system prompt.

When the system prompt lists tools as ``> Tool Name: <name>`` / ``Tool Description:`` /
``Tool Args: <JSON schema>`` blocks and asks for ``Action Input:`` lines, the model answers
in that text format instead of with native tool calls:

- the conversation ends with an ``Observation: <result>`` message: ``Thought: I can answer
  without using any more tools. ...`` then ``Answer: According to <tool>: <result>.``;
- a tool fits the question (same rules as native tool calls, see :mod:`.tools`):
  ``Thought: ... I need to use a tool ...``, ``Action: <name>``, ``Action Input: <JSON>``;
- otherwise ``Thought: ...`` and ``Answer: <the usual answer>``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from .answers import context_answer, message_text
from .tools import ToolSpec, plan_calls

__all__ = ["react_reply", "react_tools"]

_TOOL_BLOCK = re.compile(
    r"^> Tool Name: (?P<name>[^\n]+)\nTool Description: (?P<description>.*?)\n"
    r"Tool Args: (?P<args>[^\n]*)$",
    re.M | re.S,
)
_ACTION = re.compile(r"^Action: *([^\n]+)$", re.M)
_OBSERVATION = "Observation:"
_CAN_ANSWER = (
    "Thought: I can answer without using any more tools. I'll use the user's language to answer"
)
_USE_TOOL = (
    "Thought: The current language of the user is: English. "
    "I need to use a tool to help me answer the question."
)


def react_tools(system_text: str) -> list[ToolSpec] | None:
    """The tools a ReAct system prompt describes, or None when it is not one."""
    if "Action Input:" not in system_text or "> Tool Name:" not in system_text:
        return None
    tools: list[ToolSpec] = []
    for match in _TOOL_BLOCK.finditer(system_text):
        try:
            schema = json.loads(match.group("args"))
        except ValueError:
            schema = {}
        tools.append(
            ToolSpec(
                match.group("name").strip(),
                match.group("description").strip(),
                schema if isinstance(schema, dict) else {},
            )
        )
    return tools


def _is_observation(message: dict[str, Any]) -> bool:
    return message_text(message).lstrip().startswith(_OBSERVATION)


def react_reply(
    messages: list[dict[str, Any]], tools: list[ToolSpec], seed: int
) -> tuple[str, str]:
    """(content, reasoning) in the ReAct text format."""
    last = messages[-1]
    if _is_observation(last):
        observation = message_text(last).lstrip()[len(_OBSERVATION) :].strip()
        actions = [
            _ACTION.findall(message_text(m)) for m in messages if m.get("role") == "assistant"
        ]
        named = [a for found in actions for a in found]
        tool = named[-1].strip() if named else "the tool"
        end = "" if observation.endswith((".", "!", "?")) else "."
        said = f"According to {tool}: {observation}{end}"
        return f"{_CAN_ANSWER}\nAnswer: {said}", "The observation answers the question."
    conversation = [
        m
        for m in messages
        if m.get("role") != "system" and not _is_observation(m) and m.get("role") != "assistant"
    ]
    question = message_text(conversation[-1]) if conversation else ""
    calls = plan_calls(tools, question, "")
    if calls:
        call = calls[0]
        arguments = json.dumps(call.arguments, ensure_ascii=False)
        content = f"{_USE_TOOL}\nAction: {call.name}\nAction Input: {arguments}"
        return content, f"The tool {call.name} can answer this; I will call it."
    found, _ = context_answer(conversation, question, seed)
    return f"{_CAN_ANSWER}\nAnswer: {found.text}", found.reasoning
