"""Helpers for framework adapters built on the core (ours, and yours).

Like ``openai.lib``: public and documented, but not part of the wire client itself.

* :func:`extract_json`: the first JSON object or array in model text (fenced blocks
  first), for structured output when a model answers in prose instead of calling the
  schema's tool;
* :func:`estimate_prompt_tokens` / :func:`estimate_text_tokens` (``powertokens.lib.tokens``):
  a GLM-aware token estimate with no tokenizer to download, for context-window checks
  and trimming before a request is sent;
* :func:`resolve_api_key`, :func:`check_api_key`, :func:`resolve_base_url`,
  :func:`shown_url`: the clients' own rules for the key and the base URL (trimmed,
  checked, never shown), for a framework that takes them at construction; a
  :class:`Redacted` value stands for a secret in an error (a description, never the value);
* :func:`check_fallback_models`: the clients' check of a ``fallback_models`` list, for a
  framework that takes it at construction or per call; :func:`check_reasoning_sent`:
  preserved thinking refused when the adapter leaves reasoning out of what it sends;
  :func:`not_per_call`: the error for a setting of the model given to one call (which
  would otherwise travel as a request field the gateway drops).
"""

from powertokens._base import check_fallback_models
from powertokens._body_fields import not_per_call
from powertokens._config import (
    Redacted,
    check_api_key,
    resolve_api_key,
    resolve_base_url,
    shown_url,
)
from powertokens._request import check_reasoning_sent

from ._jsontext import extract_json
from .tokens import estimate_message_tokens, estimate_prompt_tokens, estimate_text_tokens

__all__ = [
    "Redacted",
    "check_api_key",
    "check_fallback_models",
    "check_reasoning_sent",
    "estimate_message_tokens",
    "estimate_prompt_tokens",
    "estimate_text_tokens",
    "extract_json",
    "not_per_call",
    "resolve_api_key",
    "resolve_base_url",
    "shown_url",
]
