"""A stream's read loop, sync and async: attempts, retries, fallbacks and the deadline.

Each attempt reads response bytes through the :class:`SSEDecoder` and the
:class:`StreamAccumulator` and yields the deltas. Retries follow ``docs/wire.md``,
"Retries": only while nothing has been delivered; so does the switch to the next of
``fallback_models`` when the model stays overloaded. A deadline (``Timeout(total=...)``)
runs from the first send until the stream ends: it cuts each attempt's timeouts and
backoff, and is checked between reads, so a server that sends only ``: PING`` comments
cannot hold a stream open; passing it raises :class:`~powertokens.DeadlineExceededError`,
with ``partial`` once output was delivered.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncGenerator, Generator
from typing import Protocol

import httpx

from ._accumulator import StreamAccumulator, StreamDelta
from ._budget import warn_if_exhausted
from ._deadline import Deadline
from ._exceptions import APIError, APIStatusError, DeadlineExceededError, StreamInterruptedError
from ._models import ChatCompletion
from ._pools import ConcurrencyLimit, _NoLimit
from ._request import Prepared
from ._response import (
    HTTPX_ERRORS,
    decode_completion,
    is_event_stream,
    request_id,
    transport_error,
)
from ._sse import SSEDecoder

__all__ = ["AsyncStreamClient", "StreamClient", "StreamState", "arun_stream", "run_stream"]


class StreamClient(Protocol):
    """What a stream needs of :class:`~powertokens.PowerTokens` (no import: no cycle)."""

    _limit: ConcurrencyLimit | _NoLimit

    def _acquire(self, prepared: Prepared, deadline: Deadline | None = None) -> None: ...
    def _send(self, prepared: Prepared, deadline: Deadline | None = None) -> httpx.Response: ...
    def _read(self, response: httpx.Response, deadline: Deadline | None = None) -> bytes: ...
    def _next_attempt(
        self, error: APIError, retries_done: int, prepared: Prepared, deadline: Deadline | None
    ) -> float | Prepared: ...


class AsyncStreamClient(Protocol):
    """What an async stream needs of :class:`~powertokens.AsyncPowerTokens`."""

    _limit: ConcurrencyLimit | _NoLimit

    async def _acquire(self, prepared: Prepared, deadline: Deadline | None = None) -> None: ...
    async def _send(
        self, prepared: Prepared, deadline: Deadline | None = None
    ) -> httpx.Response: ...
    async def _read(self, response: httpx.Response, deadline: Deadline | None = None) -> bytes: ...
    def _next_attempt(
        self, error: APIError, retries_done: int, prepared: Prepared, deadline: Deadline | None
    ) -> float | Prepared: ...


_DRAIN_LIMIT = 64 * 1024
"""Bytes read past ``[DONE]`` to reuse the connection; beyond that it is closed instead."""

_STILL_STREAMING = "while the stream was still being read"


class StreamState:
    """What a stream's generator shares with its ``Stream`` object (no back reference)."""

    __slots__ = ("acc", "completion", "fallback_from", "request_id")

    def __init__(self) -> None:
        self.acc: StreamAccumulator | None = None
        self.completion: ChatCompletion | None = None
        self.request_id: str | None = None
        self.fallback_from: list[str] = []


def _feed(decoder: SSEDecoder, acc: StreamAccumulator, raw: bytes | None) -> list[StreamDelta]:
    """One read (None: end of body) through the decoder and the accumulator.

    The decoder stops at ``[DONE]`` and the loop at a stop sequence, so nothing after
    either is parsed. An event over ``max_event_bytes`` raises
    :class:`StreamInterruptedError` with what arrived before it as ``partial``.
    """
    out: list[StreamDelta] = []
    try:
        events = decoder.feed(raw) if raw is not None else decoder.flush()
    except StreamInterruptedError as error:  # an event over max_event_bytes
        error.partial = acc.snapshot()
        error.request_id = acc.request_id
        raise
    for event in events:
        delta = acc.add_data(event.data)
        if delta is not None:
            out.append(delta)
        if acc.done or acc.stopped:
            break  # nothing after [DONE] or a stop sequence is parsed
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


def _past_deadline(deadline: Deadline, error: APIError, acc: StreamAccumulator) -> None:
    """Raise when ``error`` is the deadline's, with the output delivered before it."""
    try:
        deadline.check(error)
    except DeadlineExceededError as late:
        if acc.emitted and late.partial is None:
            late.partial = acc.snapshot()
        late.request_id = late.request_id or acc.request_id
        raise


def run_stream(
    client: StreamClient, prepared: Prepared, state: StreamState
) -> Generator[StreamDelta, None, None]:
    deadline = None if prepared.total is None else Deadline(prepared.total)
    retries = 0
    while True:
        acc = state.acc = StreamAccumulator(
            prepared.stops, single_tool_call=prepared.single_tool_call
        )
        try:
            client._acquire(prepared, deadline)
            try:
                yield from _attempt(client, prepared, state, acc, deadline)
            finally:
                client._limit.release()
            if prepared.fallback_from and state.completion is not None:
                state.completion.fallback_from = list(prepared.fallback_from)
            return
        except APIError as error:
            if deadline is not None:
                _past_deadline(deadline, error, acc)
            if acc.emitted:
                raise _after_delivery(error, acc)  # noqa: B904 (cause set by the error)
            step = client._next_attempt(error, retries, prepared, deadline)
            if isinstance(step, Prepared):  # the next of fallback_models: no output yet
                prepared, retries = step, 0
                state.fallback_from = list(prepared.fallback_from)
                continue
        retries += 1
        time.sleep(step)


def _attempt(
    client: StreamClient,
    prepared: Prepared,
    state: StreamState,
    acc: StreamAccumulator,
    deadline: Deadline | None,
) -> Generator[StreamDelta, None, None]:
    response = client._send(prepared, deadline)
    try:
        state.request_id = acc.request_id = request_id(response.headers)
        if response.status_code >= 400 or not is_event_stream(response):
            delta = acc.adopt(decode_completion(response, client._read(response, deadline)))
            if delta is not None:
                yield delta
            state.completion = warn_if_exhausted(acc.result())
            return
        decoder = SSEDecoder(prepared.max_event_bytes)
        chunks = response.iter_bytes()
        clock = time.monotonic
        for raw in chunks:
            yield from _feed(decoder, acc, raw)
            if acc.finished:
                break
            # Each read returns within the idle timeout, but a comment or byte at a time
            # can go on for ever: the deadline is checked between reads.
            if deadline is not None and clock() >= deadline.end:
                raise deadline.exceeded(_STILL_STREAMING, acc.request_id)
        else:
            yield from _feed(decoder, acc, None)
        state.completion = warn_if_exhausted(acc.result())
        if acc.done:  # read to the end of the body: the connection can be reused
            seen = 0
            for raw in chunks:
                seen += len(raw)
                if seen > _DRAIN_LIMIT or (deadline is not None and clock() >= deadline.end):
                    break
    except HTTPX_ERRORS as exc:
        if state.completion is not None:
            return  # the answer was complete; only the tail of the body was lost
        raise transport_error(exc, response)  # noqa: B904 (cause set by transport_error)
    finally:
        response.close()


async def arun_stream(
    client: AsyncStreamClient, prepared: Prepared, state: StreamState
) -> AsyncGenerator[StreamDelta, None]:
    deadline = None if prepared.total is None else Deadline(prepared.total)
    retries = 0
    while True:
        acc = state.acc = StreamAccumulator(
            prepared.stops, single_tool_call=prepared.single_tool_call
        )
        try:
            await client._acquire(prepared, deadline)
            attempt = _aattempt(client, prepared, state, acc, deadline)
            try:
                async for delta in attempt:
                    yield delta
            finally:
                await attempt.aclose()  # `async for` leaves an abandoned generator open
                client._limit.release()
            if prepared.fallback_from and state.completion is not None:
                state.completion.fallback_from = list(prepared.fallback_from)
            return
        except APIError as error:
            if deadline is not None:
                _past_deadline(deadline, error, acc)
            if acc.emitted:
                raise _after_delivery(error, acc)  # noqa: B904 (cause set by the error)
            step = client._next_attempt(error, retries, prepared, deadline)
            if isinstance(step, Prepared):  # the next of fallback_models: no output yet
                prepared, retries = step, 0
                state.fallback_from = list(prepared.fallback_from)
                continue
        retries += 1
        await asyncio.sleep(step)


async def _aattempt(
    client: AsyncStreamClient,
    prepared: Prepared,
    state: StreamState,
    acc: StreamAccumulator,
    deadline: Deadline | None,
) -> AsyncGenerator[StreamDelta, None]:
    response = await client._send(prepared, deadline)
    try:
        state.request_id = acc.request_id = request_id(response.headers)
        if response.status_code >= 400 or not is_event_stream(response):
            body = await client._read(response, deadline)
            delta = acc.adopt(decode_completion(response, body))
            if delta is not None:
                yield delta
            state.completion = warn_if_exhausted(acc.result())
            return
        decoder = SSEDecoder(prepared.max_event_bytes)
        chunks = response.aiter_bytes()
        clock = time.monotonic
        async for raw in chunks:
            for delta in _feed(decoder, acc, raw):
                yield delta
            if acc.finished:
                break
            if deadline is not None and clock() >= deadline.end:  # see _attempt
                raise deadline.exceeded(_STILL_STREAMING, acc.request_id)
        else:
            for delta in _feed(decoder, acc, None):
                yield delta
        state.completion = warn_if_exhausted(acc.result())
        if acc.done:  # read to the end of the body: the connection can be reused
            seen = 0
            async for raw in chunks:
                seen += len(raw)
                if seen > _DRAIN_LIMIT or (deadline is not None and clock() >= deadline.end):
                    break
    except HTTPX_ERRORS as exc:
        if state.completion is not None:
            return  # the answer was complete; only the tail of the body was lost
        raise transport_error(exc, response)  # noqa: B904 (cause set by transport_error)
    finally:
        await response.aclose()
