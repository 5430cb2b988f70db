"""Text helpers for the emulator's deterministic model: tokens, words, sentences, values.

Pure functions, no state. The token rule is a deterministic approximation of a real
tokenizer: a run of letters/digits, one CJK character, or one other non-space character
(punctuation, an emoji code point) is one token. :func:`pieces` splits text into stream
pieces, each holding one token with its leading whitespace, so ``"".join(pieces(t)) == t``
for every string, including U+2028 and astral characters (docs/wire.md, "Stream").
"""

from __future__ import annotations

import re

__all__ = [
    "STOPWORDS",
    "content_words",
    "count_tokens",
    "located_names",
    "number_spans",
    "numbers",
    "pieces",
    "proper_names",
    "quoted_strings",
    "sentences",
    "word_set",
    "words_after_prepositions",
]

# Hiragana/katakana, CJK ideographs, Hangul, compatibility ideographs: one token per char.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN = re.compile(rf"[^\W{_CJK}]+|\S")
_PIECE = re.compile(rf"\s*(?:[^\W{_CJK}]+|\S)|\s+")
_WORD = re.compile(r"[^\W_]+")
_SENTENCE_END = re.compile(r"(?<=[.!?\u3002\uff01\uff1f])\s+|\s*\n\s*")
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w])")
_QUOTED = re.compile(r"\"([^\"\n]+)\"|\u201c([^\u201d\n]+)\u201d|(?<!\w)'([^'\n]+)'(?!\w)")
_CAPITALIZED = re.compile(r"\b[A-Z][\w'-]*(?:\s+[A-Z][\w'-]*)*")
_AFTER_PREPOSITION = re.compile(r"\b(?:for|in|of|about|named|called|at|from|to)\s+([\w'-]+)", re.I)


def word_set(text: str) -> frozenset[str]:
    """The whitespace-separated words of ``text`` as a set (for word tables)."""
    return frozenset(text.split())


STOPWORDS = word_set(
    """
    a an and are as at be been but by can could did do does doing for from had has have
    how i if in into is it its it's me my of on or our please so than that the their
    them then there these they this to too us was we were what when where which who whom
    why will with would you your yours also any all some just very about tell give show
    write explain describe list say briefly brief short concise sentence sentences word
    words answer question query context information using use based following below
    above one two three four five many much should shall may might let get make want
    need know hi hello thanks thank here now out up down over again more most other such
    only own same each few both no not nor yes okay ok
    """
)

# Capitalized words that start questions or commands are not names (see proper_names).
_NOT_NAMES = word_set(
    """
    what who where when why how which is are do does can could would will should please
    tell give show find get call use extract format list describe explain the a an i it
    this that these those my our your hello hi hey summarize write make create compare
    json
    """
)


def pieces(text: str) -> list[str]:
    """Split ``text`` into stream pieces (one token each, whitespace kept in front)."""
    return _PIECE.findall(text)


def count_tokens(text: str) -> int:
    """Number of tokens in ``text`` under the emulator's approximation."""
    return len(_TOKEN.findall(text))


def _normalize(word: str) -> str:
    # A tiny plural fold, so "databases" matches "database".
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def content_words(text: str) -> list[str]:
    """Lower-cased meaningful words of ``text`` in order (stopwords dropped, plurals folded)."""
    words = (w.lower() for w in _WORD.findall(text))
    return [_normalize(w) for w in words if w not in STOPWORDS]


def sentences(text: str) -> list[str]:
    """Split ``text`` into stripped sentences (also at line breaks); drop ones without words."""
    parts = _SENTENCE_END.split(text)
    return [p.strip() for p in parts if p.strip() and _WORD.search(p)]


def numbers(text: str) -> list[int | float]:
    """Numbers in ``text`` in order (ints where written without a fraction)."""
    found: list[int | float] = []
    for match in _NUMBER.findall(text):
        found.append(float(match) if "." in match else int(match))
    return found


def number_spans(text: str) -> list[tuple[int, int, int | float]]:
    """(start, end, number) of each number in ``text``, in order."""
    return [
        (m.start(), m.end(), float(m.group()) if "." in m.group() else int(m.group()))
        for m in _NUMBER.finditer(text)
    ]


def quoted_strings(text: str) -> list[str]:
    """Contents of "double", \u201ccurly\u201d or 'single' quoted spans, in order."""
    return [next(g for g in m if g) for m in _QUOTED.findall(text)]


def proper_names(text: str) -> list[str]:
    """Capitalized words or runs (``"New York"``), best candidates first.

    Runs that do not start a sentence come first; a sentence-initial run is kept only
    when its first word is not a question word or a command (``"What"``, ``"Extract"``).
    """
    inner: list[str] = []
    initial: list[str] = []
    for match in _CAPITALIZED.finditer(text):
        name = match.group(0)
        before = text[: match.start()].rstrip()
        at_start = not before or before[-1] in ".!?:\n"
        words = name.split()
        first = words[0].lower()
        if first.endswith("'s"):
            first = first[:-2]
        if first in _NOT_NAMES:
            words = words[1:]
            at_start = False
            if not words:
                continue
            name = " ".join(words)
        if name.lower() in STOPWORDS or name.lower() in _NOT_NAMES:
            continue
        target = initial if at_start else inner
        if name not in target:
            target.append(name)
    return inner + [n for n in initial if n not in inner]


def located_names(text: str) -> list[str]:
    """Proper names right after in/at/from/to/near ("weather in Paris" -> Paris)."""
    return [
        n
        for n in proper_names(text)
        if re.search(rf"\b(?:in|at|from|to|near)\s+{re.escape(n)}", text)
    ]


def words_after_prepositions(text: str) -> list[str]:
    """Words following for/in/of/about/named/..., skipping stopwords and numbers."""
    found: list[str] = []
    for word in _AFTER_PREPOSITION.findall(text):
        if word.lower() not in STOPWORDS and not word.isdigit() and word not in found:
            found.append(word)
    return found
