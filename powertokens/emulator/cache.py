"""A stand-in for the service's prompt cache (``usage.prompt_tokens_details.cached_tokens``).

Each answered request leaves its whole message list (and its system prompt, when it
starts with one) in the cache. A later request for the same model hits when one of its
proper prefixes is in the cache: the longest one of at least two messages, or else the
system prompt alone. So a growing conversation or an agent's tool loop gets cached
tokens, while repeating the very same request (e.g. stream after non-stream) does not,
unless its system prompt alone was cached. The model reports the prompt tokens of the
cached prefix, rounded down to a multiple of 16 (short system prompts round to 0).
"""

from __future__ import annotations

import hashlib
import json
import threading
from typing import Any

__all__ = ["PromptCache"]

_LIMIT = 200_000


class PromptCache:
    """Thread-safe set of message-prefix fingerprints."""

    def __init__(self, limit: int = _LIMIT) -> None:
        self._seen: set[str] = set()
        self._limit = limit
        self._lock = threading.Lock()

    def lookup_and_store(self, model: str, messages: list[Any]) -> int:
        """Return how many leading messages were cached, then remember this prompt."""
        digest = hashlib.sha256(model.encode())
        keys: list[str] = []
        for message in messages:
            digest.update(json.dumps(message, sort_keys=True, ensure_ascii=False).encode())
            digest.update(b"\x00")
            keys.append(digest.copy().hexdigest())
        system_first = bool(messages) and isinstance(messages[0], dict)
        system_first = system_first and messages[0].get("role") == "system"
        eligible = [k for k in range(1, len(keys)) if k >= 2 or system_first]
        with self._lock:
            hit = next((k for k in reversed(eligible) if keys[k - 1] in self._seen), 0)
            if len(self._seen) >= self._limit:
                self._seen.clear()
            if keys:
                self._seen.add(keys[-1])
            if system_first:
                self._seen.add(keys[0])
        return hit

    def clear(self) -> None:
        """Forget every prompt."""
        with self._lock:
            self._seen.clear()
