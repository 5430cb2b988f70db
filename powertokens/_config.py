"""Client settings: API key and base URL from the environment, timeouts, headers."""

from __future__ import annotations

import dataclasses
import functools
import math
import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ._exceptions import RequestValidationError
from ._version import __version__

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "Redacted",
    "Timeout",
    "check_api_key",
    "check_headers",
    "resolve_api_key",
    "resolve_base_url",
    "shown_url",
]

API_KEY_ENV = "POWERTOKENS_API_KEY"
BASE_URL_ENV = "POWERTOKENS_BASE_URL"
DEFAULT_BASE_URL = "https://api.powertokens.ai/v1"
USER_AGENT = f"powertokens-python/{__version__}"
REQUEST_ID_HEADER = "x-oneapi-request-id"


@dataclass(frozen=True)
class Timeout:
    """Timeouts in seconds (``docs/wire.md``, "Transport").

    ``read`` bounds the wait for a whole non-stream answer's bytes, which can take
    minutes while the model thinks; ``stream_idle`` bounds the gap between two
    reads of a stream, so a stalled stream fails while a long healthy one does not.

    ``total`` (None: no deadline, the default) bounds the whole call: every attempt,
    the backoff between attempts and, for a stream, everything from the first send
    until the stream ends. Each attempt's other timeouts are cut to the time left, the
    deadline is checked between reads (so a server that trickles bytes or ``: PING``
    comments cannot keep a call alive), and a retry whose wait would pass the deadline
    is not made. Passing it raises :class:`~powertokens.DeadlineExceededError`.

    Every field is a positive number of seconds; ``float("inf")`` means "no limit" for
    that phase (and, for ``total``, no deadline). Zero, negative numbers, NaN and
    non-numbers raise :class:`~powertokens.RequestValidationError` naming the field
    (``timeout.read``...). :meth:`coerce` of a bare number sets every phase but not
    ``total``.
    """

    connect: float = 10.0
    read: float = 600.0
    stream_idle: float = 120.0
    write: float = 30.0
    pool: float = 60.0
    total: float | None = None

    def __post_init__(self) -> None:
        for name in ("connect", "read", "stream_idle", "write", "pool", "total"):
            value = getattr(self, name)
            if value is None and name == "total":
                continue
            if not _is_seconds(value):
                raise RequestValidationError(
                    f"timeout.{name}",
                    "must be a positive number of seconds (inf: no limit)"
                    + (" or None" if name == "total" else ""),
                    value,
                )

    @classmethod
    def coerce(
        cls, value: Timeout | httpx.Timeout | float | None, *, total: float | None = None
    ) -> Timeout:
        """Accept our Timeout, an httpx.Timeout, a number (every phase but ``total``)
        or None (defaults). ``total``, when not None, sets the deadline (the adapters'
        ``total_timeout``)."""
        if total is not None:
            return dataclasses.replace(cls.coerce(value), total=total)
        if value is None:
            return cls()
        if isinstance(value, Timeout):
            return value
        if isinstance(value, httpx.Timeout):
            default = cls()
            read = value.read if value.read is not None else default.read
            return cls(
                connect=value.connect if value.connect is not None else default.connect,
                read=read,
                stream_idle=read,
                write=value.write if value.write is not None else default.write,
                pool=value.pool if value.pool is not None else default.pool,
            )
        if not _is_seconds(value):
            raise RequestValidationError(
                "timeout", "must be a positive number of seconds (inf: no limit)", value
            )
        seconds = float(value)
        return cls(seconds, seconds, seconds, seconds, seconds)

    def for_request(self, *, stream: bool) -> httpx.Timeout:
        read = self.stream_idle if stream else self.read
        return httpx.Timeout(
            connect=_limit(self.connect),
            read=_limit(read),
            write=_limit(self.write),
            pool=_limit(self.pool),
        )

    @property
    def deadline(self) -> float | None:
        """``total`` in seconds, None when there is no deadline (unset or inf)."""
        return _limit(self.total) if self.total is not None else None


def _is_seconds(value: object) -> bool:
    """A positive number (inf included), not NaN, not a bool."""
    return (
        not isinstance(value, bool) and isinstance(value, (int, float)) and value > 0
    )  # NaN > 0 is False


def _limit(seconds: float) -> float | None:
    """httpx's "no limit" is None: inf would overflow the socket and lock timeouts."""
    return None if seconds == math.inf else seconds


class Redacted(str):
    """What an error shows in place of a secret: a description, never the value.

    A ``str`` whose ``repr`` is itself, so ``RequestValidationError`` (which shows
    ``repr(value)``) prints ``<an API key of 41 characters: ...>`` without quotes.
    """

    __slots__ = ()

    def __repr__(self) -> str:
        return str(self)


# What can go in an HTTP header value (RFC 9110, 5.5): visible ASCII, and spaces or tabs
# between visible characters. httpx encodes str headers as ASCII, h11 refuses control
# characters and surrounding whitespace; we check first, so the value never reaches an
# error message of theirs (or httpcore's debug log of it).
_NOT_IN_HEADER = re.compile(r"[^\x21-\x7e \t]|\A[ \t]|[ \t]\Z")


def _describe(what: str, value: str, index: int) -> Redacted:
    char = value[index]
    return Redacted(f"<{what} of {len(value)} characters: U+{ord(char):04X} at index {index}>")


def check_api_key(api_key: object, *, source: str = "api_key") -> str | None:
    """The key as it is sent: surrounding whitespace (a key file's trailing newline,
    Windows line endings) trimmed; None when that leaves nothing.

    Raises :class:`RequestValidationError` for anything that cannot go in an
    ``Authorization`` header, showing where the offending character is, never the key.
    ``source`` names where the key came from (``api_key`` or the environment variable).
    """
    if api_key is None:
        return None
    if not isinstance(api_key, str):
        raise RequestValidationError(
            "api_key",
            f"{_from(source)}must be a str",
            Redacted(f"<a value of type {type(api_key).__name__}>"),
        )
    key = api_key.strip()
    bad = _NOT_IN_HEADER.search(key)
    if bad is not None:
        # The index in the value as given, so it matches what the user sees in the file.
        index = len(api_key) - len(api_key.lstrip()) + bad.start()
        raise RequestValidationError(
            "api_key",
            f"{_from(source)}must be printable ASCII (it is sent in an HTTP header); "
            "surrounding whitespace is trimmed",
            _describe("an API key", api_key, index),
        )
    return key or None


def resolve_api_key(api_key: str | None) -> str | None:
    """The explicit key, else ``POWERTOKENS_API_KEY``, trimmed and checked
    (:func:`check_api_key`); None when neither is set."""
    key = check_api_key(api_key or None)
    if key is not None:
        return key
    return check_api_key(os.environ.get(API_KEY_ENV) or None, source=API_KEY_ENV)


def _from(source: str) -> str:
    return "" if source in ("api_key", "base_url") else f"(from ${source}) "


def shown_url(url: str) -> str:
    """``url`` as an error may show it: anything up to an ``@`` after the scheme (a
    ``user:password@``, however malformed) and any query or fragment (a gateway token
    may sit there) replaced by ``***``."""
    scheme, sep, rest = url.partition("://")
    if not sep:
        scheme, rest = "", url
    if "@" in rest:
        rest = "***@" + rest.rpartition("@")[2]
    cut = min((i for i in (rest.find("?"), rest.find("#")) if i >= 0), default=-1)
    if cut >= 0:
        rest = rest[: cut + 1] + "***"
    return f"{scheme}{sep}{rest}"


def resolve_base_url(base_url: str | None) -> str:
    """The explicit URL, else ``POWERTOKENS_BASE_URL``, else the public endpoint;
    surrounding whitespace trimmed, a trailing ``/`` dropped.

    Raises :class:`RequestValidationError` (showing no password) for a URL that holds
    credentials (httpx would send them as Basic auth in place of the key), is not
    http(s), has a ``?query`` or ``#fragment`` (``/chat/completions`` is appended to
    the URL), or that httpx cannot parse.
    """
    url: object = base_url.strip() if isinstance(base_url, str) else base_url
    source = "base_url"
    if not url:
        url = os.environ.get(BASE_URL_ENV, "").strip()
        source = BASE_URL_ENV
        if not url:
            return DEFAULT_BASE_URL
    if not isinstance(url, str):
        raise RequestValidationError(
            "base_url", "must be a str", Redacted(f"<a value of type {type(url).__name__}>")
        )
    problem = _url_problem(url)
    if problem is None:
        return url.rstrip("/")
    raise RequestValidationError("base_url", _from(source) + problem, shown_url(url))


@functools.lru_cache(maxsize=64)  # a pure function of the text: clients reuse URLs
def _url_problem(url: str) -> str | None:
    if "@" in url:  # checked first: a malformed password must not reach another message
        return (
            "must not hold credentials (user:password@; an @ in the path is written %40): "
            "httpx would send them as Basic auth in place of the API key"
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # a ValueError for a port that is not a number or out of range
    except ValueError as exc:
        return f"is not a valid URL ({exc})"
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return "must be an http(s) URL"
    if "?" in url or "#" in url:
        return "must not have a ?query or #fragment: /chat/completions is appended to it"
    try:
        httpx.URL(url)
    except httpx.InvalidURL as exc:
        return f"is not a valid URL ({exc})"
    return None


def check_headers(headers: Mapping[str, str], field: str = "default_headers") -> None:
    """Raise :class:`RequestValidationError` for a header httpx or h11 would refuse at
    send time (where the error, retried as a network error, would show the value)."""
    for name, value in headers.items():
        if not isinstance(name, str) or not re.fullmatch(r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", name):
            raise RequestValidationError(field, "header names must be HTTP tokens", name)
        entry = f"{field}[{name!r}]"
        if not isinstance(value, str):
            raise RequestValidationError(
                entry, "must be a str", Redacted(f"<a value of type {type(value).__name__}>")
            )
        bad = _NOT_IN_HEADER.search(value)
        if bad is not None:  # the value may be a secret (a token header): described only
            raise RequestValidationError(
                entry,
                "must be printable ASCII without surrounding whitespace (an HTTP header value)",
                _describe("a value", value, bad.start()),
            )
