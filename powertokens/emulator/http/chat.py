"""``POST /v1/chat/completions``: auth, concurrency, faults, validation, then the model.

Order, as in the real service (gateway first, upstream after):

1. the request is logged and counted, and gets an ``X-Oneapi-Request-Id``;
2. auth: ``Authorization: Bearer <token>`` -> gateway 401 (the token is never logged);
3. ``max_concurrency``: no free slot -> 429 ``1302`` at once;
4. the fault: the ``X-PowerTokens-Fault`` header, else the queue, else a
   ``[[fault:...]]`` marker in the last user message (an unknown spec -> 400);
5. ``delay``, then error faults (status, quota, html, empty) answer before validation;
6. validation (:mod:`.validation`), and 1261 when the prompt exceeds the model's window;
7. the model's reply, as JSON or SSE, shaped by stream faults (:mod:`.playback`).
"""

from __future__ import annotations

import asyncio
import copy
import time
from typing import Any

from powertokens._catalog import KNOWN_MODELS
from powertokens.emulator.faults import Fault, FaultSpecError, parse_fault, take_marker
from powertokens.emulator.model import (
    Reply,
    effective_messages,
    generate,
    prompt_tokens,
    reply_message,
)
from powertokens.emulator.state import EmulatorState, RecordedRequest, new_request_id

from .connection import HttpRequest, Responder, off_loop
from .playback import JSON_TYPE, send_json, send_stream
from .validation import parse_body, validate
from .wire import (
    ApiError,
    ReplyMeta,
    code_message,
    error_body,
    gateway_error,
    html_page,
    upstream_error,
)

__all__ = ["FAULT_HEADER", "TOOL_STREAM_HEADER", "handle_chat"]

FAULT_HEADER = "x-powertokens-fault"
TOOL_STREAM_HEADER = "x-powertokens-tool-stream"
_TRUE = ("1", "true", "yes", "on")


def _auth_error(request: HttpRequest, state: EmulatorState) -> ApiError | None:
    value = request.header("authorization") or ""
    scheme, _, token = value.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        return gateway_error("", "No token provided", 401)
    if state.api_keys is not None and token not in state.api_keys:
        return gateway_error("", "Invalid token", 401)
    return None


def _without_marker(body: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
    """Take a ``[[fault:...]]`` marker out of the last user message (a copy of the body)."""
    messages = body.get("messages")
    if not isinstance(messages, list):
        return None, body
    for index in range(len(messages) - 1, -1, -1):
        message = messages[index]
        if isinstance(message, dict) and message.get("role") == "user":
            break
    else:
        return None, body
    content = message.get("content")
    spec: str | None = None
    cleaned: Any
    if isinstance(content, str):
        spec, cleaned = take_marker(content)
    elif isinstance(content, list):
        cleaned = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                found, text = take_marker(part["text"])
                spec = spec or found
                part = {**part, "text": text}
            cleaned.append(part)
    else:
        return None, body
    if spec is None:
        return None, body
    body = copy.copy(body)
    body["messages"] = [*messages[:index], {**message, "content": cleaned}, *messages[index + 1 :]]
    return spec, body


class _Chat:
    """One chat request in flight."""

    def __init__(self, request: HttpRequest, out: Responder, state: EmulatorState) -> None:
        self.request = request
        self.out = out
        self.state = state
        self.request_id = new_request_id()
        self.headers = [("X-Oneapi-Request-Id", self.request_id)]
        self.body, self.body_error = parse_body(request.body)
        stream = self.body is not None and self.body.get("stream") is True
        self.record = RecordedRequest(
            request.method,
            request.path,
            RecordedRequest.redact(request.headers),
            self.body,
            self.request_id,
            stream=stream,
            body_size=len(request.body),
        )
        out.stream_request = stream
        out.on_status = self._set_status

    def _set_status(self, status: int) -> None:
        self.record.status = status

    async def error(self, error: ApiError, extra: list[tuple[str, str]] | None = None) -> None:
        headers = [*self.headers, *(extra or []), ("Content-Type", JSON_TYPE)]
        await self.out.send(error.status, headers, error_body(error, self.request_id))

    def pick_fault(self) -> Fault | None:
        """Header, else queue, else marker; raises FaultSpecError for an unknown spec."""
        spec = self.request.header(FAULT_HEADER)
        marker: str | None = None
        if self.body is not None:
            marker, self.body = _without_marker(self.body)
        model = self.body.get("model") if self.body is not None else None
        if spec is not None:
            fault: Fault | None = parse_fault(spec)
        else:
            fault = self.state.pop_fault(model)
            if fault is None and marker is not None:
                fault = parse_fault(marker)
        return fault if fault is None or fault.applies_to(model) else None

    async def error_fault(self, fault: Fault) -> bool:
        """Answer with an error fault; False when ``fault`` is not one."""
        if fault.kind in ("status", "quota"):
            extra = []
            if fault.retry_after is not None:
                extra.append(("Retry-After", fault.retry_after))
            if fault.retry_after_ms is not None:
                extra.append(("retry-after-ms", fault.retry_after_ms))
            model = str(self.body.get("model", "")) if self.body else ""
            message = code_message(
                fault.code, model=model, request_id=self.request_id, lang=fault.lang
            )
            kind = "upstream_error" if fault.code.isdigit() else "new_api_error"
            await self.error(ApiError(fault.status, fault.code, message, kind), extra)
        elif fault.kind == "html":
            headers = [*self.headers, ("Content-Type", "text/html")]
            await self.out.send(fault.status, headers, html_page(fault.status))
        elif fault.kind == "empty":
            await self.out.send(fault.status, self.headers, b"")
        else:
            return False
        return True

    async def non_stream_fault(self, fault: Fault) -> bool:
        """Stream faults asked of a non-stream request; False when there is none."""
        if fault.kind == "cut":
            self.out.cut_connection()
        elif fault.kind == "stall":
            await asyncio.sleep(fault.seconds)
            self.out.cut_connection()
        elif fault.kind == "stream-error":
            model = str(self.body.get("model", "")) if self.body else ""
            await self.error(upstream_error(fault.code, model=model))
        elif fault.kind == "malformed":
            headers = [*self.headers, ("Content-Type", JSON_TYPE)]
            await self.out.send(200, headers, b'{"id": "broken')
        else:
            return False
        return True

    async def run(self) -> None:
        try:
            fault = self.pick_fault()
        except FaultSpecError as exc:
            await self.error(gateway_error("invalid_fault_spec", str(exc), 400))
            return
        self.record.fault = fault.spec if fault is not None else None
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if fault is not None and await self.error_fault(fault):
            return
        if self.body is None:
            assert self.body_error is not None
            await self.error(self.body_error)
            return
        body = self.body
        problem = await off_loop(len(self.request.body), self.check, body)
        if problem is not None:
            await self.error(problem)
            return
        stream = body.get("stream") is True
        if fault is not None and not stream and await self.non_stream_fault(fault):
            return
        await self.answer(body, fault, stream)

    @staticmethod
    def check(body: dict[str, Any]) -> ApiError | None:
        """Validation, then the model's own prompt count against the context window."""
        problem = validate(body)
        if problem is None and prompt_tokens(body) > KNOWN_MODELS[body["model"]].context_window:
            problem = upstream_error("1261")
        return problem

    def reply(self, body: dict[str, Any], fault: Fault | None) -> Reply:
        """The prompt cache (on the effective prompt: earlier reasoning cleared unless
        preserved), then the model."""
        seen = effective_messages(body)
        cached = self.state.cache.lookup(body["model"], seen)
        finish = fault.finish_reason if fault is not None and fault.kind == "finish" else None
        reply = generate(body, cached_messages=cached, seed=self.state.seed, finish_override=finish)
        self.state.cache.store(body["model"], seen, reply_message(reply))
        return reply

    async def answer(self, body: dict[str, Any], fault: Fault | None, stream: bool) -> None:
        reply = await off_loop(len(self.request.body), self.reply, body, fault)
        meta = ReplyMeta(f"chatcmpl_{self.request_id}", int(time.time()), body["model"])
        if not stream:
            await send_json(self.out, self.headers, reply, meta)
            return
        tool_stream = self.state.tool_stream or (fault is not None and fault.tool_stream)
        header = (self.request.header(TOOL_STREAM_HEADER) or "").strip().lower()
        pace = fault.pace if fault is not None and fault.pace else self.state.chunk_delay
        await send_stream(
            self.out,
            self.headers,
            reply,
            meta,
            fault,
            tool_stream=tool_stream or header in _TRUE,
            pace=pace,
        )


async def handle_chat(request: HttpRequest, out: Responder, state: EmulatorState) -> None:
    """Serve one chat completion request (a large body is decoded on a worker thread)."""
    size = len(request.body)
    chat = await off_loop(size, _Chat, request, out, state)
    await off_loop(size, state.record, chat.record)
    auth = _auth_error(request, state)
    if auth is not None:
        await chat.error(auth)
        return
    if not state.try_acquire():
        await chat.error(upstream_error("1302"))
        return
    try:
        await chat.run()
    finally:
        state.release()
