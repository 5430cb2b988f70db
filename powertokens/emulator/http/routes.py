"""Routing: the chat endpoint and the ``/_emulator/*`` admin endpoints.

Admin endpoints (no auth; for tests that drive a separate emulator process):

- ``GET /_emulator/health`` -> ``{"status": "ok"}``
- ``POST /_emulator/faults`` with ``{"faults": ["429:1302", ...]}`` queues them (all or
  none: an unknown spec -> 400) -> ``{"queued": n}``
- ``GET /_emulator/requests`` -> ``{"requests": [...], "request_count": n,
  "disconnects": n, "open_connections": n}``
- ``POST /_emulator/reset`` -> ``{"status": "ok"}``

Anything else is 404 with the gateway's "Invalid URL" body.
"""

from __future__ import annotations

import json

from powertokens.emulator.faults import FaultSpecError, parse_fault
from powertokens.emulator.state import EmulatorState, new_request_id

from .chat import handle_chat
from .connection import HttpRequest, Responder
from .playback import JSON_TYPE
from .wire import ApiError, dumps, error_body

__all__ = ["CHAT_PATH", "Router"]

CHAT_PATH = "/v1/chat/completions"
_ADMIN = "/_emulator/"


class Router:
    """The emulator's request handler (see :data:`connection.Handler`)."""

    def __init__(self, state: EmulatorState) -> None:
        self._state = state

    async def __call__(self, request: HttpRequest, out: Responder) -> None:
        path = request.path.rstrip("/") or "/"
        if path == CHAT_PATH and request.method == "POST":
            await handle_chat(request, out, self._state)
        elif path.startswith(_ADMIN):
            await self._admin(request, out, path[len(_ADMIN) :])
        else:
            await self._not_found(request, out)

    async def _json(self, out: Responder, status: int, value: object) -> None:
        headers = [("X-Oneapi-Request-Id", new_request_id()), ("Content-Type", JSON_TYPE)]
        await out.send(status, headers, dumps(value).encode())

    async def _not_found(self, request: HttpRequest, out: Responder) -> None:
        request_id = new_request_id()
        error = ApiError(
            404, "", f"Invalid URL ({request.method} {request.target})", "invalid_request_error"
        )
        headers = [("X-Oneapi-Request-Id", request_id), ("Content-Type", JSON_TYPE)]
        await out.send(404, headers, error_body(error, request_id))

    async def _admin(self, request: HttpRequest, out: Responder, name: str) -> None:
        state = self._state
        route = (request.method, name)
        if route == ("GET", "health"):
            await self._json(out, 200, {"status": "ok"})
        elif route == ("GET", "requests"):
            await self._json(
                out,
                200,
                {
                    "requests": [r.to_dict() for r in state.requests()],
                    "request_count": state.counter("request_count"),
                    "disconnects": state.counter("disconnects"),
                    "open_connections": state.counter("open_connections"),
                },
            )
        elif route == ("POST", "reset"):
            state.reset()
            await self._json(out, 200, {"status": "ok"})
        elif route == ("POST", "faults"):
            await self._push_faults(request, out)
        else:
            await self._not_found(request, out)

    async def _push_faults(self, request: HttpRequest, out: Responder) -> None:
        try:
            body = json.loads(request.body or b"null")
            specs = body.get("faults") if isinstance(body, dict) else None
            if not isinstance(specs, list) or not all(isinstance(s, str) for s in specs):
                raise FaultSpecError('expected {"faults": ["<spec>", ...]}')
            for spec in specs:
                parse_fault(spec)
        except (ValueError, RecursionError, FaultSpecError) as exc:
            error = {
                "error": {
                    "message": str(exc),
                    "type": "emulator_error",
                    "code": "invalid_fault_spec",
                }
            }
            await self._json(out, 400, error)
            return
        for spec in specs:
            self._state.push_fault(spec)
        await self._json(out, 200, {"queued": len(specs)})
