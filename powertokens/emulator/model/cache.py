"""A stand-in for the service's prompt cache (``usage.prompt_tokens_details.cached_tokens``).

The cache works on the *effective* prompt, what the model is actually shown
(:func:`.model.effective_messages`): unless the request sends
``thinking.clear_thinking: false`` (preserved thinking), the reasoning of the assistant
turns before the last user message is dropped from it, while the reasoning of the
current tool loop (the assistant turns after the last user message) is kept
(interleaved thinking). With ``clear_thinking: false`` every turn's reasoning is kept.

Each answered request leaves in the cache its whole effective message list, that list
followed by the reply it got (as the assistant turn a client sends back: content,
reasoning and tool calls), and its system prompt, when it starts with one. A later
request for the same model hits when one of its proper prefixes is in the cache: the
longest one of at least two messages, or else the system prompt alone. So:

* a conversation replayed with preserved thinking hits on the whole previous request
  *and* the reply to it (the reply's reasoning is still in the effective prompt);
* without it, the previous reply's reasoning is cleared once a user message follows,
  so the hit stops before that reply (fewer cached tokens), and a tool loop's turns stop
  matching as soon as the next user message clears their reasoning;
* a reasoning sent back changed in any way (``.strip()``-ed, say) is another message:
  no hit reaches past it;
* repeating the very same request (e.g. stream after non-stream) does not hit, unless
  its system prompt alone was cached.

Messages are compared in a canonical form (key order, ``content: null`` versus ``""``
and the spacing of tool-call arguments do not matter; every character of the text and
reasoning does). The model reports the prompt tokens of the cached prefix, rounded
down to a multiple of 16 (short system prompts round to 0).
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

__all__ = ["PromptCache"]

_LIMIT = 200_000


def _arguments(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _canonical(message: Any) -> Any:
    """The parts of a message the model sees, in one form whatever the client's."""
    if not isinstance(message, dict):
        return message
    out = dict(message)
    if out.get("content") is None:
        out["content"] = ""
    if not out.get("reasoning_content"):
        out.pop("reasoning_content", None)
    calls = out.pop("tool_calls", None)
    if calls:
        out["tool_calls"] = [
            {
                "id": call.get("id"),
                "name": (call.get("function") or {}).get("name"),
                "arguments": _arguments((call.get("function") or {}).get("arguments")),
            }
            if isinstance(call, dict)
            else call
            for call in calls
        ]
    return out


def _keys(model: str, messages: list[Any]) -> list[str]:
    """One fingerprint per prefix: ``keys[k - 1]`` is that of ``messages[:k]``."""
    digest = hashlib.sha256(model.encode())
    keys: list[str] = []
    for message in messages:
        text = json.dumps(_canonical(message), sort_keys=True, ensure_ascii=False, default=str)
        digest.update(text.encode())
        digest.update(b"\x00")
        keys.append(digest.copy().hexdigest())
    return keys


def _system_first(messages: list[Any]) -> bool:
    first = messages[0] if messages else None
    return isinstance(first, dict) and first.get("role") == "system"


class PromptCache:
    """Thread-safe set of message-prefix fingerprints."""

    def __init__(self, limit: int = _LIMIT) -> None:
        self._seen: set[str] = set()
        self._limit = limit
        self._lock = threading.Lock()

    def lookup(self, model: str, messages: list[Any]) -> int:
        """How many leading messages of ``messages`` (the effective prompt) are cached."""
        keys = _keys(model, messages)
        system_first = _system_first(messages)
        with self._lock:
            for k in range(len(keys) - 1, 0, -1):
                if (k >= 2 or system_first) and keys[k - 1] in self._seen:
                    return k
        return 0

    def store(self, model: str, messages: list[Any], reply: dict[str, Any] | None = None) -> None:
        """Remember ``messages`` (the effective prompt), and it followed by ``reply``."""
        keys = _keys(model, [*messages, reply] if reply is not None else messages)
        with self._lock:
            if len(self._seen) >= self._limit:
                self._seen.clear()
            if keys:
                self._seen.add(keys[len(messages) - 1] if messages else keys[-1])
                self._seen.add(keys[-1])
            if _system_first(messages):
                self._seen.add(keys[0])

    def lookup_and_store(self, model: str, messages: list[Any]) -> int:
        """Return how many leading messages were cached, then remember this prompt."""
        hit = self.lookup(model, messages)
        self.store(model, messages)
        return hit

    def clear(self) -> None:
        """Forget every prompt."""
        with self._lock:
            self._seen.clear()
