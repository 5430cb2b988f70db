"""Filling a JSON schema's properties from text, for tool-call arguments and JSON answers.

Pure functions. Properties take the values the text offers (:mod:`.text_values`: by the
word naming them first, then in order): numbers for integer/number properties, strings
for strings, the mentioned enum value (else the first), ``true`` for a boolean whose name
appears in the text. ``$ref``/``$defs`` and ``anyOf [X, null]`` are resolved. Required
properties always get a value (``0``, ``""``, ``false``, ``[]``, ``{}`` when nothing
matches); optional ones only when something was found, unless every property is asked
for (a JSON answer: then their default).
"""

from __future__ import annotations

from typing import Any

from .text_values import FREE_TEXT_PROPS, PLACE_WORDS, REASON_PROPS, TextValues

__all__ = ["fill_arguments", "resolve", "type_of"]

_MAX_REF_DEPTH = 8


def resolve(schema: object, root: dict[str, Any], depth: int = 0) -> dict[str, Any]:
    """Follow ``$ref`` and pick the non-null branch of ``anyOf``/``oneOf``/``allOf``."""
    if not isinstance(schema, dict) or depth > _MAX_REF_DEPTH:
        return {}
    ref = schema.get("$ref")
    if isinstance(ref, str) and ref.startswith("#/"):
        target: object = root
        for part in ref[2:].split("/"):
            target = target.get(part) if isinstance(target, dict) else None
        return resolve(target, root, depth + 1)
    for key in ("anyOf", "oneOf", "allOf"):
        options = schema.get(key)
        if isinstance(options, list):
            resolved = [resolve(o, root, depth + 1) for o in options]
            non_null = [o for o in resolved if o.get("type") != "null"]
            if non_null:
                merged = {k: v for k, v in schema.items() if k != key}
                merged.update(non_null[0])
                return merged
    return schema


def type_of(schema: dict[str, Any]) -> str:
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


def _value(schema: object, prop: str, src: TextValues, root: dict[str, Any]) -> tuple[bool, Any]:
    """Return (found in the text, value) for one property."""
    s = resolve(schema, root)
    if "const" in s:
        return True, s["const"]
    enum = s.get("enum")
    if isinstance(enum, list) and enum:
        for option in enum:
            if src.mentions(str(option)):
                return True, option
        return False, s.get("default", enum[0])
    kind = type_of(s)
    if kind in ("integer", "number"):
        number = src.next_number()
        if number is None:
            return False, s.get("default", 0)
        return True, int(number) if kind == "integer" else number
    if kind == "boolean":
        return src.mentions(prop), src.mentions(prop)
    if kind == "array":
        item_kind = type_of(resolve(s.get("items"), root))
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


def _default(schema: object, root: dict[str, Any]) -> Any:
    """The value of a property the text says nothing about."""
    s = resolve(schema, root)
    if "default" in s:
        return s["default"]
    kind = type_of(s)
    return {"array": [], "object": {}, "null": None}.get(kind, _DEFAULTS.get(kind, ""))


def _worth_filling(name: str, schema: object, src: TextValues, root: dict[str, Any]) -> bool:
    """Optional free-form strings are filled only when the text names the property."""
    s = resolve(schema, root)
    if type_of(s) != "string" or "enum" in s or "const" in s:
        return True
    if any(word in name.lower() for word in PLACE_WORDS) or name.lower() in FREE_TEXT_PROPS:
        return True
    return src.mentions(name)


def _scalar_kind(schema: dict[str, Any]) -> str | None:
    kind = type_of(schema)
    if "enum" in schema or "const" in schema or kind not in ("string", "integer", "number"):
        return None
    return kind


def _fill_object(
    schema: dict[str, Any], src: TextValues, root: dict[str, Any], complete: bool = False
) -> tuple[bool, bool, dict[str, Any]]:
    """Fill an object schema: (anything found, all required found, value).

    Values written next to a word naming a property go to that property first (by name);
    the rest are handed out in order. ``complete``: every property gets a value.
    """
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
    found_by_name: set[str] = set()
    # Reasons last: they may name the choice another property made.
    for name, sub in sorted(ordered, key=lambda item: item[0].lower() in REASON_PROPS):
        resolved = resolve(sub, root)
        kind = _scalar_kind(resolved)
        if kind is None:
            continue
        found, value = src.by_name(name, resolved, kind)
        if found:
            out[name] = int(value) if kind == "integer" else value
            found_by_name.add(name)
    for name, sub in ordered:
        if name in found_by_name:
            any_found = True
            continue
        if name not in required_names and not _worth_filling(name, sub, src, root):
            if complete:
                out[name] = _default(sub, root)
            continue
        found, value = _value(sub, name, src, root)
        any_found = any_found or found
        if name in required_names:
            all_required = all_required and found
        if found or name in required_names or complete:
            out[name] = value
    out = {name: out[name] for name in props if name in out}
    return any_found, all_required, out


def fill_arguments(
    schema: dict[str, Any],
    text: str,
    choices: dict[str, str] | None = None,
    *,
    complete: bool = False,
) -> tuple[dict[str, Any], bool]:
    """Fill ``schema``'s properties from ``text``; also say whether every required one was found.

    ``choices`` (name: description) are values a tool's description lists, e.g. the agents
    of a hand-off tool; ``complete`` gives every property a value (a JSON answer).
    """
    src = TextValues(text, choices)
    _, all_required, args = _fill_object(resolve(schema, schema), src, schema, complete)
    return args, all_required
