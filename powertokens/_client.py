"""The two clients: the retry loop and the only I/O (send, read, sleep).

Everything else is pure and shared: settings and request preparation in ``_base``,
building and checking in ``_request``, decoding in ``_response``, stop sequences and
tool calls in ``_accumulator``, the retry rules in ``_retry``, pools and the concurrency
limit in ``_pools``, streams in ``_streaming``. :class:`PowerTokens` and
:class:`AsyncPowerTokens` differ only in ``await``.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping
from types import TracebackType

import httpx
from typing_extensions import Self, Unpack

from ._accumulator import apply_stops
from ._base import BaseClient, Messages, TimeoutLike
from ._exceptions import APIError
from ._models import ChatCompletion
from ._pools import AsyncPools, ConcurrencyLimit, SyncPool
from ._request import ChatParams, Prepared
from ._response import decode_completion, transport_error
from ._sse import DEFAULT_MAX_EVENT_BYTES
from ._streaming import AsyncStream, Stream

__all__ = ["AsyncPowerTokens", "PowerTokens"]


class PowerTokens(BaseClient):
    """Synchronous client for PowerTokens chat completions.

    >>> client = PowerTokens()                    # key from POWERTOKENS_API_KEY
    >>> answer = client.chat([{"role": "user", "content": "Hi"}], model="glm-5")
    >>> with client.stream([{"role": "user", "content": "Hi"}]) as stream:
    ...     for delta in stream:
    ...         print(delta.content, end="")
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.Client | None = None,
        max_concurrent_requests: int | ConcurrencyLimit | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            max_concurrent_requests=max_concurrent_requests,
            max_event_bytes=max_event_bytes,
        )
        self._pool = SyncPool(http_client)

    def chat(
        self,
        messages: Messages,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = None,
        **params: Unpack[ChatParams],
    ) -> ChatCompletion:
        """Send one chat completion and return the answer (retries: ``docs/wire.md``)."""
        prepared = self._prepare(
            messages, params, stream=False, extra_headers=extra_headers, timeout=timeout
        )
        retries = 0
        while True:
            try:
                self._acquire(prepared)
                try:
                    response = self._send(prepared)  # the whole body: stream=False
                finally:
                    self._limit.release()
                return apply_stops(decode_completion(response, response.content), prepared.stops)
            except APIError as error:
                delay = self._delay(error, retries, prepared.model)
                if delay is None:
                    raise
            retries += 1
            time.sleep(delay)

    def stream(
        self,
        messages: Messages,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = None,
        **params: Unpack[ChatParams],
    ) -> Stream:
        """Start a streamed chat completion. The request is checked now and sent when
        iteration starts; a ``with`` block closes it even if you stop early."""
        prepared = self._prepare(
            messages, params, stream=True, extra_headers=extra_headers, timeout=timeout
        )
        return Stream(self, prepared)

    # -- the I/O --------------------------------------------------------------------

    def _acquire(self, prepared: Prepared) -> None:
        if not self._limit.acquire(prepared.timeout.pool):
            raise self._no_slot(prepared)

    def _send(self, prepared: Prepared) -> httpx.Response:
        http = self._pool.get()
        # build_request + send, not post(): post's frame would hold the headers (the key)
        # as a local, shown by tracebacks that print locals (--showlocals, Sentry).
        request = http.build_request(
            "POST", prepared.url, content=prepared.content, headers=prepared.headers,
            timeout=prepared.timeout,
        )  # fmt: skip
        try:
            return http.send(request, stream=prepared.stream)
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc

    def _read(self, response: httpx.Response) -> bytes:
        try:
            return response.read()
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        finally:
            response.close()

    def close(self) -> None:
        """Close the connection pool now (re-made on the next call; an injected
        ``http_client`` is never closed)."""
        self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class AsyncPowerTokens(BaseClient):
    """Asynchronous client; the same API as :class:`PowerTokens` with ``await``.

    Usable from any event loop, one after another or several at once (threads): each
    loop gets its own connection pool, closed when that loop shuts down, and
    ``max_concurrent_requests`` holds across all of them.

    >>> async with AsyncPowerTokens() as client:
    ...     answer = await client.chat([{"role": "user", "content": "Hi"}])
    ...     async with client.stream([{"role": "user", "content": "Hi"}]) as stream:
    ...         async for delta in stream:
    ...             print(delta.content, end="")
    """

    def __init__(
        self,
        *,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout: TimeoutLike = None,
        max_retries: int = 2,
        default_headers: Mapping[str, str] | None = None,
        http_client: httpx.AsyncClient | None = None,
        max_concurrent_requests: int | ConcurrencyLimit | None = None,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            max_concurrent_requests=max_concurrent_requests,
            max_event_bytes=max_event_bytes,
        )
        self._pools = AsyncPools(http_client)

    async def chat(
        self,
        messages: Messages,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = None,
        **params: Unpack[ChatParams],
    ) -> ChatCompletion:
        """Send one chat completion and return the answer (retries: ``docs/wire.md``)."""
        prepared = self._prepare(
            messages, params, stream=False, extra_headers=extra_headers, timeout=timeout
        )
        retries = 0
        while True:
            try:
                await self._acquire(prepared)
                try:
                    response = await self._send(prepared)  # the whole body: stream=False
                finally:
                    self._limit.release()
                return apply_stops(decode_completion(response, response.content), prepared.stops)
            except APIError as error:
                delay = self._delay(error, retries, prepared.model)
                if delay is None:
                    raise
            retries += 1
            await asyncio.sleep(delay)

    def stream(
        self,
        messages: Messages,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = None,
        **params: Unpack[ChatParams],
    ) -> AsyncStream:
        """Start a streamed chat completion (checked now, sent on first iteration);
        ``async with`` closes it even if you stop early."""
        prepared = self._prepare(
            messages, params, stream=True, extra_headers=extra_headers, timeout=timeout
        )
        return AsyncStream(self, prepared)

    # -- the I/O --------------------------------------------------------------------

    async def _acquire(self, prepared: Prepared) -> None:
        if not await self._limit.acquire_async(prepared.timeout.pool):
            raise self._no_slot(prepared)

    async def _send(self, prepared: Prepared) -> httpx.Response:
        http = self._pools.get()
        request = http.build_request(  # not post(): see PowerTokens._send
            "POST", prepared.url, content=prepared.content, headers=prepared.headers,
            timeout=prepared.timeout,
        )  # fmt: skip
        try:
            return await http.send(request, stream=prepared.stream)
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc

    async def _read(self, response: httpx.Response) -> bytes:
        try:
            return await response.aread()
        except httpx.TransportError as exc:
            raise transport_error(exc) from exc
        finally:
            await response.aclose()

    async def close(self) -> None:
        """Close the connection pools now: the running loop's at once, those of other
        loops on their own loop (re-made on the next call; an injected ``http_client``
        is never closed)."""
        await self._pools.aclose()

    aclose = close

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()
