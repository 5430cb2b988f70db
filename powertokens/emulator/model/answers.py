"""Text answers of the emulator's model (pure functions).

- Tool results: "According to <tool>: <result>." for each trailing tool message.
- ``echo:``: the text after the first ``echo:`` in the last user message, verbatim.
- Context: the question is the text after a ``Query:``/``Question:`` line (LlamaIndex and
  LangChain RAG prompts), else the last sentence ending in "?" of a multi-sentence user
  text, else the whole user text. Context sentences come from the system prompt, earlier
  user turns and the rest of the last user text; instruction sentences ("You are ...",
  "Given the context information ...") are skipped. The reply is the context sentence
  sharing most meaningful words with the question (earliest on a tie), verbatim.
- Refine prompts (LlamaIndex's refine / compact response modes: an existing answer and
  new context): see :func:`refine_answer`.
- No matching context: "You asked about <key words>. ..." (a fixed, fluent sentence).
- JSON asked for (see :func:`json_answer`): a JSON object with exactly the properties of
  the last JSON schema seen in the prompt, else ``{"answer": ...}``.
- Images: a note naming each image's URL host or data-URI media type comes first.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .text import STOPWORDS, content_words, sentences
from .tools import fill_arguments

__all__ = [
    "Answer",
    "context_answer",
    "echo_text",
    "image_note",
    "json_answer",
    "message_text",
    "refine_answer",
    "tool_results_answer",
]

_ECHO = "echo:"
_MARK = re.compile(
    r"(?im)^[ \t]*(?P<kind>query|question|q|context(?: information)?(?: is below)?|answer|"
    r"helpful answer)[ \t]*[:.]"
)
_INSTRUCTION_STARTS = (
    "you are",
    "you're",
    "act as",
    "given the",
    "use ",
    "if you",
    "answer",
    "always",
    "never",
    "do not",
    "don't",
    "keep ",
    "respond",
    "reply",
    "be ",
)
_JSON_WORD = re.compile(r"\bjson\b", re.I)
_FALLBACKS = (
    "You asked about {topic}. This is a deterministic reply from the PowerTokens emulator, "
    "which restates a question when the prompt holds no context to quote.",
    "You asked about {topic}. The PowerTokens emulator answers from the context it is "
    "given; without context it restates the question.",
    "You asked about {topic}. This emulator is deterministic, so the same question always "
    "gets this same reply.",
)
_GREETING = "Hello! This is the PowerTokens emulator, a deterministic stand-in for a GLM model."


@dataclass(frozen=True)
class Answer:
    """Reply text and a one-sentence account of how it was found (for reasoning)."""

    text: str
    reasoning: str


def message_text(message: object) -> str:
    """Text of a message: the string content, or its text parts joined by newlines."""
    if not isinstance(message, dict):
        return ""
    content = message.get("content")
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = [
            p.get("text", "")
            for p in content
            if isinstance(p, dict) and p.get("type") == "text" and isinstance(p.get("text"), str)
        ]
        return "\n".join(parts)
    return ""


def _short(text: str, limit: int = 16) -> str:
    """At most ``limit`` words of ``text``, ending in one punctuation mark."""
    words = text.split()
    short = " ".join(words[:limit]) + (" ..." if len(words) > limit else "")
    return short if short.endswith((".", "?", "!")) else short + "."


def tool_results_answer(messages: list[dict[str, Any]]) -> Answer:
    """Answer from the tool messages that end the conversation."""
    names: dict[str, str] = {}
    for message in messages:
        for call in message.get("tool_calls") or []:
            if isinstance(call, dict) and isinstance(call.get("function"), dict):
                names[str(call.get("id"))] = str(call["function"].get("name", "the tool"))
    results: list[str] = []
    used: list[str] = []
    for message in reversed(messages):
        if message.get("role") != "tool":
            break
        name = names.get(str(message.get("tool_call_id")), "the tool")
        result = message_text(message).strip()
        end = "" if result.endswith((".", "!", "?")) else "."
        results.append(f"According to {name}: {result}{end}")
        used.append(name)
    results.reverse()
    sources = ", ".join(dict.fromkeys(reversed(used)))
    return Answer(" ".join(results), f"The results from {sources} are in; I will answer from them.")


def echo_text(user_text: str) -> str | None:
    """The text after the first ``echo:`` (one space after the colon dropped), verbatim.

    None when there is no directive.
    """
    at = user_text.find(_ECHO)
    if at < 0:
        return None
    rest = user_text[at + len(_ECHO) :]
    return rest[1:] if rest.startswith(" ") else rest


def _split_prompt(text: str) -> tuple[str, str]:
    """Return (question, inline context) of a user text, following RAG prompt markers."""
    marks = list(_MARK.finditer(text))
    if any(m.group("kind").lower() in ("query", "question", "q") for m in marks):
        question = ""
        context = [text[: marks[0].start()]]
        for i, mark in enumerate(marks):
            end = marks[i + 1].start() if i + 1 < len(marks) else len(text)
            segment = text[mark.end() : end]
            kind = mark.group("kind").lower()
            if kind in ("query", "question", "q"):
                question = segment.strip()
            elif kind.startswith("context"):
                context.append(segment)
        return question, "\n".join(context)
    parts = sentences(text)
    if len(parts) > 1:
        asked = [s for s in parts if s.endswith("?")]
        question = asked[-1] if asked else parts[-1]
        return question, "\n".join(s for s in parts if s != question)
    return text.strip(), ""


def _is_instruction(sentence: str) -> bool:
    low = sentence.lower()
    if low.startswith(_INSTRUCTION_STARTS) or "prior knowledge" in low:
        return True
    return "context" in low and any(w in low for w in ("answer", "question", "query"))


def _key_words(text: str) -> list[str]:
    words = [w for w in re.findall(r"[^\W_]+", text) if w.lower() not in STOPWORDS]
    return list(dict.fromkeys(words))[:6]


def context_answer(
    messages: list[dict[str, Any]], user_text: str, seed: int = 0
) -> tuple[Answer, str]:
    """Answer ``user_text`` from the conversation's context; also return the question."""
    question, inline = _split_prompt(user_text)
    pool: list[str] = []
    last_user = max((i for i, m in enumerate(messages) if m.get("role") == "user"), default=-1)
    for index, message in enumerate(messages):
        if message.get("role") == "system" or (message.get("role") == "user" and index < last_user):
            pool.extend(sentences(message_text(message)))
    pool.extend(sentences(inline))
    candidates = [s for s in pool if not _is_instruction(s)]
    wanted = set(content_words(question))
    best, best_score = "", 0
    for sentence in candidates:
        score = len(wanted & set(content_words(sentence)))
        if score > best_score:
            best, best_score = sentence, score
    if best:
        shared = [w for w in dict.fromkeys(content_words(best)) if w in wanted]
        reasoning = (
            f"The user asks: {_short(question)} The context has {len(candidates)} "
            f"sentence{'' if len(candidates) == 1 else 's'}; "
            f"the best match mentions {', '.join(shared)}."
        )
        return Answer(best, reasoning), question
    topic = " ".join(_key_words(question))
    if not topic:
        return Answer(_GREETING, "The user greets me. I will introduce myself briefly."), question
    template = _FALLBACKS[(seed + sum(map(ord, topic))) % len(_FALLBACKS)]
    reasoning = (
        f"The user asks about {topic}. There is no context to quote, "
        "so I will restate the question."
    )
    return Answer(template.format(topic=topic), reasoning), question


def _between(text: str, start: str, end: str) -> str | None:
    """The text after the first ``start`` up to the last ``end`` after it, or None."""
    at = text.find(start)
    if at < 0:
        return None
    until = text.rfind(end, at + len(start))
    return text[at + len(start) : until] if until >= 0 else None


def _refine_parts(text: str) -> tuple[str, str, str] | None:
    """(question, new context, existing answer) of a LlamaIndex refine prompt, or None."""
    low = text.lower()
    if "original answer:" in low and "new context:" in low:
        existing = _between(text, "\nOriginal Answer:", "\nNew Answer:")
        head = text[: text.rfind("\nOriginal Answer:")]
        question_at = head.rfind("\nQuery:")
        context = _between(head, "New Context:", "\nQuery:")
        if existing is None or question_at < 0 or context is None:
            return None
        return head[question_at + len("\nQuery:") :].strip(), context, existing.strip()
    if "we have provided an existing answer:" in low and "refined answer:" in low:
        question = _between(text, "original query is as follows:", "\nWe have provided")
        existing = _between(text, "existing answer:", "\nWe have the opportunity")
        context = _between(text, "-----\n", "\n-----")
        if question is None or existing is None or context is None:
            return None
        return question.strip(), context.strip("-\n"), existing.strip()
    return None


def _restates(answer: str) -> bool:
    """Whether ``answer`` is this model's own no-context reply (it answers nothing)."""
    return answer.startswith("You asked about ") or answer == _GREETING


def refine_answer(user_text: str) -> Answer | None:
    """The answer to a LlamaIndex refine prompt (an existing answer and new context), or
    None when ``user_text`` is not one.

    The best new-context sentence (as for a RAG prompt) replaces the existing answer when
    it shares more meaningful words with the question; otherwise the existing answer is
    repeated verbatim ("when in doubt, repeat the original answer"). An existing answer
    that only restated the question counts as no answer.
    """
    parts = _refine_parts(user_text)
    if parts is None:
        return None
    question, context, existing = parts
    wanted = set(content_words(question))
    candidates = [s for s in sentences(context) if not _is_instruction(s)]
    best, best_score = "", 0
    for sentence in candidates:
        score = len(wanted & set(content_words(sentence)))
        if score > best_score:
            best, best_score = sentence, score
    kept = 0 if _restates(existing) or not existing else len(wanted & set(content_words(existing)))
    if best and (best_score > kept or not existing):
        reasoning = (
            f"The user asks: {_short(question)} The new context answers it better than "
            "the original answer; I will rewrite the answer from it."
        )
        return Answer(best, reasoning)
    if existing:
        reasoning = (
            f"The user asks: {_short(question)} The new context adds nothing to the "
            "original answer; I will repeat it."
        )
        return Answer(existing, reasoning)
    return None


def _json_objects(text: str) -> list[dict[str, Any]]:
    decoder = json.JSONDecoder()
    found: list[dict[str, Any]] = []
    at = text.find("{")
    while at >= 0:
        try:
            value, end = decoder.raw_decode(text, at)
        except ValueError:
            at = text.find("{", at + 1)
            continue
        if isinstance(value, dict):
            found.append(value)
        at = text.find("{", end)
    return found


def _unescape(text: str) -> str:
    return text.replace("{{", "{").replace("}}", "}")


def json_answer(answer: Answer, question: str, system_text: str, user_text: str) -> Answer | None:
    """A JSON reply when JSON is asked for, else None.

    JSON is asked for when the question or the system prompt says "json", or the user text
    says "json" and holds a JSON schema (LangChain's format instructions, LlamaIndex's
    ``PydanticOutputParser`` format string with its doubled braces). The object has exactly
    the schema's properties, each filled by its name from the prompt (see
    :func:`.tools.fill_arguments`).
    """
    schemas = [
        o
        for o in _json_objects(user_text) + _json_objects(system_text)
        if isinstance(o.get("properties"), dict)
    ]
    if not schemas and "{{" in user_text + system_text:
        # LlamaIndex's PydanticOutputParser sends its schema with doubled braces.
        schemas = [
            o
            for o in _json_objects(_unescape(user_text)) + _json_objects(_unescape(system_text))
            if isinstance(o.get("properties"), dict)
        ]
    asked = _JSON_WORD.search(question) or _JSON_WORD.search(system_text)
    if not (asked or (schemas and _JSON_WORD.search(user_text))):
        return None
    if not schemas:
        text = json.dumps({"answer": answer.text}, ensure_ascii=False)
        return Answer(text, answer.reasoning + " The user wants JSON.")
    source = "\n".join(
        s
        for s in sentences(re.sub(r"```.*?```|\{.*\}", " ", user_text, flags=re.S))
        if not any(w in s.lower() for w in ("schema", "formatted", "output should"))
    )
    args, _ = fill_arguments(schemas[-1], source, complete=True)
    return Answer(
        json.dumps(args, ensure_ascii=False),
        "The user wants JSON that follows the given schema. I will fill it from the prompt.",
    )


def _image_kind(url: str) -> str:
    if url.startswith("data:"):
        return url[5:].split(";", 1)[0].split(",", 1)[0] or "data URI"
    return urlsplit(url).hostname or "unknown source"


def image_note(message: dict[str, Any]) -> str:
    """'I received an image (<kind>).' for the image parts of ``message``, or ''."""
    content = message.get("content")
    kinds: list[str] = []
    if isinstance(content, list):
        for part in content:
            if isinstance(part, dict) and part.get("type") == "image_url":
                image = part.get("image_url")
                url = image.get("url") if isinstance(image, dict) else None
                kinds.append(_image_kind(url) if isinstance(url, str) else "unknown source")
    if not kinds:
        return ""
    if len(kinds) == 1:
        return f"I received an image ({kinds[0]})."
    return f"I received {len(kinds)} images ({', '.join(kinds)})."
