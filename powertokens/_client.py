"""The sync and async clients: the only place that does I/O.

Everything else (building, validation, decoding, errors, retry decisions) lives in
``_base``, ``_sse``, ``_stream`` and ``_retry``; the two classes here mirror each
other and differ only in ``await``.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import time
import weakref
from collections.abc import AsyncGenerator, AsyncIterator, Generator, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AbstractContextManager
from types import TracebackType
from typing import Any

import httpx
from typing_extensions import Self, Unpack

from ._base import DEFAULT_LIMITS, BaseClient, Prepared, shared_ssl_context
from ._config import Timeout
from ._exceptions import APIError, APIStatusError, StreamInterruptedError
from ._models import ChatCompletion, ChatCompletionRequest
from ._request import ChatParams, MessageLike
from ._sse import SSEDecoder
from ._stream import StreamAccumulator, StreamDelta

__all__ = ["AsyncPowerTokens", "AsyncStream", "PowerTokens", "Stream"]

TimeoutLike = Timeout | httpx.Timeout | float | None
Messages = Sequence[MessageLike] | ChatCompletionRequest


def _deltas(decoder: SSEDecoder, acc: StreamAccumulator, raw: bytes | None) -> list[StreamDelta]:
    """Feed one read (None: end of body) through the decoder and the accumulator."""
    events = decoder.feed(raw) if raw is not None else decoder.flush()
    out: list[StreamDelta] = []
    for event in events:
        delta = acc.add_data(event.data)
        if delta is not None:
            out.append(delta)
    return out


def _after_delivery(error: APIError, acc: StreamAccumulator) -> APIError:
    """An error that broke a stream after output reached the caller: never retried.

    Transport failures become :class:`StreamInterruptedError`; an in-stream error
    event keeps its type. Both carry the partial output.
    """
    if isinstance(error, APIStatusError):
        error.partial = acc.snapshot()
        return error
    if isinstance(error, StreamInterruptedError):
        return error
    return acc.interrupted(f"the stream broke after output was delivered: {error}", error)


def _new_async_pool() -> httpx.AsyncClient:
    return httpx.AsyncClient(limits=DEFAULT_LIMITS, verify=shared_ssl_context())


def _check_slots(value: int | None) -> int | None:
    if value is not None and (isinstance(value, bool) or not isinstance(value, int) or value < 1):
        raise ValueError(f"max_concurrent_requests must be an integer >= 1 or None (got {value!r})")
    return value


def _not_sse(response: httpx.Response) -> bool:
    return "text/event-stream" not in response.headers.get("content-type", "text/event-stream")


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
        max_concurrent_requests: int | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self._owns_http = http_client is None
        self._http = http_client or httpx.Client(limits=DEFAULT_LIMITS, verify=shared_ssl_context())
        slots = _check_slots(max_concurrent_requests)
        self._limit: AbstractContextManager[Any] = (
            threading.BoundedSemaphore(slots) if slots else contextlib.nullcontext()
        )

    def chat(
        self,
        messages: Messages,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = None,
        **params: Unpack[ChatParams],
    ) -> ChatCompletion:
        """Send one chat completion and return the answer (retried per WIRE.md)."""
        prepared = self._prepare(
            messages, params, stream=False, extra_headers=extra_headers, timeout=timeout
        )
        retries = 0
        while True:
            try:
                with self._limit:
                    return self._send(prepared)
            except APIError as error:
                delay = self._retry_delay(error, retries, prepared.model)
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
        """Start a streamed chat completion. The request is validated now and sent
        when iteration starts; use it as a context manager so the connection is
        closed even if you stop early."""
        prepared = self._prepare(
            messages, params, stream=True, extra_headers=extra_headers, timeout=timeout
        )
        return Stream(self, prepared)

    def _send(self, prepared: Prepared) -> ChatCompletion:
        # build_request + send, not post(): post's frame would hold the headers dict (the
        # key) as a local, shown by tracebacks that print locals (--showlocals, Sentry).
        request = self._http.build_request(
            "POST",
            prepared.url,
            content=prepared.content,
            headers=prepared.headers,
            timeout=prepared.timeout,
        )
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        return self._completion(response, response.content)

    def _open(self, prepared: Prepared) -> httpx.Response:
        request = self._http.build_request(
            "POST",
            prepared.url,
            content=prepared.content,
            headers=prepared.headers,
            timeout=prepared.timeout,
        )
        try:
            response = self._http.send(request, stream=True)
            if response.status_code >= 400 or _not_sse(response):
                try:
                    content = response.read()
                finally:
                    response.close()
                # A JSON answer to a stream request: an error, or (leniently) a whole reply.
                raise _NotAStream(self._completion(response, content))
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        return response

    def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_http:
            self._http.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


class _NotAStream(Exception):
    """Internal: the server answered a stream request with a whole JSON completion."""

    def __init__(self, completion: ChatCompletion) -> None:
        self.completion = completion


def _whole_as_deltas(acc: StreamAccumulator, completion: ChatCompletion) -> list[StreamDelta]:
    """A whole JSON completion, answered to a stream request, as one delta."""
    acc.request_id = completion.request_id
    chunk = completion.model_dump(mode="json", exclude_none=True)
    for choice in chunk.get("choices", []):
        choice["delta"] = choice.pop("message", {})
        for i, call in enumerate(choice["delta"].get("tool_calls") or []):
            call.setdefault("index", i)
    delta = acc.add_chunk(chunk)
    return [delta] if delta is not None else []


class Stream:
    """A streamed answer: iterate for :class:`StreamDelta` objects; afterwards
    :attr:`completion` holds the final :class:`ChatCompletion`.

    Nothing is retried once a delta has been handed out: a break after that raises
    :class:`StreamInterruptedError` (or the in-stream error) carrying the partial output.
    """

    def __init__(self, client: PowerTokens, prepared: Prepared) -> None:
        self._client = client
        self._prepared = prepared
        self.completion: ChatCompletion | None = None
        self.request_id: str | None = None
        """The ``X-Oneapi-Request-Id`` of the answering attempt, once its headers arrived."""
        self._iterator = self._run()

    def __iter__(self) -> Iterator[StreamDelta]:
        return self._iterator

    def __next__(self) -> StreamDelta:
        return next(self._iterator)

    def final_completion(self) -> ChatCompletion:
        """Read whatever is left and return the final completion."""
        for _ in self._iterator:
            pass
        if self.completion is None:
            raise RuntimeError("the stream was closed before it finished")
        return self.completion

    def close(self) -> None:
        """Stop reading and close the connection."""
        self._iterator.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _run(self) -> Generator[StreamDelta, None, None]:
        client, prepared = self._client, self._prepared
        retries = 0
        while True:
            acc = StreamAccumulator()
            try:
                with client._limit:
                    yield from self._attempt(acc)
                return
            except APIError as error:
                if acc.emitted:
                    raise _after_delivery(error, acc)  # noqa: B904 (cause set by the error)
                delay = client._retry_delay(error, retries, prepared.model)
                if delay is None:
                    raise
            retries += 1
            time.sleep(delay)

    def _attempt(self, acc: StreamAccumulator) -> Generator[StreamDelta, None, None]:
        client = self._client
        try:
            response = client._open(self._prepared)
        except _NotAStream as whole:
            self.request_id = whole.completion.request_id
            yield from _whole_as_deltas(acc, whole.completion)
            self.completion = acc.result()
            return
        acc.request_id = self.request_id = client._request_id(response.headers)
        decoder = SSEDecoder()
        try:
            for raw in response.iter_bytes():
                yield from _deltas(decoder, acc, raw)
                if acc.done:
                    break
            else:
                yield from _deltas(decoder, acc, None)
            self.completion = acc.result()
        except httpx.TransportError as exc:
            raise client._transport_error(exc) from exc
        finally:
            response.close()


class AsyncPowerTokens(BaseClient):
    """Asynchronous client; the same API as :class:`PowerTokens` with ``await``.

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
        max_concurrent_requests: int | None = None,
    ) -> None:
        super().__init__(
            api_key=api_key,
            base_url=base_url,
            timeout=timeout,
            max_retries=max_retries,
            default_headers=default_headers,
        )
        self._owns_http = http_client is None
        self._http = http_client or _new_async_pool()
        self._slots = _check_slots(max_concurrent_requests)
        self._limit: AbstractAsyncContextManager[Any] = (
            asyncio.Semaphore(self._slots) if self._slots else contextlib.nullcontext()
        )
        self._loop: weakref.ref[asyncio.AbstractEventLoop] | None = None

    def _bind(self) -> None:
        """Follow the running event loop.

        An ``httpx.AsyncClient``'s connections and an ``asyncio.Semaphore`` belong to
        the loop that first used them; ``asyncio.run`` twice, or a test runner's loop
        per test, would break them. So a client used from a new loop gets a fresh pool
        (if it owns its pool; an injected client is the caller's to manage) and a
        fresh concurrency limit.
        """
        loop = asyncio.get_running_loop()
        if self._loop is not None and self._loop() is loop:
            return
        if self._loop is not None:
            if self._owns_http:
                self._http = _new_async_pool()
            if self._slots:
                self._limit = asyncio.Semaphore(self._slots)
        self._loop = weakref.ref(loop)

    async def chat(
        self,
        messages: Messages,
        *,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = None,
        **params: Unpack[ChatParams],
    ) -> ChatCompletion:
        """Send one chat completion and return the answer (retried per WIRE.md)."""
        prepared = self._prepare(
            messages, params, stream=False, extra_headers=extra_headers, timeout=timeout
        )
        self._bind()
        retries = 0
        while True:
            try:
                async with self._limit:
                    return await self._send(prepared)
            except APIError as error:
                delay = self._retry_delay(error, retries, prepared.model)
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
        """Start a streamed chat completion (validated now, sent on first iteration);
        use ``async with`` so the connection is closed even if you stop early."""
        prepared = self._prepare(
            messages, params, stream=True, extra_headers=extra_headers, timeout=timeout
        )
        return AsyncStream(self, prepared)

    async def _send(self, prepared: Prepared) -> ChatCompletion:
        request = self._http.build_request(  # not post(): see PowerTokens._send
            "POST",
            prepared.url,
            content=prepared.content,
            headers=prepared.headers,
            timeout=prepared.timeout,
        )
        try:
            response = await self._http.send(request)
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        return self._completion(response, response.content)

    async def _open(self, prepared: Prepared) -> httpx.Response:
        request = self._http.build_request(
            "POST",
            prepared.url,
            content=prepared.content,
            headers=prepared.headers,
            timeout=prepared.timeout,
        )
        try:
            response = await self._http.send(request, stream=True)
            if response.status_code >= 400 or _not_sse(response):
                try:
                    content = await response.aread()
                finally:
                    await response.aclose()
                raise _NotAStream(self._completion(response, content))
        except httpx.TransportError as exc:
            raise self._transport_error(exc) from exc
        return response

    async def close(self) -> None:
        """Close the connection pool (only if this client created it)."""
        if self._owns_http:
            await self._http.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()


class AsyncStream:
    """The async twin of :class:`Stream`: ``async for delta in stream``."""

    def __init__(self, client: AsyncPowerTokens, prepared: Prepared) -> None:
        self._client = client
        self._prepared = prepared
        self.completion: ChatCompletion | None = None
        self.request_id: str | None = None
        """The ``X-Oneapi-Request-Id`` of the answering attempt, once its headers arrived."""
        self._iterator = self._run()

    def __aiter__(self) -> AsyncIterator[StreamDelta]:
        return self._iterator

    async def __anext__(self) -> StreamDelta:
        return await self._iterator.__anext__()

    async def final_completion(self) -> ChatCompletion:
        """Read whatever is left and return the final completion."""
        async for _ in self._iterator:
            pass
        if self.completion is None:
            raise RuntimeError("the stream was closed before it finished")
        return self.completion

    async def close(self) -> None:
        """Stop reading and close the connection."""
        await self._iterator.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _run(self) -> AsyncGenerator[StreamDelta, None]:
        client, prepared = self._client, self._prepared
        client._bind()
        retries = 0
        while True:
            acc = StreamAccumulator()
            try:
                async with client._limit:
                    async for delta in self._attempt(acc):
                        yield delta
                return
            except APIError as error:
                if acc.emitted:
                    raise _after_delivery(error, acc)  # noqa: B904 (cause set by the error)
                delay = client._retry_delay(error, retries, prepared.model)
                if delay is None:
                    raise
            retries += 1
            await asyncio.sleep(delay)

    async def _attempt(self, acc: StreamAccumulator) -> AsyncGenerator[StreamDelta, None]:
        client = self._client
        try:
            response = await client._open(self._prepared)
        except _NotAStream as whole:
            self.request_id = whole.completion.request_id
            for delta in _whole_as_deltas(acc, whole.completion):
                yield delta
            self.completion = acc.result()
            return
        acc.request_id = self.request_id = client._request_id(response.headers)
        decoder = SSEDecoder()
        try:
            async for raw in response.aiter_bytes():
                for delta in _deltas(decoder, acc, raw):
                    yield delta
                if acc.done:
                    break
            else:
                for delta in _deltas(decoder, acc, None):
                    yield delta
            self.completion = acc.result()
        except httpx.TransportError as exc:
            raise client._transport_error(exc) from exc
        finally:
            await response.aclose()
