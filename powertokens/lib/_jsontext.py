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

    Raises ``ValueError`` when the text holds none. JSON nested too deep to decode
    (``RecursionError`` in the standard library) counts as no JSON.
    """
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    candidates.append(text)
    decoder = json.JSONDecoder()
    for candidate in candidates:
        stripped = candidate.strip()
        try:
            return json.loads(stripped)
        except (ValueError, RecursionError):
            pass
        start, end = 0, len(candidate)
        while start < end:
            if candidate[start] in "{[":
                try:
                    value, _ = decoder.raw_decode(candidate, start)
                except ValueError:
                    pass
                except RecursionError:
                    # Too deep from here, and from the brackets that follow: skip them
                    # (retrying each would take seconds), then look on.
                    while start < end and candidate[start] in "{[ \t\r\n":
                        start += 1
                    continue
                else:
                    return value
            start += 1
    raise ValueError("no JSON object or array found in the model's text")
