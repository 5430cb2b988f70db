"""Helpers for framework adapters built on the core (ours, and yours).

Like ``openai.lib``: public and documented, but not part of the wire client itself.

* :func:`extract_json`: the first JSON object or array in model text (fenced blocks
  first), for structured output when a model answers in prose instead of calling the
  schema's tool.
"""

from ._jsontext import extract_json

__all__ = ["extract_json"]
