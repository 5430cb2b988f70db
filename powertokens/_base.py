"""What the sync and async clients share: settings, request building, decoding,
error mapping and retry decisions. No I/O happens here; the two clients only add
"send", "read" and "sleep" around it.
"""

from __future__ import annotations

import json
import logging
import ssl
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

from ._config import (
    REQUEST_ID_HEADER,
    USER_AGENT,
    Timeout,
    resolve_api_key,
    resolve_base_url,
    warn_if_plain_http,
)
from ._exceptions import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    PowerTokensError,
    RequestValidationError,
    make_status_error,
)
from ._json import loads
from ._models import ChatCompletion, ChatCompletionRequest
from ._request import MessageLike, build_body, encode_body
from ._retry import RetryPolicy

__all__ = ["BaseClient", "Prepared"]

log = logging.getLogger("powertokens")

DEFAULT_LIMITS = httpx.Limits(max_connections=1000, max_keepalive_connections=100)

_ssl_context: ssl.SSLContext | None = None


def shared_ssl_context() -> ssl.SSLContext:
    """One TLS context for every client we create: loading the CA bundle costs ~60 ms."""
    global _ssl_context
    if _ssl_context is None:
        _ssl_context = httpx.create_ssl_context()
    return _ssl_context


@dataclass(frozen=True, slots=True)
class Prepared:
    """One request, built once and re-sent byte for byte on every retry."""

    url: str
    content: bytes
    headers: dict[str, str] = field(repr=False)  # the API key: never in a repr (locals)
    timeout: httpx.Timeout
    model: str
    stream: bool


class BaseClient:
    """Settings and pure helpers of :class:`PowerTokens` and :class:`AsyncPowerTokens`."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: Timeout | httpx.Timeout | float | None,
        max_retries: int,
        default_headers: Mapping[str, str] | None,
    ) -> None:
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        # Our timeouts apply to injected clients too: httpx's own 5 s default would
        # cut off a model that thinks for minutes.
        self.timeout = Timeout.coerce(timeout)
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self.default_headers = dict(default_headers or {})
        self._url = f"{self.base_url}/chat/completions"
        if self._api_key:
            warn_if_plain_http(self.base_url)

    @property
    def max_retries(self) -> int:
        return self.retry_policy.max_retries

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    def __repr__(self) -> str:
        key = "set" if self._api_key else "missing"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<{key}>)"

    # -- building ---------------------------------------------------------------------

    def _prepare(
        self,
        messages: Sequence[MessageLike] | ChatCompletionRequest,
        params: Mapping[str, Any],
        *,
        stream: bool,
        extra_headers: Mapping[str, str] | None = None,
        timeout: Timeout | httpx.Timeout | float | None = None,
    ) -> Prepared:
        body = build_body(messages, params, stream=stream)
        if not self._api_key:
            raise RequestValidationError(
                "api_key",
                "required: pass api_key=... or set POWERTOKENS_API_KEY",
                None,
            )
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
            "User-Agent": USER_AGENT,
            **self.default_headers,
            **(extra_headers or {}),
        }
        chosen = self.timeout if timeout is None else Timeout.coerce(timeout)
        return Prepared(
            url=self._url,
            content=encode_body(body),
            headers=headers,
            timeout=chosen.for_request(stream=stream),
            model=body["model"],
            stream=stream,
        )

    # -- decoding ---------------------------------------------------------------------

    @staticmethod
    def _request_id(headers: Mapping[str, str]) -> str | None:
        return headers.get(REQUEST_ID_HEADER)

    def _status_error(self, response: httpx.Response, content: bytes) -> APIStatusError:
        body: object
        try:
            body = json.loads(content) if content else None
        except ValueError:
            body = content.decode("utf-8", errors="replace")
        return make_status_error(
            response.status_code,
            body,
            response.headers,
            request_id=self._request_id(response.headers),
        )

    def _completion(self, response: httpx.Response, content: bytes) -> ChatCompletion:
        """Decode a non-stream answer, or raise the typed error it carries."""
        if response.status_code >= 400:
            raise self._status_error(response, content)
        request_id = self._request_id(response.headers)
        try:
            data = loads(content)
        except ValueError as exc:
            raise APIStatusError(
                f"the service answered {response.status_code} with a body that is not JSON",
                status_code=response.status_code,
                request_id=request_id,
                body=content.decode("utf-8", errors="replace"),
                headers=response.headers,
            ) from exc
        if isinstance(data, dict) and "error" in data and "choices" not in data:
            raise make_status_error(
                response.status_code, data, response.headers, request_id=request_id
            )
        completion = ChatCompletion.model_validate(data)
        if completion.request_id is None and request_id:
            completion.request_id = request_id
        return completion

    @staticmethod
    def _transport_error(exc: Exception) -> APIConnectionError:
        if isinstance(exc, httpx.TimeoutException):
            return APITimeoutError(f"request timed out ({type(exc).__name__})")
        detail = str(exc) or type(exc).__name__
        return APIConnectionError(f"connection error: {detail}")

    # -- retrying ---------------------------------------------------------------------

    def _retry_delay(self, error: PowerTokensError, retries_done: int, model: str) -> float | None:
        """Seconds to wait before the next attempt, or None to raise ``error``."""
        delay = self.retry_policy.next_delay(error, retries_done)
        if log.isEnabledFor(logging.DEBUG):
            status = getattr(error, "status_code", None)
            code = getattr(error, "code", None)
            request_id = getattr(error, "request_id", None)
            if delay is None:
                log.debug(
                    "attempt %d failed, not retrying: model=%s status=%s code=%s "
                    "request_id=%s error=%s",
                    retries_done + 1, model, status, code, request_id, type(error).__name__,
                )  # fmt: skip
            else:
                log.debug(
                    "attempt %d failed, retrying in %.2fs: model=%s status=%s code=%s "
                    "request_id=%s error=%s",
                    retries_done + 1, delay, model, status, code, request_id,
                    type(error).__name__,
                )  # fmt: skip
        return delay
