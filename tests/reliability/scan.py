"""Scanning for the sentinel key: every text form of an error, and any text at all."""

from __future__ import annotations

import pickle
import traceback
from typing import Any

from .stacks import KEY


def assert_no_key(*texts: Any) -> None:
    for text in texts:
        shown = text.decode("utf-8", "replace") if isinstance(text, bytes) else str(text)
        assert KEY not in shown, f"the API key leaked into: {shown[:300]!r}"


def error_texts(error: BaseException) -> list[Any]:
    """``str``, ``repr``, the full traceback (causes included) with and without the local
    variables of every frame (as ``--showlocals``, rich or Sentry show them), the
    attributes of every error in the chain, and the pickle of a powertokens error (which
    must round-trip)."""
    with_locals = traceback.TracebackException.from_exception(error, capture_locals=True)
    texts: list[Any] = ["".join(traceback.format_exception(error)), "".join(with_locals.format())]
    seen: BaseException | None = error
    while seen is not None:
        texts += [str(seen), repr(seen), repr(getattr(seen, "__dict__", {}))]
        seen = seen.__cause__ or seen.__context__
    if type(error).__module__.startswith(("powertokens", "langchain_powertokens")):
        data = pickle.dumps(error)
        clone = pickle.loads(data)
        assert type(clone) is type(error)
        assert str(clone) == str(error)
        texts.append(data)
    return texts


def assert_error_has_no_key(error: BaseException) -> None:
    assert_no_key(*error_texts(error))
