"""The values a user text offers for a schema's properties, and the choice it names.

A value written next to a word that names a property (its name, title, description, or
a cue such as "aged" for ``age``, "by" for ``author``) goes to that property ("Lyon is a
city in France": city Lyon, not France; a place after in/at/from belongs to the word
before it). What is left is handed out in order: numbers (a 4-digit year for a
``year``), a quoted string, else a capitalized name, else a word after
for/in/of/about/named (places first for place-like names such as ``city``).

A tool description that lists choices as a literal (LlamaIndex's hand-off tool:
``{'WeatherAgent': 'Looks up the weather', ...}``) gives a property naming them
(``to_agent``) the choice the text names, else the one whose description fits the text; a
``reason`` property then says why.
"""

from __future__ import annotations

import ast
import re
from typing import Any

from .text import (
    STOPWORDS,
    content_words,
    located_names,
    number_spans,
    proper_names,
    quoted_strings,
    word_set,
    words_after_prepositions,
)

__all__ = [
    "FREE_TEXT_PROPS",
    "GENERIC_NAME_WORDS",
    "PLACE_WORDS",
    "REASON_PROPS",
    "TextValues",
    "choose",
    "listed_choices",
    "name_words",
]

FREE_TEXT_PROPS = word_set("query question text input q prompt search_query search")
PLACE_WORDS = ("city", "location", "place", "country", "address", "destination", "origin", "town")
# Words that announce a property's value besides the property's own name.
_CUES: dict[str, tuple[str, ...]] = {
    "age": ("old", "aged"),
    "author": ("by",),
    "artist": ("by",),
    "composer": ("by",),
    "creator": ("by",),
    "director": ("by",),
    "writer": ("by",),
    "title": ("titled", "called", "named"),
    "name": ("named", "called"),
}
REASON_PROPS = word_set("reason rationale explanation justification why")
_CHOICE_WORDS = word_set("agent target choice option")
GENERIC_NAME_WORDS = word_set(
    "get set fetch do make run call tool function func by current info data api lookup"
)
_TEXT_WORD = re.compile(r"[^\W_]+")
_SENTENCE_BREAK = re.compile(r"[.!?](?:\s|$)|\n")
_WHERE = re.compile(r"\b(?:in|at|from|near|on)\b", re.I)
_LOCATED_BEFORE = re.compile(r"\b(?:in|at|from|to|near)\s+$", re.I)
_OFF_CUE = 15  # distance penalty: a place after in/at/... is rarely another property's value
_CHOICES = re.compile(r"\{[^{}]*\}|\[[^\[\]]*\]")


def name_words(name: str) -> list[str]:
    spaced = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", name)
    return [w for w in re.split(r"[\s_\-]+", spaced.lower()) if w]


def _words_of(prop: str, schema: dict[str, Any]) -> list[str]:
    """The words that name a property: its name, title and cue words, then description."""
    own = name_words(prop) + name_words(str(schema.get("title") or ""))
    named = [w for w in dict.fromkeys(own) if w not in STOPWORDS]
    for word in list(named):
        named.extend(_CUES.get(word, ()))
    described = content_words(str(schema.get("description") or ""))
    return list(dict.fromkeys(named + [w for w in described if w not in named]))


def _same_stem(word: str, cue: str) -> bool:
    """``aged`` ~ ``age``, ``rated`` ~ ``rating``, ``days`` ~ ``days``."""
    if word == cue:
        return True
    shared = 0
    while shared < min(len(word), len(cue)) and word[shared] == cue[shared]:
        shared += 1
    return shared >= 3 and shared >= min(len(word), len(cue)) - 2


class TextValues:
    """Values found in the user text, each used once: by the property they are written
    next to first (by name), else handed out in order."""

    def __init__(self, text: str, choices: dict[str, str] | None = None) -> None:
        self.text = text
        self.lower = text.lower()
        self.choices = choices or {}
        self.chosen: str | None = None
        self._number_spans = number_spans(text)
        names = proper_names(text)
        places = located_names(text)
        people = [n for n in names if n not in places]
        after = words_after_prepositions(text)
        quoted = quoted_strings(text)
        self._strings = quoted + people + places + after
        self._places = quoted + places + people + after
        self._used: set[str] = set()
        self._used_numbers: set[int] = set()
        self._words = [(m.start(), m.end(), m.group().lower()) for m in _TEXT_WORD.finditer(text)]
        spans: list[tuple[int, int, str]] = []
        for value in dict.fromkeys(quoted + names + after):
            at = text.find(value)
            if at >= 0:
                spans.append((at, at + len(value), value))
        self._string_spans = spans

    def next_number(self) -> int | float | None:
        for index, (_, _, value) in enumerate(self._number_spans):
            if index not in self._used_numbers:
                self._used_numbers.add(index)
                return value
        return None

    def rest_numbers(self) -> list[int | float]:
        rest = [v for i, (_, _, v) in enumerate(self._number_spans) if i not in self._used_numbers]
        self._used_numbers.update(range(len(self._number_spans)))
        return rest

    def next_string(self, prop: str) -> str | None:
        if prop.lower() in FREE_TEXT_PROPS:
            quoted = quoted_strings(self.text)
            return quoted[0] if quoted else self.text.strip()
        place = any(word in prop.lower() for word in PLACE_WORDS)
        for value in self._places if place else self._strings:
            if value not in self._used:
                self._used.add(value)
                return value
        return None

    def rest_names(self) -> list[str]:
        rest = [n for n in proper_names(self.text) if n not in self._used]
        self._used.update(rest)
        return rest

    def mentions(self, word: str) -> bool:
        spaced = re.sub(r"[_\-]+", " ", word.lower())
        return re.search(rf"\b{re.escape(spaced)}\b", self.lower) is not None

    def _cue_spans(self, words: list[str]) -> list[tuple[int, int]]:
        for cue in words:  # the most specific naming word that the text has wins
            found = [(a, b) for a, b, w in self._words if _same_stem(w, cue)]
            if found:
                return found
        return []

    def _distance(self, cue: tuple[int, int], start: int, end: int) -> float | None:
        """Characters between a cue word and a value in the same sentence (None across a
        sentence end); a value after the cue wins a tie."""
        if start >= cue[1]:
            gap, between = float(start - cue[1]), self.text[cue[1] : start]
            if _WHERE.search(between):
                gap += _OFF_CUE  # "a city in France": France is where the city is
        elif end <= cue[0]:
            gap, between = cue[0] - end + 0.5, self.text[end : cue[0]]
        else:
            return 0.0  # the value holds the cue word ("Mexico City" for city)
        return None if _SENTENCE_BREAK.search(between) else gap

    def by_name(self, prop: str, schema: dict[str, Any], kind: str) -> tuple[bool, Any]:
        """(found, value) for ``prop`` from the words of the text that name it."""
        if kind == "string" and prop.lower() in REASON_PROPS:
            return self.chosen is not None, self._reason()
        if kind == "string" and self.choices and self._names_choices(prop):
            found, choice = self._choose()
            if found:
                self.chosen = choice
            return found, choice
        cues = self._cue_spans(_words_of(prop, schema))
        place = any(word in prop.lower() for word in PLACE_WORDS)
        best: tuple[float, int] | None = None
        if kind in ("integer", "number"):
            for index, (start, end, number) in enumerate(self._number_spans):
                if index in self._used_numbers or (kind == "integer" and isinstance(number, float)):
                    continue
                rank = self._rank(cues, start, end, place, prop, number)
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, index)
            if best is None:
                return False, None
            self._used_numbers.add(best[1])
            return True, self._number_spans[best[1]][2]
        if kind == "string" and prop.lower() not in FREE_TEXT_PROPS and cues:
            for index, (start, end, text) in enumerate(self._string_spans):
                if text in self._used:
                    continue
                rank = self._rank(cues, start, end, place, prop, None)
                if rank is not None and (best is None or rank < best[0]):
                    best = (rank, index)
            if best is not None:
                value = self._string_spans[best[1]][2]
                self._used.add(value)
                return True, value
        return False, None

    def _rank(
        self,
        cues: list[tuple[int, int]],
        start: int,
        end: int,
        place: bool,
        prop: str,
        number: float | None,
    ) -> float | None:
        gaps = [d for c in cues if (d := self._distance(c, start, end)) is not None]
        if not gaps:
            year = number is not None and "year" in prop.lower() and 1000 <= number <= 2999
            return 1000.0 + start if year and float(number or 0).is_integer() else None
        located = _LOCATED_BEFORE.search(self.text[:start]) is not None
        return min(gaps) + (_OFF_CUE if located and not place else 0)

    def _names_choices(self, prop: str) -> bool:
        """Whether ``prop`` asks for one of the listed choices (``to_agent``)."""
        listed = {w for name in self.choices for w in name_words(name)} | _CHOICE_WORDS
        return any(w not in STOPWORDS and w in listed for w in name_words(prop))

    def _choose(self) -> tuple[bool, str]:
        """(found, choice): the choice the text names, else the one whose description
        shares most words with it, else the first (not found)."""
        names = list(self.choices)
        for name in names:
            if self.mentions(name) or self.mentions(" ".join(name_words(name))):
                return True, name
        scores = [
            len(_described(name, desc) & set(content_words(self.text)))
            for name, desc in self.choices.items()
        ]
        best = max(scores)
        return (True, names[scores.index(best)]) if best else (False, names[0])

    def _reason(self) -> str:
        if self.chosen is not None:
            said = self.choices.get(self.chosen, "").strip().rstrip(".")
            return f"The request fits {self.chosen}" + (f": {said}" if said else "")
        return self.text.strip()


def _described(name: str, description: str) -> set[str]:
    """Meaningful words of a choice's description and name ("weather" of WeatherAgent)."""
    words = set(content_words(f"{description} {' '.join(name_words(name))}"))
    return words - GENERIC_NAME_WORDS - _CHOICE_WORDS


def listed_choices(description: str) -> dict[str, str]:
    """Names a tool description lists as a ``{'name': 'what it does'}`` or ``['name']``
    literal (LlamaIndex's hand-off tool lists its agents so), else {}."""
    for match in _CHOICES.finditer(description):
        try:
            value = ast.literal_eval(match.group())
        except (ValueError, SyntaxError, MemoryError, RecursionError):
            continue
        if isinstance(value, dict) and value and all(isinstance(k, str) for k in value):
            return {k: str(v) for k, v in value.items()}
        if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            return dict.fromkeys(value, "")
    return {}


def choose(choices: dict[str, str], text: str) -> tuple[bool, str]:
    """(found, choice) for ``text`` among ``choices`` (see :class:`TextValues`)."""
    return TextValues(text, choices)._choose()
