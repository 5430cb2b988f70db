"""Helpers for framework adapters built on the core (ours, and yours).

Like ``openai.lib``: public and documented, but not part of the wire client itself.

* :func:`extract_json`: the first JSON object or array in model text (fenced blocks
  first), for structured output when a model answers in prose instead of calling the
  schema's tool;
* :func:`estimate_prompt_tokens` / :func:`estimate_text_tokens` (``powertokens.lib.tokens``):
  a GLM-aware token estimate with no tokenizer to download, for context-window checks
  and trimming before a request is sent.
"""

from ._jsontext import extract_json
from .tokens import estimate_message_tokens, estimate_prompt_tokens, estimate_text_tokens

__all__ = [
    "estimate_message_tokens",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
    "extract_json",
]
