"""A faithful local PowerTokens service: ``POST /v1/chat/completions`` on loopback.

Run it in-process for tests::

    from powertokens.emulator import Emulator

    with Emulator() as emu:          # binds 127.0.0.1 on a free port, serves on a thread
        client = SomeClient(base_url=emu.url, api_key="anything")
        emu.push_fault("429:1302")   # the next chat request gets a 429
        ...
        assert emu.request_count == 2

or as a process: ``python -m powertokens.emulator --port 8787 [--api-key KEY ...]
[--max-concurrency N] [--tool-stream]`` prints ``PowerTokens emulator listening on
http://127.0.0.1:8787/v1`` and serves until SIGINT/SIGTERM.

``Emulator(host, port, api_keys, max_concurrency, tool_stream, seed, *, chunk_delay)``:
``api_keys=None`` accepts any non-empty bearer token; ``max_concurrency=N`` answers 429
``1302`` to a request arriving while N are in flight (streams count until they end);
``tool_stream`` streams tool-call arguments in pieces; ``seed`` varies the deterministic
choices; ``chunk_delay`` (seconds) paces stream events for demos. Inspect ``emu.requests``
(method, path, headers with ``Authorization`` redacted, ``json``, ``fault``, ``status``,
``stream``, ``request_id``), ``emu.request_count``, ``emu.disconnects``,
``emu.open_connections``, ``emu.in_flight``; ``emu.reset()`` clears faults, log, prompt
cache and counters. ``emu.wait_until(lambda e: e.disconnects == 1, timeout=5)`` blocks
until the server side has caught up (woken by each change, no polling), so tests never
sleep to wait for the server.

What it answers (WIRE.md is the reference)
------------------------------------------
Errors use the gateway body ``{"error": {"message": "... (request id: <id>)", "type":
"upstream_error" | "new_api_error", "param": "", "code": "<code>"}}`` and every response
carries ``X-Oneapi-Request-Id``. Auth failures are gateway 401s; unknown models gateway
503 ``model_not_found``; bad parameters upstream 400s with code 1213 (missing) or 1214
(invalid), naming the field and the value (see :mod:`.validation`). Replies come from a
deterministic model (see :mod:`.model`): tool calls when a tool fits, answers from tool
results, ``echo:<text>`` returns ``<text>`` verbatim, RAG prompts get the best-matching
context sentence, a ReAct system prompt (LlamaIndex ``ReActAgent``) gets
``Thought:``/``Action:``/``Action Input:`` and ``Answer:`` text. Streams: ``: PING``,
``data: <chunk>`` events, a final chunk with ``finish_reason`` and ``usage``,
``data: [DONE]``.

The fault language
------------------
A fault is taken from, first match wins: the request header ``X-PowerTokens-Fault:
<spec>``; the queue (``emu.push_fault(spec, times=1)`` or ``POST /_emulator/faults``
``{"faults": [spec, ...]}``), one per chat request that passes auth and the concurrency
limit; a marker ``[[fault:<spec>]]`` in the last user message (removed from the text the
model sees). An unknown spec is rejected: ``push_fault`` raises ``FaultSpecError``
(a ``ValueError``); a header or marker gets 400 ``invalid_fault_spec``.

Errors (answered before validation, for stream and non-stream requests):

``<status>:<code>``
    That status with the gateway body for ``code``: a 4-digit business code (type
    ``upstream_error``, the service's message, e.g. ``429:1302``, ``429:1305``,
    ``500:1234``, ``401:1001``, ``400:1261``, ``400:1301``) or a gateway code
    ``model_not_found`` / ``rate_limit_exceeded`` / ``invalid_request`` (type
    ``new_api_error``). Suffixes ``:retry-after=<s>`` and ``:retry-after-ms=<ms>`` add
    those headers (the real gateway sends none); ``:lang=zh`` words the message in
    Chinese, as the service does (codes 1231, 1302-1305, 1308-1313; others stay English).
    Plan codes: ``429:1311`` or ``403:1311`` names the model asked for ("Your current
    subscription plan does not yet include access to glm-5"); ``429:1312`` names another
    model to switch to ("... or switch to another model such as glm-4.7"; glm-4.5-air
    when glm-4.7 was asked for); ``429:1313`` is the fair-use restriction; ``409:1231`` or
    ``400:1231`` names the request already running ("You already have a request: <id>").
``quota:<code>``
    429 with 1113, 1304, 1308, 1309 or 1310; 1308/1310 name a reset time in the future
    ("Usage limit reached for 5 hour. Your limit will reset at 2026-11-26 18:00:00";
    with ``:lang=zh`` "... 您的限额将在 2026-11-26 18:00:00 重置").
``html:<status>`` / ``empty:<status>``
    That status with an nginx HTML page (``text/html``) / an empty body.

Broken streams (``k`` counts ``data:`` events after the PING; clamped to the reply):

``stream-error:<code>[:after=<k>]``
    200 SSE; after k normal chunks, ``data: {"error":{"code":1305,"message":"..."}}``
    (the code a number; any code, e.g. ``stream-error:1312``), ``data: [DONE]``, end.
    Non-stream: the error as an HTTP error.
``cut:<k>``
    k chunks, then the connection closes mid-body. Non-stream: closes with no response.
``stall:<k>[:<seconds>]``
    k chunks, then silence for ``seconds`` (default 30; ``stop()`` still ends at once),
    then the connection closes. Non-stream: silence before any header, then close.
``malformed:<k>``
    k chunks, then ``data: {"id": "broken`` (invalid JSON), ``[DONE]``. Non-stream: a 200
    body that is not valid JSON.
``done-no-finish:<k>``
    k chunks, then ``data: [DONE]`` with no ``finish_reason`` chunk. Non-stream: no effect.
``finish:<reason>``
    ``sensitive`` (content cut to nothing), ``network_error``, ``length`` or
    ``model_context_window_exceeded`` (content cut to about half, tool calls dropped):
    that finish_reason, stream and non-stream.

Modifiers (combine with one of the above using commas, e.g. ``delay:200,cut:3``):

``delay:<ms>``
    Wait before the response headers, then respond normally (or with the fault).
``pace:<ms>``
    Wait between stream events.
``usage-chunk``
    After the final chunk, also an OpenAI-style ``{"choices": [], "usage": {...}}`` chunk.
``tool-calls-one-chunk``
    All tool calls of the reply in one chunk (whole-call mode).
``tool-stream``
    Tool-call arguments in pieces (also: header ``X-PowerTokens-Tool-Stream: 1``).
``model=<name>``
    The fault hits only requests for that model: others pass unharmed, and a queued
    fault waits for a request for its model (the requests for other models do not use
    it up). E.g. ``429:1312,model=glm-5`` with ``times=3``: glm-5 is overloaded for three
    requests while glm-4.7 answers.

Admin endpoints (no auth): ``GET /_emulator/health``, ``POST /_emulator/faults``,
``GET /_emulator/requests``, ``POST /_emulator/reset`` (see :mod:`.routes`).
"""

from __future__ import annotations

from .faults import Fault, FaultSpecError, parse_fault
from .model import Reply, ToolCall, Usage, generate
from .server import Emulator
from .state import RecordedRequest

__all__ = [
    "Emulator",
    "Fault",
    "FaultSpecError",
    "RecordedRequest",
    "Reply",
    "ToolCall",
    "Usage",
    "generate",
    "parse_fault",
]
