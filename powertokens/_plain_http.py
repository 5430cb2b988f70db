"""The warning when the API key would travel unencrypted: plain http off loopback or via a proxy."""

from __future__ import annotations

import ipaddress
import os
import re
import sys
import warnings
from urllib.parse import urlsplit
from urllib.request import getproxies

import httpx

__all__ = ["is_loopback", "warn_if_plain_http"]


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


def warn_if_plain_http(url: str, *, env_proxies: bool = False) -> None:
    """Warn once per host when the key would travel unencrypted beyond this machine:
    to a non-loopback host, or (``env_proxies``: our own pools, which honour the
    environment like any ``httpx`` client) through a proxy named in the environment.
    An https URL is tunnelled through a proxy (CONNECT): the proxy sees no key."""
    parts = urlsplit(url)
    if parts.scheme != "http":
        return
    variable = _proxy_variable(url) if env_proxies else None
    if variable is None and is_loopback(url):
        return
    host = parts.hostname or ""
    seen = host if variable is None else f"{host} via {variable}"
    if seen in _warned_plain_http:
        return
    _warned_plain_http.add(seen)
    if variable is None:
        message = (
            f"base_url {url!r} uses plain http to a non-loopback host: the API key "
            "would be sent unencrypted. Use https."
        )
    else:
        message = (
            f"base_url {url!r} uses plain http through the proxy set in {variable}: "
            "the API key would be sent unencrypted to the proxy. Use https, list the "
            "host in NO_PROXY, or pass an http_client made with trust_env=False."
        )
    warnings.warn(message, UserWarning, stacklevel=4)


# The spellings that carry a proxy for plain http (getproxies() reads any case; elsewhere
# than macOS and Windows, where it also reads the system settings, these are checked first).
_PROXY_VARIABLES = ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY")


def _proxy_variable(url: str) -> str | None:
    """Where the proxy that an httpx client with ``trust_env`` would send a plain-http
    request for ``url`` through is set (an environment variable's name, or "the system
    proxy settings"), or None when it goes direct. httpx's rules: ``urllib``'s
    ``getproxies()``, an ``http`` proxy before an ``all`` one, and ``NO_PROXY``
    entries matched as curl does (``*`` for every host, ``.example.com`` for its
    subdomains, ``example.com`` for it and its subdomains, IP addresses exactly)."""
    if sys.platform not in ("darwin", "win32") and not any(
        name in os.environ for name in _PROXY_VARIABLES
    ):
        return None  # the usual case, without getproxies()'s walks through os.environ
    proxies = getproxies()
    scheme = "http" if proxies.get("http") else "all" if proxies.get("all") else None
    if scheme is None:
        return None
    target = httpx.URL(url)
    for entry in (e.strip() for e in proxies.get("no", "").split(",")):
        if entry == "*":
            return None
        if entry and _bypasses(entry, target):
            return None
    for name, value in os.environ.items():
        if name.lower() == f"{scheme}_proxy" and value == proxies[scheme]:
            return name
    return "the system proxy settings"


def _bypasses(entry: str, url: httpx.URL) -> bool:
    """Whether one ``NO_PROXY`` entry sends ``url`` direct (as httpx reads it)."""
    if "://" in entry:
        pattern = entry
    else:
        host = entry.split("/")[0]
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            pattern = f"all://{entry}" if entry.lower() == "localhost" else f"all://*{entry}"
        else:
            pattern = f"all://[{entry}]" if address.version == 6 else f"all://{entry}"
    try:
        parsed = httpx.URL(pattern)
    except httpx.InvalidURL:
        return False
    if parsed.scheme not in ("all", url.scheme):
        return False
    if parsed.port is not None and parsed.port != url.port:
        return False
    host = parsed.host
    if not host or host == "*":
        return True
    if host.startswith("*."):
        return re.fullmatch(rf".+\.{re.escape(host[2:])}", url.host) is not None
    if host.startswith("*"):
        return re.fullmatch(rf"(.+\.)?{re.escape(host[1:])}", url.host) is not None
    return host == url.host
