"""JSON found in model text: for structured output when the model answers in prose
instead of calling the tool. Shared by both framework adapters."""

from __future__ import annotations

import json
import re
from typing import Any

__all__ = ["extract_json"]

_FENCE = re.compile(r"```(?:json|JSON)?\s*\n?(.*?)```", re.DOTALL)


def extract_json(text: str) -> Any:
    """The first JSON object or array in ``text`` (fenced blocks first).

    Raises ``ValueError`` when the text holds none.
    """
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    candidates.append(text)
    decoder = json.JSONDecoder()
    for candidate in candidates:
        stripped = candidate.strip()
        try:
            return json.loads(stripped)
        except ValueError:
            pass
        for start, char in enumerate(candidate):
            if char in "{[":
                try:
                    value, _ = decoder.raw_decode(candidate, start)
                except ValueError:
                    continue
                return value
    raise ValueError("no JSON object or array found in the model's text")
