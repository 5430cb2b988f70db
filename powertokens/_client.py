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
from collections.abc import Mapping, Sequence
from types import TracebackType

import httpx
from typing_extensions import Self, Unpack

from ._base import BaseClient, Messages, TimeoutLike
from ._budget import warn_if_exhausted
from ._deadline import Deadline, aread_by, read_by
from ._exceptions import APIError
from ._models import ChatCompletion
from ._pools import AsyncPools, ConcurrencyLimit, SyncPool
from ._request import ChatParams, Prepared
from ._response import HTTPX_ERRORS, SEND_ERRORS, decode_completion, transport_error
from ._sse import DEFAULT_MAX_EVENT_BYTES
from ._stops import apply_stops
from ._streaming import AsyncStream, Stream

__all__ = ["AsyncPowerTokens", "PowerTokens"]

_WAITING_FOR_SLOT = "waiting for a request slot (max_concurrent_requests)"


def _closed_client() -> APIError:
    """httpx refuses to send with a closed client (a ``RuntimeError``): say why, in
    our type (not retried: it stays closed)."""
    return APIError(
        "cannot send: the httpx client was closed. An http_client passed to PowerTokens "
        "or AsyncPowerTokens stays yours: close it only after the last call, or pass none "
        "and let the client manage (and re-make after close()) its own connections"
    )


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
        fallback_models: Sequence[str] | None = None,
        preserve_thinking: bool = False,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            max_concurrent_requests=max_concurrent_requests,
            own_pools=http_client is None,
            max_event_bytes=max_event_bytes,
            fallback_models=fallback_models,
            preserve_thinking=preserve_thinking,
        )
        self._pool = SyncPool(http_client)

    def chat(
        self,
        messages: Messages,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = None,
        fallback_models: Sequence[str] | None = None,
        preserve_thinking: bool | None = None,
        **params: Unpack[ChatParams],
    ) -> ChatCompletion:
        """Send one chat completion and return the answer (retries: ``docs/wire.md``).

        ``fallback_models`` (default: the client's; ``[]``: none) are tried in order,
        each with its own retries, once the model asked for is still overloaded (code
        1312) after its retries; only an overload falls back. The answer's
        ``fallback_from`` lists the overloaded models; when all were,
        :class:`~powertokens.ModelOverloadedError` names them in ``models_tried``.

        ``preserve_thinking`` (default: the client's) sends ``thinking.clear_thinking:
        false``: the model keeps the reasoning of earlier assistant turns, which must
        then come back complete, unmodified and in order as each assistant message's
        ``reasoning_content`` (``docs/wire.md``, "Thinking").
        """
        prepared = self._prepare(
            messages,
            params,
            stream=False,
            extra_headers=extra_headers,
            timeout=timeout,
            fallback_models=fallback_models,
            preserve_thinking=preserve_thinking,
        )
        deadline = None if prepared.total is None else Deadline(prepared.total)
        retries = 0
        while True:
            try:
                self._acquire(prepared, deadline)
                try:
                    response = self._send(prepared, deadline)
                    # Without a deadline, send() read the whole body; with one, it is
                    # read chunk by chunk so that a trickling body cannot outlast it.
                    body = response.content if deadline is None else self._read(response, deadline)
                finally:
                    self._limit.release()
                completion = apply_stops(
                    decode_completion(response, body), prepared.stops, prepared.single_tool_call
                )
                if prepared.fallback_from:
                    completion.fallback_from = list(prepared.fallback_from)
                return warn_if_exhausted(completion)
            except APIError as error:
                step = self._next_attempt(error, retries, prepared, deadline)
                if isinstance(step, Prepared):  # the next of fallback_models
                    prepared, retries = step, 0
                    continue
            retries += 1
            time.sleep(step)

    def stream(
        self,
        messages: Messages,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = None,
        fallback_models: Sequence[str] | None = None,
        preserve_thinking: bool | None = None,
        **params: Unpack[ChatParams],
    ) -> Stream:
        """Start a streamed chat completion. The request is checked now and sent when
        iteration starts; a ``with`` block closes it even if you stop early."""
        prepared = self._prepare(
            messages,
            params,
            stream=True,
            extra_headers=extra_headers,
            timeout=timeout,
            fallback_models=fallback_models,
            preserve_thinking=preserve_thinking,
        )
        return Stream(self, prepared)

    # -- the I/O --------------------------------------------------------------------

    def _acquire(self, prepared: Prepared, deadline: Deadline | None = None) -> None:
        wait = prepared.timeout.pool
        if deadline is not None:
            left = max(deadline.remaining(), 0.0)
            if wait is None or left < wait:
                if not self._limit.acquire(left):
                    raise deadline.exceeded(_WAITING_FOR_SLOT)
                return
        if not self._limit.acquire(wait):
            raise self._no_slot(prepared)

    def _send(self, prepared: Prepared, deadline: Deadline | None = None) -> httpx.Response:
        http = self._pool.get()
        if http.is_closed:
            raise _closed_client()
        # build_request + send, not post(): post's frame would hold the headers (the key)
        # as a local, shown by tracebacks that print locals (--showlocals, Sentry).
        request = http.build_request(
            "POST", prepared.url, content=prepared.content, headers=prepared.headers,
            timeout=prepared.timeout if deadline is None else deadline.timeouts(prepared.timeout),
        )  # fmt: skip
        try:
            return http.send(request, stream=prepared.stream or deadline is not None)
        except SEND_ERRORS as exc:
            raise transport_error(exc)  # noqa: B904 (the cause is set by transport_error)

    def _read(self, response: httpx.Response, deadline: Deadline | None = None) -> bytes:
        try:
            return response.read() if deadline is None else read_by(response.iter_bytes(), deadline)
        except HTTPX_ERRORS as exc:
            raise transport_error(exc, response)  # noqa: B904 (cause set by transport_error)
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
        fallback_models: Sequence[str] | None = None,
        preserve_thinking: bool = False,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
            max_concurrent_requests=max_concurrent_requests,
            own_pools=http_client is None,
            max_event_bytes=max_event_bytes,
            fallback_models=fallback_models,
            preserve_thinking=preserve_thinking,
        )
        self._pools = AsyncPools(http_client)

    async def chat(
        self,
        messages: Messages,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = None,
        fallback_models: Sequence[str] | None = None,
        preserve_thinking: bool | None = None,
        **params: Unpack[ChatParams],
    ) -> ChatCompletion:
        """Send one chat completion and return the answer (retries: ``docs/wire.md``).

        ``fallback_models`` (default: the client's; ``[]``: none) are tried in order,
        each with its own retries, once the model asked for is still overloaded (code
        1312) after its retries; only an overload falls back. The answer's
        ``fallback_from`` lists the overloaded models; when all were,
        :class:`~powertokens.ModelOverloadedError` names them in ``models_tried``.

        ``preserve_thinking`` (default: the client's) sends ``thinking.clear_thinking:
        false``: the model keeps the reasoning of earlier assistant turns, which must
        then come back complete, unmodified and in order as each assistant message's
        ``reasoning_content`` (``docs/wire.md``, "Thinking").
        """
        prepared = self._prepare(
            messages,
            params,
            stream=False,
            extra_headers=extra_headers,
            timeout=timeout,
            fallback_models=fallback_models,
            preserve_thinking=preserve_thinking,
        )
        deadline = None if prepared.total is None else Deadline(prepared.total)
        retries = 0
        while True:
            try:
                await self._acquire(prepared, deadline)
                try:
                    response = await self._send(prepared, deadline)
                    # Without a deadline, send() read the whole body; with one, it is
                    # read chunk by chunk so that a trickling body cannot outlast it.
                    body = (
                        response.content
                        if deadline is None
                        else await self._read(response, deadline)
                    )
                finally:
                    self._limit.release()
                completion = apply_stops(
                    decode_completion(response, body), prepared.stops, prepared.single_tool_call
                )
                if prepared.fallback_from:
                    completion.fallback_from = list(prepared.fallback_from)
                return warn_if_exhausted(completion)
            except APIError as error:
                step = self._next_attempt(error, retries, prepared, deadline)
                if isinstance(step, Prepared):  # the next of fallback_models
                    prepared, retries = step, 0
                    continue
            retries += 1
            await asyncio.sleep(step)

    def stream(
        self,
        messages: Messages,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = None,
        fallback_models: Sequence[str] | None = None,
        preserve_thinking: bool | None = None,
        **params: Unpack[ChatParams],
    ) -> AsyncStream:
        """Start a streamed chat completion (checked now, sent on first iteration);
        ``async with`` closes it even if you stop early."""
        prepared = self._prepare(
            messages,
            params,
            stream=True,
            extra_headers=extra_headers,
            timeout=timeout,
            fallback_models=fallback_models,
            preserve_thinking=preserve_thinking,
        )
        return AsyncStream(self, prepared)

    # -- the I/O --------------------------------------------------------------------

    async def _acquire(self, prepared: Prepared, deadline: Deadline | None = None) -> None:
        wait = prepared.timeout.pool
        if deadline is not None:
            left = max(deadline.remaining(), 0.0)
            if wait is None or left < wait:
                if not await self._limit.acquire_async(left):
                    raise deadline.exceeded(_WAITING_FOR_SLOT)
                return
        if not await self._limit.acquire_async(wait):
            raise self._no_slot(prepared)

    async def _send(self, prepared: Prepared, deadline: Deadline | None = None) -> httpx.Response:
        http = self._pools.get()
        if http.is_closed:
            raise _closed_client()
        request = http.build_request(  # not post(): see PowerTokens._send
            "POST", prepared.url, content=prepared.content, headers=prepared.headers,
            timeout=prepared.timeout if deadline is None else deadline.timeouts(prepared.timeout),
        )  # fmt: skip
        try:
            return await http.send(request, stream=prepared.stream or deadline is not None)
        except SEND_ERRORS as exc:
            raise transport_error(exc)  # noqa: B904 (the cause is set by transport_error)

    async def _read(self, response: httpx.Response, deadline: Deadline | None = None) -> bytes:
        try:
            if deadline is None:
                return await response.aread()
            return await aread_by(response.aiter_bytes(), deadline)
        except HTTPX_ERRORS as exc:
            raise transport_error(exc, response)  # noqa: B904 (cause set by transport_error)
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
