"""A deterministic, offline embedding for the RAG step: a hashed bag of words.

Texts that share words get close vectors. Good enough to retrieve from a handful of
documents with no download and no service; use a real embedding model in production
(any LlamaIndex ``BaseEmbedding``, passed as ``embed_model=``).
"""

from __future__ import annotations

import hashlib
import math
import re

from llama_index.core.embeddings import BaseEmbedding

__all__ = ["WordHashEmbedding"]

_DIMENSIONS = 1024
_WORD = re.compile(r"[a-z0-9]+")
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "a an and are as at be by can do does for from has have how in is it its of on or "
        "the that this to what when which who why with",
    )
)


def _stem(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def _vector(text: str) -> list[float]:
    vector = [0.0] * _DIMENSIONS
    for word in _WORD.findall(text.lower()):
        if word not in _STOPWORDS:
            digest = hashlib.blake2b(_stem(word).encode(), digest_size=8).digest()
            vector[int.from_bytes(digest, "big") % _DIMENSIONS] += 1.0
    norm = math.sqrt(sum(v * v for v in vector)) or 1.0
    return [v / norm for v in vector]


class WordHashEmbedding(BaseEmbedding):
    """Hashed bag-of-words vectors: deterministic, offline, instant."""

    @classmethod
    def class_name(cls) -> str:
        return "WordHashEmbedding"

    def _get_text_embedding(self, text: str) -> list[float]:
        return _vector(text)

    def _get_query_embedding(self, query: str) -> list[float]:
        return _vector(query)

    async def _aget_query_embedding(self, query: str) -> list[float]:
        return _vector(query)
