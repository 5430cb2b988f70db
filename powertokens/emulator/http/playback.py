"""Putting a reply on the wire: JSON, or an SSE stream shaped by a fault.

Stream framing (docs/wire.md "Stream"): ``: PING`` first, then ``data: <chunk>`` events each
followed by a blank line, the final chunk with ``finish_reason`` and ``usage``,
``data: [DONE]``, end of the chunked body. The ``k`` of a stream fault counts data events
after the PING and is clamped to the events the reply has (to the ones before the final
chunk for stream-error, malformed and done-no-finish, so the fault always bites).
"""

from __future__ import annotations

import asyncio

from powertokens.emulator.faults import Fault
from powertokens.emulator.model import Reply

from .connection import Responder
from .wire import (
    BROKEN_EVENT,
    DONE_EVENT,
    PING_EVENT,
    ReplyMeta,
    code_message,
    completion_body,
    dumps,
    sse_event,
    stream_chunks,
    usage_chunk,
)

__all__ = ["JSON_TYPE", "SSE_TYPE", "send_json", "send_stream"]

JSON_TYPE = "application/json; charset=utf-8"
SSE_TYPE = "text/event-stream"


async def send_json(
    out: Responder, headers: list[tuple[str, str]], reply: Reply, meta: ReplyMeta
) -> None:
    """The non-stream answer."""
    body = dumps(completion_body(reply, meta)).encode()
    await out.send(200, [*headers, ("Content-Type", JSON_TYPE)], body)


class _Events:
    """Writes events with the configured pace (and a turn of the loop between them)."""

    def __init__(self, out: Responder, pace: float) -> None:
        self._out = out
        self._pace = pace

    async def send(self, events: list[bytes]) -> None:
        for event in events:
            await self._out.write(event)
            # Yield to the loop so a thousand streams share it fairly.
            await asyncio.sleep(self._pace)


async def send_stream(
    out: Responder,
    headers: list[tuple[str, str]],
    reply: Reply,
    meta: ReplyMeta,
    fault: Fault | None,
    *,
    tool_stream: bool,
    pace: float,
) -> None:
    """The SSE answer, broken the way ``fault`` says."""
    one_chunk = fault is not None and fault.tool_calls_one_chunk
    chunks = stream_chunks(reply, meta, tool_stream=tool_stream, one_chunk=one_chunk)
    events = [sse_event(c) for c in chunks]
    kind = fault.kind if fault is not None else None
    count = fault.count if fault is not None else 0
    before_final = min(count, len(events) - 1)
    sse_headers = [*headers, ("Content-Type", SSE_TYPE), ("Cache-Control", "no-cache")]
    await out.start(200, sse_headers)
    await out.write(PING_EVENT)
    writer = _Events(out, pace)
    if fault is not None and kind == "stream-error":
        # docs/wire.md "Stream": the in-stream error's code may be a number.
        message = code_message(fault.code, model=meta.model)
        error = {"error": {"code": int(fault.code), "message": message}}
        await writer.send([*events[:before_final], sse_event(error), DONE_EVENT])
    elif fault is not None and kind in ("cut", "stall"):
        await writer.send(events[: min(count, len(events))])
        if kind == "stall":
            await asyncio.sleep(fault.seconds)
        out.cut_connection()
        return
    elif kind == "malformed":
        await writer.send([*events[:before_final], BROKEN_EVENT, DONE_EVENT])
    elif kind == "done-no-finish":
        await writer.send([*events[:before_final], DONE_EVENT])
    else:
        tail = [sse_event(usage_chunk(reply, meta))] if fault and fault.usage_chunk else []
        await writer.send([*events, *tail, DONE_EVENT])
    await out.end()
