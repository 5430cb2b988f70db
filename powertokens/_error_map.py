"""Which error class an error answer becomes: the business code first, then the status.

The service's error table is in ``docs/wire.md``, "Errors".
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ._exceptions import (
    APIStatusError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentFilterError,
    ContextOverflowError,
    FairUseThrottleError,
    InternalServerError,
    ModelOverloadedError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
)

__all__ = ["error_class", "is_known_code", "make_status_error", "parse_error_body"]

_REQUEST_ID_IN_MESSAGE = re.compile(r"\s*\(request id: ([^)]+)\)\s*$")

_CODE_CLASSES: dict[str, type[APIStatusError]] = {
    "1261": ContextOverflowError,
    "1300": ContentFilterError,
    "1301": ContentFilterError,
    "1211": NotFoundError,
    "model_not_found": NotFoundError,
    "1231": ConflictError,
    "1113": QuotaExceededError,
    "1302": RateLimitError,
    "1303": RateLimitError,
    "1304": QuotaExceededError,
    "1305": RateLimitError,
    "1311": PermissionDeniedError,
    "1312": ModelOverloadedError,
    "1313": FairUseThrottleError,
    "rate_limit_exceeded": RateLimitError,
    "1230": InternalServerError,
    "1234": InternalServerError,
}
for _code in range(1000, 1005):
    _CODE_CLASSES[str(_code)] = AuthenticationError
for _code in range(1110, 1122):
    _CODE_CLASSES.setdefault(str(_code), PermissionDeniedError)
# 1308-1321: plan conditions; all quotas but 1311-1313 above (1314-1321 are not
# itemised by the service: "other plan/quota conditions").
for _code in range(1308, 1322):
    _CODE_CLASSES.setdefault(str(_code), QuotaExceededError)
for _code in range(1210, 1216):
    _CODE_CLASSES.setdefault(str(_code), BadRequestError)

_STATUS_CLASSES: dict[int, type[APIStatusError]] = {
    400: BadRequestError,
    401: AuthenticationError,
    403: PermissionDeniedError,
    404: NotFoundError,
    422: BadRequestError,
    429: RateLimitError,
}


def is_known_code(code: str) -> bool:
    """Whether the business code is in the error table (``docs/wire.md``, "Errors")."""
    return code in _CODE_CLASSES


def error_class(status_code: int, code: str | None) -> type[APIStatusError]:
    """The class for an error answer: by business code first, then by status."""
    if code is not None:
        cls = _CODE_CLASSES.get(code)
        if cls is not None:
            return cls
    if status_code in _STATUS_CLASSES:
        return _STATUS_CLASSES[status_code]
    if status_code >= 500:
        return InternalServerError
    return APIStatusError


def parse_error_body(body: object) -> tuple[str | None, str | None, str | None]:
    """(code, message, type) from an error body in upstream or gateway form."""
    if not isinstance(body, Mapping):
        return None, None, None
    err = body.get("error", body)
    if not isinstance(err, Mapping):
        return None, (str(err) if err else None), None
    raw_code = err.get("code")
    code = str(raw_code) if raw_code not in (None, "") else None
    message = err.get("message")
    etype = err.get("type")
    return (
        code,
        str(message) if message is not None else None,
        str(etype) if etype is not None else None,
    )


def make_status_error(
    status_code: int,
    body: object,
    headers: Mapping[str, str] | None = None,
    *,
    request_id: str | None = None,
) -> APIStatusError:
    """Build the typed error for an error answer (HTTP error or in-stream error event)."""
    code, message, etype = parse_error_body(body)
    if message:
        # Gateway messages end in " (request id: X)": keep the id, drop the suffix.
        match = _REQUEST_ID_IN_MESSAGE.search(message)
        if match:
            request_id = request_id or match.group(1)
            message = message[: match.start()]
    elif isinstance(body, str) and body.strip():
        text = " ".join(body.split())
        message = text if len(text) <= 300 else text[:297] + "..."
    else:
        message = f"the service answered HTTP {status_code} with no error message"
    cls = error_class(status_code, code)
    return cls(
        message,
        status_code=status_code,
        code=code,
        error_type=etype,
        request_id=request_id,
        body=body,
        headers=headers,
    )
