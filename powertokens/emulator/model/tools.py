"""Tool calling for the emulator's model: whether to call, which tool, with what arguments.

Pure functions. A tool is called when the last user text

- mentions its name (case-insensitive; ``get_weather`` also matches "get weather"), or
  a meaningful word of its name ("weather"), or shares two or more meaningful words with
  its description; or
- no tool is mentioned and the tool's description lists choices (LlamaIndex's hand-off
  tool and its agents) one of which the text names or fits (a tool that does the work
  itself wins over one that hands the request on); or
- exactly one tool is offered and the user text or system prompt asks to extract,
  structure or format something, to "use" or "call" a tool, or the text already holds
  values for all of the tool's required parameters.

Arguments are filled by field name from the tool's JSON schema and the user text (see
:mod:`.fields`). When the tool has a single required string property and the text lists
several names ("Paris and London"), one call per name is planned (parallel calls).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .fields import fill_arguments, resolve, type_of
from .text import content_words, proper_names
from .text_values import GENERIC_NAME_WORDS, choose, listed_choices, name_words

__all__ = ["PlannedCall", "ToolSpec", "fill_arguments", "parse_tools", "plan_calls"]

_DIRECTIVE = re.compile(
    r"\b(?:extract|structured?|format(?:ted)?|use (?:the |a |this )?(?:tool|function)|call)\b",
    re.I,
)
_LIST_GLUE = re.compile(r"^\s*(?:,|and|or|&|,\s*and|,\s*or)\s*$", re.I)


@dataclass(frozen=True)
class ToolSpec:
    """One offered function tool."""

    name: str
    description: str
    parameters: dict[str, Any]


@dataclass(frozen=True)
class PlannedCall:
    """A call the model decided to make."""

    name: str
    arguments: dict[str, Any]


def parse_tools(raw: object) -> list[ToolSpec]:
    """Read the request's ``tools`` list (already validated) into :class:`ToolSpec`."""
    specs: list[ToolSpec] = []
    if not isinstance(raw, list):
        return specs
    for item in raw:
        function = item.get("function") if isinstance(item, dict) else None
        if not isinstance(function, dict):
            continue
        params = function.get("parameters")
        specs.append(
            ToolSpec(
                name=str(function.get("name", "")),
                description=str(function.get("description") or ""),
                parameters=params if isinstance(params, dict) else {},
            )
        )
    return specs


def _mentioned(tool: ToolSpec, text: str) -> bool:
    low = text.lower()
    words = set(content_words(text))
    if tool.name.lower() in low or " ".join(name_words(tool.name)) in low:
        return True
    own = [w for w in content_words(" ".join(name_words(tool.name))) if w not in GENERIC_NAME_WORDS]
    if any(w in words for w in own):
        return True
    return len(set(content_words(tool.description)) & words) >= 2


def _fits_a_choice(tool: ToolSpec, text: str) -> bool:
    """Whether ``text`` names one of the choices the tool lists or what one of them does."""
    choices = listed_choices(tool.description)
    return bool(choices) and choose(choices, text)[0]


def _listed_names(text: str) -> list[str]:
    """Names written as a list ("Paris, Rome and London"), in text order.

    A list needs an "and"/"or"/"&": "San Francisco, CA" is one place, and a short
    all-caps name right after a comma ("CA") qualifies the name before it.
    """
    found = sorted((text.find(n), n) for n in proper_names(text) if text.find(n) >= 0)
    best: list[str] = []
    run: list[str] = []
    joined = False
    end = -1
    for start, name in found:
        glue = text[end:start] if run else ""
        if run and glue.strip() == "," and name.isupper() and len(name) <= 3:
            end = start + len(name)  # a qualifier such as a state code
            continue
        if run and _LIST_GLUE.match(glue):
            run.append(name)
            joined = joined or glue.strip() != ","
        else:
            run, joined = [name], False
        end = start + len(name)
        if joined and len(run) > len(best):
            best = list(run)
    return best if len(best) >= 2 else []


def _parallel(tool: ToolSpec, text: str) -> list[PlannedCall]:
    schema = resolve(tool.parameters, tool.parameters)
    required = schema.get("required")
    props = schema.get("properties")
    if not (isinstance(required, list) and len(required) == 1 and isinstance(props, dict)):
        return []
    prop = resolve(props.get(required[0]), tool.parameters)
    if type_of(prop) != "string" or "enum" in prop:
        return []
    return [PlannedCall(tool.name, {str(required[0]): name}) for name in _listed_names(text)]


def plan_calls(tools: list[ToolSpec], user_text: str, system_text: str) -> list[PlannedCall]:
    """Decide which tools to call for ``user_text`` and with which arguments."""
    chosen = [t for t in tools if t.name and _mentioned(t, user_text)]
    # A tool that does the work itself wins over one that hands the request on.
    chosen = [t for t in chosen if not listed_choices(t.description)] or chosen
    if not chosen:
        chosen = [t for t in tools if t.name and _fits_a_choice(t, user_text)][:1]
    if not chosen and len(tools) == 1:
        only = tools[0]
        _, fills = fill_arguments(only.parameters, user_text, listed_choices(only.description))
        if _DIRECTIVE.search(user_text) or _DIRECTIVE.search(system_text) or fills:
            chosen = [only]
    calls: list[PlannedCall] = []
    for tool in chosen:
        parallel = _parallel(tool, user_text)
        if parallel:
            calls.extend(parallel)
            continue
        args, _ = fill_arguments(tool.parameters, user_text, listed_choices(tool.description))
        calls.append(PlannedCall(tool.name, args))
    return calls
