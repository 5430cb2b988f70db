"""Client settings: API key and base URL from the environment, timeouts, headers."""

from __future__ import annotations

import ipaddress
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
    """Timeouts in seconds (WIRE.md, "Transport practice").

    ``read`` bounds the wait for a whole non-stream answer's bytes, which can take
    minutes while the model thinks; ``stream_idle`` bounds the gap between two
    reads of a stream, so a stalled stream fails while a long healthy one does not.
    """

    connect: float = 10.0
    read: float = 600.0
    stream_idle: float = 120.0
    write: float = 30.0
    pool: float = 60.0

    @classmethod
    def coerce(cls, value: Timeout | httpx.Timeout | float | None) -> Timeout:
        """Accept our Timeout, an httpx.Timeout, a number (every phase) or None (defaults)."""
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
        if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
            raise RequestValidationError("timeout", "must be a positive number of seconds", value)
        seconds = float(value)
        return cls(seconds, seconds, seconds, seconds, seconds)

    def for_request(self, *, stream: bool) -> httpx.Timeout:
        read = self.stream_idle if stream else self.read
        return httpx.Timeout(connect=self.connect, read=read, write=self.write, pool=self.pool)


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
