"""Client settings: API key and base URL from the environment, timeouts, headers."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import os
import warnings
from dataclasses import dataclass
from urllib.parse import urlsplit

import httpx

from ._exceptions import RequestValidationError
from ._version import __version__

__all__ = [
    "API_KEY_ENV",
    "BASE_URL_ENV",
    "DEFAULT_BASE_URL",
    "Timeout",
    "resolve_api_key",
    "resolve_base_url",
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


def resolve_api_key(api_key: str | None) -> str | None:
    """The explicit key, else ``POWERTOKENS_API_KEY``; None when neither is set."""
    if api_key:
        return api_key
    return os.environ.get(API_KEY_ENV) or None


def resolve_base_url(base_url: str | None) -> str:
    """The explicit URL, else ``POWERTOKENS_BASE_URL``, else the public endpoint."""
    url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise RequestValidationError("base_url", "must be an http(s) URL", url)
    return url.rstrip("/")


def is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        return False
    mapped = getattr(address, "ipv4_mapped", None)  # [::ffff:127.0.0.1] is loopback too
    return address.is_loopback or (mapped is not None and mapped.is_loopback)


_warned_plain_http: set[str] = set()


def warn_if_plain_http(url: str) -> None:
    """Warn once per host when the key would travel unencrypted beyond this machine."""
    parts = urlsplit(url)
    if parts.scheme != "http" or is_loopback(url):
        return
    host = parts.hostname or ""
    if host in _warned_plain_http:
        return
    _warned_plain_http.add(host)
    warnings.warn(
        f"base_url {url!r} uses plain http to a non-loopback host: the API key "
        "would be sent unencrypted. Use https.",
        UserWarning,
        stacklevel=4,
    )
