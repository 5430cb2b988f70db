"""Wire forms: error bodies, completion bodies, stream chunks and SSE framing (docs/wire.md).

Pure functions; JSON is compact and keeps non-ASCII characters raw (``ensure_ascii=False``),
as the real service does, so U+2028 and emoji travel as UTF-8 (docs/wire.md "Stream").
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime, timedelta
from http import HTTPStatus
from typing import Any

from powertokens.emulator.model import Reply
from powertokens.emulator.model.text import pieces

__all__ = [
    "BROKEN_EVENT",
    "DONE_EVENT",
    "PING_EVENT",
    "ApiError",
    "ReplyMeta",
    "code_message",
    "completion_body",
    "dumps",
    "error_body",
    "gateway_error",
    "html_page",
    "sse_event",
    "stream_chunks",
    "upstream_error",
    "usage_chunk",
]

# The gateway may send ": PING" comment lines as keep-alives (docs/wire.md "Stream").
PING_EVENT = b": PING\n\n"
DONE_EVENT = b"data: [DONE]\n\n"
# The malformed:<k> fault: an event whose data is not valid JSON.
BROKEN_EVENT = b'data: {"id": "broken\n\n'

# Upstream (Zhipu) business codes and their messages (docs/wire.md "Errors").
_UPSTREAM: dict[str, tuple[int, str]] = {
    "1000": (401, "Authentication Failed"),
    "1001": (401, "Authentication parameter not received in Header, unable to authenticate"),
    "1002": (
        401,
        "Invalid Authentication Token, please confirm the correct transmission of the "
        "Authentication Token",
    ),
    "1003": (401, "Authentication Token expired, please regenerate/obtain"),
    "1004": (401, "Authentication failed through the provided Authentication Token"),
    "1110": (403, "Your account is currently inactive. Please check your account information"),
    "1111": (401, "Your account does not exist"),
    "1112": (403, "Your account has been locked, please contact customer service to unlock"),
    "1113": (429, "Your account is in arrears, please recharge and try again"),
    "1120": (403, "Your account cannot be accessed successfully at the moment"),
    "1121": (403, "Your account has been locked due to irregular activities"),
    "1210": (400, "Incorrect API call parameters, please check the documentation"),
    "1211": (400, "Model does not exist, please check the model code"),
    "1212": (400, "The current model does not support this call method"),
    "1213": (400, "The prompt parameter was not received properly"),
    "1214": (400, "Invalid input parameters, please check the documentation"),
    "1215": (400, "Conflicting parameters, please check the documentation"),
    "1220": (403, "You do not have permission to access this API"),
    "1230": (500, "API request processing error, please try again later"),
    "1231": (400, "You already have a request: {request_id}"),
    "1234": (500, "Network error, please try again later or contact customer service"),
    "1261": (400, "Prompt exceeds max length"),
    "1300": (400, "API call was blocked"),
    "1301": (
        400,
        "System detected potentially unsafe or sensitive content in input or generation. "
        "Please avoid using prompts that may generate sensitive content. "
        "Thank you for your cooperation.",
    ),
    "1302": (
        429,
        "High concurrency usage of this API, please reduce concurrency or contact customer "
        "service to increase limits",
    ),
    "1303": (
        429,
        "High frequency usage of this API, please reduce frequency or contact customer "
        "service to increase limits",
    ),
    "1304": (
        429,
        "The daily call limit for this API has been reached. For more requests, please "
        "contact customer service to purchase",
    ),
    "1305": (429, "The service may be temporarily overloaded, please try again later"),
    "1308": (429, "Usage limit reached for 5 hour. Your limit will reset at {reset}"),
    "1309": (429, "Your GLM Coding Plan package has expired and is temporarily unavailable"),
    "1310": (429, "Weekly/Monthly Limit Exhausted. Your limit will reset at {reset}"),
    "1311": (403, "Your current subscription plan does not yet include access to {model}"),
    "1312": (
        429,
        "This model is currently overloaded, please try again later, or switch to another "
        "model such as {alternative}",
    ),
    "1313": (
        429,
        "Your account's current usage pattern does not comply with the Fair Use Policy, and "
        "its request rate has been restricted. To have the restriction lifted, apply in your "
        "account's plan overview",
    ),
}
# The same messages as the service words them in Chinese (fault option ``lang=zh``);
# a code without one here answers in English.
_UPSTREAM_ZH: dict[str, str] = {
    "1231": "您已有请求：{request_id}",
    "1302": "您当前使用该 API 的并发数过高，请降低并发，或联系客服增加限额",
    "1303": "您当前使用该 API 的频率过高，请降低频率，或联系客服增加限额",
    "1304": "该 API 已达今日调用次数限额，如有更多需求，请联系客服购买",
    "1305": "该 API 已触发流量限制",
    "1308": "已达到 5 小时的使用上限。您的限额将在 {reset} 重置",
    "1309": "您的 GLM Coding Plan 套餐已到期，暂无法使用，前往官方续订后即可恢复",
    "1310": "您已达到每周/每月使用上限，您的限额将在 {reset} 重置",
    "1311": "当前订阅套餐暂未开放{model}权限",
    "1312": "该模型当前访问量过大，请您稍后再试，或切换其他模型如 {alternative} 等",
    "1313": (
        "您的账户当前使用模式不符合公平使用策略，请求频率已受到限制。如需恢复，"
        "请前往个人中心-编程套餐总览申请解除限制"
    ),
}
_RESET_AFTER = {"1308": timedelta(hours=5), "1310": timedelta(days=7)}
# 1312 names another model to switch to: the first of these that was not asked for.
_ALTERNATIVES = ("glm-4.7", "glm-4.5-air")

# Gateway (new-api) codes.
_GATEWAY: dict[str, tuple[int, str]] = {
    "model_not_found": (
        503,
        "No available channel for model {model} under group default (distributor)",
    ),
    "rate_limit_exceeded": (
        429,
        "You have reached the request rate limit: at most 60 requests per 1 minute",
    ),
    "invalid_request": (400, "Invalid request"),
}

_HTML = (
    "<html>\r\n<head><title>{status} {phrase}</title></head>\r\n<body>\r\n"
    "<center><h1>{status} {phrase}</h1></center>\r\n<hr><center>nginx</center>\r\n"
    "</body>\r\n</html>\r\n"
)


@dataclass(frozen=True)
class ApiError:
    """An error answer: status, code (a string on the wire), message and error type."""

    status: int
    code: str
    message: str
    type: str = "upstream_error"


@dataclass(frozen=True)
class ReplyMeta:
    """The parts of a completion the model does not decide."""

    id: str
    created: int
    model: str


def dumps(value: object) -> str:
    """Compact JSON with raw non-ASCII characters."""
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def code_message(
    code: str,
    now: datetime | None = None,
    model: str = "",
    *,
    request_id: str = "",
    lang: str = "en",
) -> str:
    """The service's message for a business or gateway code.

    Placeholders are filled in: the reset time (1308, 1310: the next full hour after the
    window), the model asked for (1311, gateway ``model_not_found``), another model to
    switch to (1312) and the id of the request already running (1231).
    """
    if code in _GATEWAY:
        return _GATEWAY[code][1].format(model=model or "unknown")
    if code not in _UPSTREAM:
        return f"Upstream error {code}"
    message = _UPSTREAM_ZH.get(code, "") if lang == "zh" else ""
    message = message or _UPSTREAM[code][1]
    if "{" not in message:
        return message
    fields = {"model": model or "glm-5-turbo", "request_id": request_id or "unknown"}
    fields["alternative"] = next(m for m in _ALTERNATIVES if m != model)
    if code in _RESET_AFTER:
        moment = (now or datetime.now()) + _RESET_AFTER[code]
        reset = moment.replace(minute=0, second=0, microsecond=0) + timedelta(hours=1)
        fields["reset"] = reset.strftime("%Y-%m-%d %H:%M:%S")
    return message.format(**fields)


def upstream_error(
    code: str, detail: str | None = None, status: int | None = None, *, model: str = ""
) -> ApiError:
    """An upstream (Zhipu) error: type ``upstream_error``, the business code as a string."""
    default_status = _UPSTREAM.get(code, (500, ""))[0]
    return ApiError(status or default_status, code, detail or code_message(code, model=model))


def gateway_error(code: str, message: str | None = None, status: int | None = None) -> ApiError:
    """A gateway (new-api) error: type ``new_api_error``."""
    default_status = _GATEWAY.get(code, (400, ""))[0]
    return ApiError(status or default_status, code, message or code_message(code), "new_api_error")


def error_body(error: ApiError, request_id: str) -> bytes:
    """The gateway error body; the message ends in `` (request id: <id>)`` (docs/wire.md)."""
    body = {
        "error": {
            "message": f"{error.message} (request id: {request_id})",
            "type": error.type,
            "param": "",
            "code": error.code,
        }
    }
    return dumps(body).encode()


def html_page(status: int) -> bytes:
    """An nginx-style error page (5xx bodies may be HTML, docs/wire.md "Errors")."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        phrase = "Error"
    return _HTML.format(status=status, phrase=phrase).encode()


def _tool_call(index: int, call_id: str, name: str, arguments: str) -> dict[str, Any]:
    return {
        "index": index,
        "id": call_id,
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def completion_body(reply: Reply, meta: ReplyMeta) -> dict[str, Any]:
    """The non-stream response (seed shape)."""
    message: dict[str, Any] = {"role": "assistant", "content": reply.content}
    if reply.reasoning:
        message["reasoning_content"] = reply.reasoning
    if reply.tool_calls:
        message["tool_calls"] = [
            _tool_call(i, c.id, c.name, c.arguments) for i, c in enumerate(reply.tool_calls)
        ]
    return {
        "id": meta.id,
        "object": "chat.completion",
        "created": meta.created,
        "model": meta.model,
        "choices": [{"index": 0, "message": message, "finish_reason": reply.finish_reason}],
        "usage": reply.usage.as_dict(),
    }


def _chunk(meta: ReplyMeta, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def stream_chunks(
    reply: Reply, meta: ReplyMeta, *, tool_stream: bool = False, one_chunk: bool = False
) -> list[dict[str, Any]]:
    """All chunks of a streamed reply; the last one carries finish_reason and usage.

    Order (docs/wire.md "Stream"): reasoning deltas (with ``"content": ""``), content deltas,
    tool calls (whole per chunk, all in one chunk with ``one_chunk``, or, with
    ``tool_stream``, a head delta with id and name then argument pieces).
    """
    chunks: list[dict[str, Any]] = []
    for piece in pieces(reply.reasoning):
        chunks.append(
            _chunk(meta, {"role": "assistant", "content": "", "reasoning_content": piece})
        )
    for piece in pieces(reply.content):
        chunks.append(_chunk(meta, {"role": "assistant", "content": piece}))
    calls = [_tool_call(i, c.id, c.name, c.arguments) for i, c in enumerate(reply.tool_calls)]
    if tool_stream:
        for index, call in enumerate(reply.tool_calls):
            head = _tool_call(index, call.id, call.name, "")
            chunks.append(_chunk(meta, {"role": "assistant", "tool_calls": [head]}))
            for piece in pieces(call.arguments):
                part = {"index": index, "function": {"arguments": piece}}
                chunks.append(_chunk(meta, {"role": "assistant", "tool_calls": [part]}))
    elif one_chunk and calls:
        chunks.append(_chunk(meta, {"role": "assistant", "tool_calls": calls}))
    else:
        for call_dict in calls:
            chunks.append(_chunk(meta, {"role": "assistant", "tool_calls": [call_dict]}))
    final = _chunk(meta, {"role": "assistant", "content": ""}, reply.finish_reason)
    final["usage"] = reply.usage.as_dict()
    chunks.append(final)
    return chunks


def usage_chunk(reply: Reply, meta: ReplyMeta) -> dict[str, Any]:
    """The OpenAI-style extra chunk: no choices, just usage (docs/wire.md "Stream")."""
    return {
        "id": meta.id,
        "object": "chat.completion.chunk",
        "created": meta.created,
        "model": meta.model,
        "choices": [],
        "usage": reply.usage.as_dict(),
    }


def sse_event(value: object) -> bytes:
    """One SSE event: ``data: <compact JSON>`` and a blank line."""
    return b"data: " + dumps(value).encode() + b"\n\n"
