"""Tool calling for the emulator's model: whether to call, which tool, with what arguments.

Pure functions. A tool is called when the last user text

- mentions its name (case-insensitive; ``get_weather`` also matches "get weather"), or
  a meaningful word of its name ("weather"), or shares two or more meaningful words with
  its description; or
- exactly one tool is offered and the user text or system prompt asks to extract,
  structure or format something, to "use" or "call" a tool, or the text already holds
  values for all of the tool's required parameters.

Arguments are filled from the tool's JSON schema (``$ref``/``$defs`` and
``anyOf [X, null]`` resolved) and the user text: numbers in order for integer/number
properties, a quoted string, else a capitalized name, else a word after
for/in/of/about/named for strings, the mentioned enum value (else the first), ``true``
for a boolean whose name appears in the text. Required properties are filled first and
always get a value (``0``, ``""``, ``false``, ``[]``, ``{}`` when nothing matches);
optional ones only when something was found (a free-form optional string only when the
text names the property, or it is a place such as ``city``). When the tool has a single
required string property and the text lists several names ("Paris and London"), one call
per name is planned (parallel calls).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from .text import (
    content_words,
    located_names,
    numbers,
    proper_names,
    quoted_strings,
    word_set,
    words_after_prepositions,
)

__all__ = ["PlannedCall", "ToolSpec", "fill_arguments", "parse_tools", "plan_calls"]

_GENERIC_NAME_WORDS = word_set(
    "get set fetch do make run call tool function func by current info data api lookup"
)
_DIRECTIVE = re.compile(
    r"\b(?:extract|structured?|format(?:ted)?|use (?:the |a |this )?(?:tool|function)|call)\b",
    re.I,
)
_FREE_TEXT_PROPS = word_set("query question text input q prompt search_query search")
_PLACE_WORDS = ("city", "location", "place", "country", "address", "destination", "origin", "town")
_LIST_GLUE = re.compile(r"^\s*(?:,|and|or|&|,\s*and|,\s*or)\s*$", re.I)
_MAX_REF_DEPTH = 8


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


def _name_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[\s_\-]+", spaced.lower()) if w]


def _mentioned(tool: ToolSpec, text: str) -> bool:
    low = text.lower()
    words = set(content_words(text))
    if tool.name.lower() in low or " ".join(_name_words(tool.name)) in low:
        return True
    name_words = [
        w for w in content_words(" ".join(_name_words(tool.name))) if w not in _GENERIC_NAME_WORDS
    ]
    if any(w in words for w in name_words):
        return True
    return len(set(content_words(tool.description)) & words) >= 2


class _Source:
    """Values found in the user text, handed out in order and each used once."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.lower = text.lower()
        self._numbers = numbers(text)
        names = proper_names(text)
        places = located_names(text)
        people = [n for n in names if n not in places]
        after = words_after_prepositions(text)
        self._strings = quoted_strings(text) + people + places + after
        self._places = quoted_strings(text) + places + people + after
        self._used: set[str] = set()

    def next_number(self) -> int | float | None:
        return self._numbers.pop(0) if self._numbers else None

    def rest_numbers(self) -> list[int | float]:
        rest, self._numbers = self._numbers, []
        return rest

    def next_string(self, prop: str) -> str | None:
        if prop.lower() in _FREE_TEXT_PROPS:
            quoted = quoted_strings(self.text)
            return quoted[0] if quoted else self.text.strip()
        place = any(word in prop.lower() for word in _PLACE_WORDS)
        for value in self._places if place else self._strings:
            if value not in self._used:
                self._used.add(value)
                return value
        return None

    def rest_names(self) -> list[str]:
        rest = [n for n in proper_names(self.text) if n not in self._used]
        self._used.update(rest)
        return rest

    def mentions(self, word: str) -> bool:
        spaced = re.sub(r"[_\-]+", " ", word.lower())
        return re.search(rf"\b{re.escape(spaced)}\b", self.lower) is not None


def _resolve(schema: object, root: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Follow ``$ref`` and pick the non-null branch of ``anyOf``/``oneOf``/``allOf``."""
    if not isinstance(schema, dict) or depth > _MAX_REF_DEPTH:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: object = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        return _resolve(target, root, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list):
            resolved = [_resolve(o, root, depth + 1) for o in options]
            non_null = [o for o in resolved if o.get("type") != "null"]
            if non_null:
                merged = {k: v for k, v in schema.items() if k != key}
                merged.update(non_null[0])
                return merged
    return schema


def _type_of(schema: dict[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    if isinstance(kind, str):
        return kind
    if "properties" in schema:
        return "object"
    if "items" in schema:
        return "array"
    return "string"


_DEFAULTS: dict[str, Any] = {"integer": 0, "number": 0, "boolean": False, "string": ""}


def _value(schema: object, prop: str, src: _Source, root: dict[str, Any]) -> tuple[bool, Any]:
    """Return (found in the text, value) for one property."""
    s = _resolve(schema, root)
    if "const" in s:
        return True, s["const"]
    enum = s.get("enum")
    if isinstance(enum, list) and enum:
        for option in enum:
            if src.mentions(str(option)):
                return True, option
        return False, s.get("default", enum[0])
    kind = _type_of(s)
    if kind in ("integer", "number"):
        number = src.next_number()
        if number is None:
            return False, s.get("default", 0)
        return True, int(number) if kind == "integer" else number
    if kind == "boolean":
        return src.mentions(prop), src.mentions(prop)
    if kind == "array":
        item_kind = _type_of(_resolve(s.get("items"), root))
        items: list[Any] = []
        if item_kind in ("integer", "number"):
            items = [int(n) if item_kind == "integer" else n for n in src.rest_numbers()]
        elif item_kind == "string":
            items = list(src.rest_names())
        return bool(items), items
    if kind == "object":
        found, _, obj = _fill_object(s, src, root)
        return found, obj
    if kind == "null":
        return True, None
    text = src.next_string(prop)
    if text is None:
        return False, s.get("default", "")
    return True, text


def _worth_filling(name: str, schema: object, src: _Source, root: dict[str, Any]) -> bool:
    """Optional free-form strings are filled only when the text names the property."""
    s = _resolve(schema, root)
    if _type_of(s) != "string" or "enum" in s or "const" in s:
        return True
    if any(word in name.lower() for word in _PLACE_WORDS) or name.lower() in _FREE_TEXT_PROPS:
        return True
    return src.mentions(name)


def _fill_object(
    schema: dict[str, Any], src: _Source, root: dict[str, Any]
) -> tuple[bool, bool, dict[str, Any]]:
    """Fill an object schema: (anything found, all required found, value)."""
    props = schema.get("properties")
    required = schema.get("required")
    required_names = (
        [r for r in required if isinstance(r, str)] if isinstance(required, list) else []
    )
    out: dict[str, Any] = {}
    any_found = False
    all_required = bool(required_names)
    if not isinstance(props, dict):
        return False, False, out
    # Required properties take values first, so an optional one never steals them.
    ordered = sorted(props.items(), key=lambda item: item[0] not in required_names)
    for name, sub in ordered:
        if name not in required_names and not _worth_filling(name, sub, src, root):
            continue
        found, value = _value(sub, name, src, root)
        any_found = any_found or found
        if name in required_names:
            all_required = all_required and found
        if found or name in required_names:
            out[name] = value
    out = {name: out[name] for name in props if name in out}
    return any_found, all_required, out


def fill_arguments(schema: dict[str, Any], text: str) -> tuple[dict[str, Any], bool]:
    """Fill ``schema``'s properties from ``text``; also say whether every required one was found."""
    _, all_required, args = _fill_object(_resolve(schema, schema), _Source(text), schema)
    return args, all_required


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
    schema = _resolve(tool.parameters, tool.parameters)
    required = schema.get("required")
    props = schema.get("properties")
    if not (isinstance(required, list) and len(required) == 1 and isinstance(props, dict)):
        return []
    prop = _resolve(props.get(required[0]), tool.parameters)
    if _type_of(prop) != "string" or "enum" in prop:
        return []
    return [PlannedCall(tool.name, {str(required[0]): name}) for name in _listed_names(text)]


def plan_calls(tools: list[ToolSpec], user_text: str, system_text: str) -> list[PlannedCall]:
    """Decide which tools to call for ``user_text`` and with which arguments."""
    chosen = [t for t in tools if t.name and _mentioned(t, user_text)]
    if not chosen and len(tools) == 1:
        only = tools[0]
        _, fills = fill_arguments(only.parameters, user_text)
        if _DIRECTIVE.search(user_text) or _DIRECTIVE.search(system_text) or fills:
            chosen = [only]
    calls: list[PlannedCall] = []
    for tool in chosen:
        parallel = _parallel(tool, user_text)
        if parallel:
            calls.extend(parallel)
            continue
        args, _ = fill_arguments(tool.parameters, user_text)
        calls.append(PlannedCall(tool.name, args))
    return calls
