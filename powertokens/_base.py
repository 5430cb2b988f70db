"""What both clients share: settings, preparing a request, the retry decision. No I/O."""

from __future__ import annotations

import copy
import dataclasses
import logging
from collections.abc import Mapping, Sequence
from typing import Any

import httpx
from typing_extensions import Self

from ._config import (
    USER_AGENT,
    Timeout,
    check_headers,
    resolve_api_key,
    resolve_base_url,
)
from ._deadline import Deadline
from ._exceptions import (
    APIError,
    ModelOverloadedError,
    PoolTimeoutError,
    PowerTokensError,
    RequestValidationError,
)
from ._limits import encode_body
from ._models import ChatCompletionRequest
from ._plain_http import warn_if_plain_http
from ._pools import ConcurrencyLimit, make_limit
from ._request import MessageLike, Prepared, build, check_preserve_thinking
from ._retry import RetryPolicy
from ._sse import DEFAULT_MAX_EVENT_BYTES

__all__ = ["BaseClient", "Messages", "TimeoutLike", "check_fallback_models"]

log = logging.getLogger("powertokens")

TimeoutLike = Timeout | httpx.Timeout | float | None
Messages = Sequence[MessageLike] | ChatCompletionRequest
_UNSET: Any = object()


def check_fallback_models(value: Any) -> tuple[str, ...]:
    """``fallback_models`` as a tuple of model names; raises RequestValidationError."""
    if value is None:
        return ()
    if isinstance(value, (str, bytes)) or not isinstance(value, Sequence):
        raise RequestValidationError(
            "fallback_models", "must be a list of model names (strings)", value
        )
    for name in value:
        if not isinstance(name, str) or not name.strip():
            raise RequestValidationError(
                "fallback_models", "every entry must be a non-empty model name", name
            )
    if len(set(value)) != len(value):
        raise RequestValidationError("fallback_models", "must not name a model twice", value)
    return tuple(value)


def next_model(prepared: Prepared, error: PowerTokensError) -> Prepared | None:
    """The request for the next of ``fallback_models`` once ``prepared.model`` is still
    overloaded after its retries; None to raise ``error``. Only an overload (1312) falls
    back: any other error another model would repeat (or is not about the model)."""
    if not isinstance(error, ModelOverloadedError):
        return None
    if not prepared.fallbacks:
        if prepared.fallback_from:  # the last fallback model: say which were tried
            error.models_tried = (*prepared.fallback_from, prepared.model)
        return None
    following = prepared.fallbacks[0]
    log.info(
        "model %s is overloaded (code 1312) after its retries: falling back to %s "
        "(fallback_models)",
        prepared.model,
        following.model,
    )
    return following


class BaseClient:
    """Settings and the pure steps of a call, shared by both clients."""

    def __init__(
        self,
        *,
        api_key: str | None,
        base_url: str | None,
        timeout: TimeoutLike,
        max_retries: int,
        default_headers: Mapping[str, str] | None,
        max_concurrent_requests: int | ConcurrencyLimit | None,
        own_pools: bool = True,
        max_event_bytes: int = DEFAULT_MAX_EVENT_BYTES,
        fallback_models: Sequence[str] | None = None,
        preserve_thinking: bool = False,
    ) -> None:
        # Models to try in order when the one asked for stays overloaded (1312).
        self.fallback_models = check_fallback_models(fallback_models)
        # Send thinking.clear_thinking: false on every call (per call: preserve_thinking=).
        self.preserve_thinking = check_preserve_thinking(preserve_thinking)
        if (
            isinstance(max_event_bytes, bool)
            or not isinstance(max_event_bytes, int)
            or max_event_bytes < 1
        ):
            raise RequestValidationError(
                "max_event_bytes", "must be an integer >= 1 (bytes)", max_event_bytes
            )
        # The largest stream line or event accepted: a larger one breaks the stream.
        self.max_event_bytes = max_event_bytes
        # Trimmed and checked now: a key that cannot go in a header would otherwise fail
        # at send time, retried as a network error, in errors and logs that show it.
        self._api_key = resolve_api_key(api_key)
        self.base_url = resolve_base_url(base_url)
        # Parsed once: httpx re-parses a str URL on every request (about 45 µs a call).
        self._url = httpx.URL(f"{self.base_url}/chat/completions")
        # Our timeouts apply to injected clients too: httpx's own 5 s default would
        # cut off a model that thinks for minutes.
        self.timeout = Timeout.coerce(timeout)
        self.retry_policy = RetryPolicy(max_retries=max_retries)
        self.default_headers = dict(default_headers or {})
        check_headers(self.default_headers)
        self._limit = make_limit(max_concurrent_requests)
        # Our own pools honour proxies set in the environment, as any httpx client does.
        self._own_pools = own_pools
        if self._api_key:
            warn_if_plain_http(self.base_url, env_proxies=own_pools)

    @property
    def max_retries(self) -> int:
        return self.retry_policy.max_retries

    @property
    def max_concurrent_requests(self) -> int | None:
        return self._limit.slots

    @property
    def has_api_key(self) -> bool:
        return self._api_key is not None

    def __repr__(self) -> str:
        key = "set" if self._api_key else "missing"
        return f"{type(self).__name__}(base_url={self.base_url!r}, api_key=<{key}>)"

    def with_options(
        self,
        *,
        api_key: str | None = _UNSET,
        base_url: str | None = _UNSET,
        timeout: TimeoutLike = _UNSET,
        max_retries: int = _UNSET,
        default_headers: Mapping[str, str] | None = _UNSET,
        max_concurrent_requests: int | ConcurrencyLimit | None = _UNSET,
        max_event_bytes: int = _UNSET,
        fallback_models: Sequence[str] | None = _UNSET,
        preserve_thinking: bool = _UNSET,
    ) -> Self:
        """A client with some settings changed that shares this one's connection pools
        (and its concurrency limit, unless that changes). Closing either closes the pools
        for both; they are re-made on the next call. ``timeout`` of seconds or an
        ``httpx.Timeout`` keeps this client's deadline (``Timeout.total``)."""
        new = copy.copy(self)  # shares the pools: they belong to the client's pool objects
        keep = max_concurrent_requests is _UNSET
        BaseClient.__init__(
            new,
            api_key=self._api_key if api_key is _UNSET else api_key,
            base_url=self.base_url if base_url is _UNSET else base_url,
            timeout=self.timeout if timeout is _UNSET else _phases(timeout, self.timeout.total),
            max_retries=self.max_retries if max_retries is _UNSET else max_retries,
            default_headers=self.default_headers if default_headers is _UNSET else default_headers,
            max_concurrent_requests=None if keep else max_concurrent_requests,
            own_pools=self._own_pools,
            max_event_bytes=self.max_event_bytes if max_event_bytes is _UNSET else max_event_bytes,
            fallback_models=self.fallback_models if fallback_models is _UNSET else fallback_models,
            preserve_thinking=(
                self.preserve_thinking if preserve_thinking is _UNSET else preserve_thinking
            ),
        )
        if keep:
            new._limit = self._limit
        new.retry_policy = dataclasses.replace(self.retry_policy, max_retries=new.max_retries)
        return new

    def _prepare(
        self,
        messages: Messages,
        params: Mapping[str, Any],
        *,
        stream: bool,
        extra_headers: Mapping[str, str] | None = None,
        timeout: TimeoutLike = None,
        fallback_models: Sequence[str] | None = None,
        preserve_thinking: bool | None = None,
    ) -> Prepared:
        preserve = (
            self.preserve_thinking
            if preserve_thinking is None
            else check_preserve_thinking(preserve_thinking)
        )
        body, stops = build(messages, params, stream=stream, preserve=preserve)
        if not self._api_key:
            raise RequestValidationError(
                "api_key", "required: pass api_key=... or set POWERTOKENS_API_KEY", None
            )
        if extra_headers:
            check_headers(extra_headers, "extra_headers")
        headers = {
            "Authorization": f"Bearer {self._api_key}",
            "Content-Type": "application/json",
            "Accept": "text/event-stream" if stream else "application/json",
            "User-Agent": USER_AGENT,
            **self.default_headers,
            **(extra_headers or {}),
        }
        chosen = (
            self.timeout
            if timeout is None
            else Timeout.coerce(_phases(timeout, self.timeout.total))
        )
        prepared = Prepared(
            url=self._url,
            content=encode_body(body),
            headers=headers,
            timeout=chosen.for_request(stream=stream),
            model=body["model"],
            stream=stream,
            stops=stops,
            total=chosen.deadline,
            single_tool_call=params.get("parallel_tool_calls") is False,
            max_event_bytes=self.max_event_bytes,
        )
        chain = (
            self.fallback_models
            if fallback_models is None
            else check_fallback_models(fallback_models)
        )
        if chain:
            return _with_fallbacks(prepared, chain, messages, params, stream, preserve)
        return prepared

    def _no_slot(self, prepared: Prepared) -> PoolTimeoutError:
        waited = prepared.timeout.pool
        return PoolTimeoutError(
            f"no free request slot within {waited:g} s: max_concurrent_requests="
            f"{self._limit.slots} requests were in flight the whole time. Raise the pool "
            "timeout (Timeout(pool=...)) or the limit, or end streams you no longer read."
        )

    def _next_attempt(
        self,
        error: APIError,
        retries_done: int,
        prepared: Prepared,
        deadline: Deadline | None,
    ) -> float | Prepared:
        """After a failed attempt: the seconds to wait before retrying, or the request for
        the next of ``fallback_models``; raises ``error`` (or the deadline's) when neither.
        The one retry decision of ``chat()`` and streams, sync and async."""
        if deadline is not None:
            deadline.check(error)
        delay = self._delay(error, retries_done, prepared.model)
        if delay is None:
            following = next_model(prepared, error)
            if following is None:
                raise error
            return following
        if deadline is not None:
            deadline.wait(delay, error)
        return delay

    def _delay(self, error: PowerTokensError, retries_done: int, model: str) -> float | None:
        """Seconds to wait before the next attempt, or None to raise ``error``."""
        delay = self.retry_policy.next_delay(error, retries_done)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "attempt %d failed, %s: model=%s status=%s code=%s request_id=%s error=%s",
                retries_done + 1,
                "not retrying" if delay is None else f"retrying in {delay:.2f}s",
                model,
                getattr(error, "status_code", None),
                getattr(error, "code", None),
                getattr(error, "request_id", None),
                type(error).__name__,
            )
        return delay


def _with_fallbacks(
    prepared: Prepared,
    chain: tuple[str, ...],
    messages: Messages,
    params: Mapping[str, Any],
    stream: bool,
    preserve: bool = False,
) -> Prepared:
    """``prepared`` with the same request built for each fallback model, checked now
    against that model's limits (e.g. ``max_tokens``): a request one of them would
    refuse is refused before anything is sent. The model asked for is left out of the
    chain (its retries were its tries)."""
    models = [name for name in chain if name != prepared.model]
    links: list[Prepared] = []
    for name in models:
        try:
            body, stops = build(
                messages, {**params, "model": name}, stream=stream, preserve=preserve
            )
        except RequestValidationError as error:
            raise RequestValidationError(
                error.field, f"{error.limit} (for {name}, in fallback_models)", error.value
            ) from None
        links.append(
            dataclasses.replace(prepared, content=encode_body(body), model=name, stops=stops)
        )
    tried = (prepared.model,)
    following: tuple[Prepared, ...] = ()
    # Built from the last: each link holds the models after it and those before it.
    for index in range(len(links) - 1, -1, -1):
        link = dataclasses.replace(
            links[index],
            fallbacks=following,
            fallback_from=(*tried, *models[:index]),
        )
        following = (link, *following)
    return dataclasses.replace(prepared, fallbacks=following)


def _phases(timeout: TimeoutLike, total: float | None) -> TimeoutLike:
    """A timeout given over a client's: seconds or an ``httpx.Timeout`` set the phases and
    keep the client's deadline ``total``; a ``Timeout`` (or None) is taken as it is."""
    if timeout is None or isinstance(timeout, Timeout):
        return timeout
    return Timeout.coerce(timeout, total=total)
