"""``Stream`` and ``AsyncStream``: a streamed answer that owns its response.

Bytes flow one way: response bytes -> :class:`SSEDecoder` events -> the
:class:`StreamAccumulator` -> :class:`StreamDelta` objects to the caller. The stream
ends, and closes its response and frees its concurrency slot, when:

* the answer is complete: ``[DONE]`` arrived; the rest of the body (normally just the
  chunked terminator) is read so the connection goes back to the pool for the next call;
* a stop sequence ended the answer: the connection is closed at once;
* the caller leaves a ``with`` block, calls :meth:`Stream.close`, or drops the stream
  mid-way (``for delta in client.stream(...): break``): the generator holds no reference
  back to its :class:`Stream`, so dropping the last reference finalizes it at once
  (an async generator is closed by its event loop's finalizer hook), with no wait for
  the garbage collector.

The reading, retries, ``fallback_models`` and the deadline are the loop's
(:mod:`powertokens._stream_loop`).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from types import TracebackType

from typing_extensions import Self

from ._accumulator import StreamDelta
from ._models import ChatCompletion
from ._request import Prepared
from ._stream_loop import AsyncStreamClient, StreamClient, StreamState, arun_stream, run_stream
from ._tool_calls import StreamedToolCall

__all__ = ["AsyncStream", "Stream"]


class _StreamBase:
    _state: StreamState

    @property
    def completion(self) -> ChatCompletion | None:
        """The final :class:`ChatCompletion`, once the answer is complete."""
        return self._state.completion

    @property
    def request_id(self) -> str | None:
        """The ``X-Oneapi-Request-Id`` of the answering attempt, once its headers arrived."""
        return self._state.request_id

    @property
    def fallback_from(self) -> list[str]:
        """The models found overloaded before the one streaming now (``fallback_models``;
        known before the first delta, empty when the model asked for answers)."""
        return self._state.fallback_from

    @property
    def stopped_by_client(self) -> bool:
        """True once a stop sequence the service did not apply ended the answer: the
        stream ended there, and the usage it would have sent last is unknown (None)."""
        acc = self._state.acc
        return acc is not None and acc.stopped_by_client

    @property
    def tool_calls(self) -> list[StreamedToolCall]:
        """The tool calls accumulated so far, in index order."""
        acc = self._state.acc
        return acc.tool_calls if acc is not None else []


class Stream(_StreamBase):
    """A streamed answer: iterate for :class:`StreamDelta` objects; afterwards
    :attr:`completion` holds the final :class:`ChatCompletion`.

    Nothing is retried once a delta has been handed out: a break after that raises
    :class:`StreamInterruptedError` (or the in-stream error) carrying the partial output.
    """

    def __init__(self, client: StreamClient, prepared: Prepared) -> None:
        self._state = StreamState()
        self._iterator = run_stream(client, prepared, self._state)

    def __iter__(self) -> Iterator[StreamDelta]:
        return self._iterator

    def __next__(self) -> StreamDelta:
        return next(self._iterator)

    def final_completion(self) -> ChatCompletion:
        """Read whatever is left and return the final completion."""
        for _ in self._iterator:
            pass
        if self._state.completion is None:
            raise RuntimeError("the stream was closed before it finished")
        return self._state.completion

    def close(self) -> None:
        """Stop reading, close the response and free the concurrency slot."""
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


class AsyncStream(_StreamBase):
    """The async twin of :class:`Stream`: ``async for delta in stream``."""

    def __init__(self, client: AsyncStreamClient, prepared: Prepared) -> None:
        self._state = StreamState()
        self._iterator = arun_stream(client, prepared, self._state)

    def __aiter__(self) -> AsyncIterator[StreamDelta]:
        return self._iterator

    async def __anext__(self) -> StreamDelta:
        return await self._iterator.__anext__()

    async def final_completion(self) -> ChatCompletion:
        """Read whatever is left and return the final completion."""
        async for _ in self._iterator:
            pass
        if self._state.completion is None:
            raise RuntimeError("the stream was closed before it finished")
        return self._state.completion

    async def close(self) -> None:
        """Stop reading, close the response and free the concurrency slot."""
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
