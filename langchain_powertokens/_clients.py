"""The core clients behind a ``ChatPowerTokens``: made on first use, cached per instance.

They are never copied or pickled: a copy or an unpickled model makes its own on first
use, and changing a connection field (``base_url``, ``api_key`` ...) drops them.

Connection pools: building an ``httpx`` client loads the CA bundle (~60 ms), so models
do not each build one. Sync calls share one process-wide pool (closed at exit). An
``httpx.AsyncClient``'s pool belongs to the event loop it was used on (``asyncio.run``
twice, or a test runner's loop per test, would break a shared one), so each model keeps
one per loop, built on a shared SSL context (well under a millisecond).
"""

from __future__ import annotations

import asyncio
import atexit
import ssl
import threading
from typing import TYPE_CHECKING, Any

import httpx
from typing_extensions import Self

from powertokens import AsyncPowerTokens, PowerTokens, Timeout
from powertokens._base import DEFAULT_LIMITS

if TYPE_CHECKING:
    from pydantic import SecretStr

__all__ = ["ClientCache"]

_SYNC_FIELDS = frozenset(
    {
        "api_key",
        "base_url",
        "timeout",
        "max_retries",
        "max_concurrent_requests",
        "default_headers",
        "http_client",
    }
)
_ASYNC_FIELDS = (_SYNC_FIELDS - {"http_client"}) | {"http_async_client"}
PRIVATE = ("_client", "_async_client", "_async_loop", "_async_http")
_lock = threading.RLock()
_shared: dict[str, Any] = {}


def _ssl_context() -> ssl.SSLContext:
    context = _shared.get("ssl")
    if context is None:
        with _lock:
            context = _shared.get("ssl")
            if context is None:
                context = _shared["ssl"] = httpx.create_ssl_context()
    return context


def shared_http_client() -> httpx.Client:
    """The process-wide pool for sync calls of models without an injected client."""
    client = _shared.get("sync")
    if client is None:
        with _lock:
            client = _shared.get("sync")
            if client is None:
                client = httpx.Client(limits=DEFAULT_LIMITS, verify=_ssl_context())
                _shared["sync"] = client
                atexit.register(client.close)
    return client


class ClientCache:
    """Mixin for the pydantic model that declares the fields and private attributes below."""

    if TYPE_CHECKING:
        api_key: SecretStr | None
        base_url: str | None
        timeout: float | httpx.Timeout | Timeout | None
        max_retries: int
        max_concurrent_requests: int | None
        default_headers: dict[str, str] | None
        http_client: httpx.Client | None
        http_async_client: httpx.AsyncClient | None
        _client: PowerTokens | None
        _async_client: AsyncPowerTokens | None
        _async_loop: Any
        _async_http: httpx.AsyncClient | None
        __pydantic_private__: dict[str, Any] | None

    def _client_options(self, injected: httpx.Client | httpx.AsyncClient | None) -> dict[str, Any]:
        timeout = self.timeout
        if timeout is None and injected is None:
            timeout = Timeout()  # our pools: the core's defaults, not httpx's 5 s
        return {
            "api_key": self.api_key.get_secret_value() if self.api_key is not None else None,
            "base_url": self.base_url,
            "timeout": timeout,
            "max_retries": self.max_retries,
            "max_concurrent_requests": self.max_concurrent_requests,
            "default_headers": self.default_headers,
        }

    # Private attributes are read through ``__pydantic_private__``: pydantic's attribute
    # lookup for them costs microseconds, and this runs on every call.

    def _sync_client(self) -> PowerTokens:
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        client: PowerTokens | None = private["_client"]
        if client is None:
            injected = self.http_client
            client = PowerTokens(
                **self._client_options(injected),
                http_client=injected if injected is not None else shared_http_client(),
            )
            private["_client"] = client
        return client

    def _get_async_client(self) -> AsyncPowerTokens:
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        loop = asyncio.get_running_loop()
        client: AsyncPowerTokens | None = private["_async_client"]
        injected = self.http_async_client
        if client is None or (private["_async_loop"] is not loop and injected is None):
            http = injected
            if http is None:
                http = httpx.AsyncClient(limits=DEFAULT_LIMITS, verify=_ssl_context())
                private["_async_http"] = http
            client = AsyncPowerTokens(**self._client_options(injected), http_client=http)
            private["_async_client"], private["_async_loop"] = client, loop
        return client

    def close(self) -> None:
        """Forget the sync client (the shared pool and an injected client stay open)."""
        self._forget_clients(("_client",))

    async def aclose(self) -> None:
        """Close this model's async connections (an injected client is left open)."""
        http = (self.__pydantic_private__ or {}).get("_async_http")
        self._forget_clients(("_async_client", "_async_loop", "_async_http"))
        if http is not None:
            await http.aclose()

    def _forget_clients(self, names: tuple[str, ...] = PRIVATE) -> None:
        private = self.__pydantic_private__
        if private:
            for name in names:
                private[name] = None

    def __setattr__(self, name: str, value: Any) -> None:
        super().__setattr__(name, value)
        private = self.__pydantic_private__
        if private is not None:
            if name in _SYNC_FIELDS:
                private["_client"] = None
            if name in _ASYNC_FIELDS:
                private["_async_client"] = None

    def __copy__(self) -> Self:
        copied: Self = super().__copy__()  # type: ignore[misc]
        copied._forget_clients()
        return copied

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        memo = {} if memo is None else memo
        for value in (self.__pydantic_private__ or {}).values():
            if value is not None:  # the cached clients and loop: not copied
                memo[id(value)] = None
        for value in (self.http_client, self.http_async_client):
            if value is not None:  # the caller's clients: shared, not copied
                memo[id(value)] = value
        copied: Self = super().__deepcopy__(memo)  # type: ignore[misc]
        return copied

    def __getstate__(self) -> dict[Any, Any]:
        state: dict[Any, Any] = super().__getstate__()  # type: ignore[misc]
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, **dict.fromkeys(PRIVATE)}
        return state
