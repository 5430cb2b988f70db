"""Our SSE decoder against httpx-sse on the same bytes (docs/benchmarks.md: a
hand-written decoder must earn its place with a benchmark).

    python benchmarks/bench_sse.py [--chunks 2000] [--repeat 15]

Both read a 2,000-event stream (reasoning then content, the real framing) out of an
``httpx.Response`` delivered in 4 KiB reads, and hand every event's data on.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from collections.abc import Callable, Iterator

import httpx

from powertokens import SSEDecoder


def stream_bytes(chunks: int) -> bytes:
    out = [b": PING\n\n"]
    for i in range(chunks):
        delta = (
            {"role": "assistant", "content": "", "reasoning_content": f" r{i}"}
            if i < chunks // 2
            else {"role": "assistant", "content": f" word{i}\u2028"}
        )
        chunk = {"id": "c", "object": "chat.completion.chunk", "created": 1, "model": "glm-5",
                 "choices": [{"index": 0, "delta": delta, "finish_reason": None}]}  # fmt: skip
        out.append(b"data: " + json.dumps(chunk, separators=(",", ":")).encode() + b"\n\n")
    out.append(b"data: [DONE]\n\n")
    return b"".join(out)


class Reads(httpx.SyncByteStream):
    def __init__(self, body: bytes, size: int = 4096) -> None:
        self.body, self.size = body, size

    def __iter__(self) -> Iterator[bytes]:
        for i in range(0, len(self.body), self.size):
            yield self.body[i : i + self.size]


def response(body: bytes) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": "text/event-stream"}, stream=Reads(body))


def ours(body: bytes) -> int:
    decoder = SSEDecoder()
    n = 0
    for raw in response(body).iter_bytes():
        for _event in decoder.feed(raw):
            n += 1
    return n + len(decoder.flush())


def httpx_sse(body: bytes) -> int:
    from httpx_sse import EventSource

    return sum(1 for _ in EventSource(response(body)).iter_sse())


def measure(fn: Callable[[bytes], int], body: bytes, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn(body)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--chunks", type=int, default=2000)
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    body = stream_bytes(args.chunks)
    assert ours(body) == httpx_sse(body) == args.chunks + 1
    a = measure(ours, body, args.repeat)
    b = measure(httpx_sse, body, args.repeat)
    print(f"{args.chunks}-event stream, median of {args.repeat}:")
    print(f"  powertokens SSEDecoder  {a * 1e3:7.2f} ms")
    print(f"  httpx-sse EventSource   {b * 1e3:7.2f} ms   (ours = {a / b:.2f}x)")


if __name__ == "__main__":
    main()
