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

What it answers and the fault language
--------------------------------------
The full reference is ``docs/emulator.md`` ("What it answers", "The fault language");
the wire facts it follows are in ``docs/wire.md``. In short: errors use the gateway body
and every response carries ``X-Oneapi-Request-Id``; bad parameters get the service's 400
(see :mod:`.http.validation`); replies come from a deterministic model (see :mod:`.model`):
tool calls when a tool fits, ``echo:<text>`` verbatim, the best-matching context sentence.

A fault is taken from the header ``X-PowerTokens-Fault: <spec>``, else the queue
(``emu.push_fault(spec, times=1)``, ``POST /_emulator/faults``), else a
``[[fault:<spec>]]`` marker in the last user message. Specs: ``<status>:<code>``
(``:retry-after=<s>``, ``:retry-after-ms=<ms>``, ``:lang=zh``), ``quota:<code>``,
``html:<status>``, ``empty:<status>``, ``stream-error:<code>[:after=<k>]``, ``cut:<k>``,
``stall:<k>[:<s>]``, ``malformed:<k>``, ``done-no-finish:<k>``, ``finish:<reason>``;
modifiers ``delay:<ms>``, ``pace:<ms>``, ``usage-chunk``, ``tool-calls-one-chunk``,
``tool-stream``, ``model=<name>``, joined with commas (``delay:200,cut:3``). An unknown
spec raises ``FaultSpecError`` (a header or marker gets 400 ``invalid_fault_spec``).

Admin endpoints (no auth): ``GET /_emulator/health``, ``POST /_emulator/faults``,
``GET /_emulator/requests``, ``POST /_emulator/reset`` (see :mod:`.http.routes`).
"""

from __future__ import annotations

from .faults import Fault, FaultSpecError, parse_fault
from .server import Emulator
from .state import RecordedRequest

# What users need: the server, the fault language and the request log's records. The
# deterministic model (``.model``: ``generate``, ``Reply``...) is internal; its ``Usage``
# and ``ToolCall`` would shadow the core's names of the same spelling.
__all__ = [
    "Emulator",
    "Fault",
    "FaultSpecError",
    "RecordedRequest",
    "parse_fault",
]
