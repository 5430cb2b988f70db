"""The core clients behind a ``ChatPowerTokens``: a thin cache.

The core owns every resource (connection pools, one per event loop for async calls,
closed with their loop; the concurrency limit, shared across threads and loops).
A model keeps one sync and one async core client, valid while its connection
settings are unchanged: each call compares them (however they were changed:
assignment, ``model_copy(update=...)``, a copy) and, when they differ, derives a
client with the new settings that keeps the same pools (``with_options``).
Copies share the clients and pools of the model they came from; pickling drops them.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import httpx
from pydantic import SecretStr
from typing_extensions import Self

from powertokens import (
    API_KEY_ENV,
    DEFAULT_MAX_EVENT_BYTES,
    AsyncPowerTokens,
    ConcurrencyLimit,
    PowerTokens,
    PowerTokensError,
    Timeout,
    validate_params,
)
from powertokens.lib import check_api_key, resolve_base_url, shown_url

from ._errors import to_langchain_error

__all__ = [
    "SECRET_KWARGS",
    "ClientCache",
    "check_connection",
    "check_key",
    "hide_secrets",
    "mask_secrets",
]

PRIVATE = ("_client", "_async_client", "_limit")


def mask_secrets(values: dict[str, Any]) -> None:
    """Hide the key and a URL password in constructor input, in place: pydantic shows
    that input (``input_value=...``) in every error a model validator raises. A URL
    with credentials, a query or a fragment is refused anyway (``check_limits``), and
    shows as ``***`` there."""
    key = values.get("api_key")
    if isinstance(key, str):
        values["api_key"] = SecretStr(key)
    url = values.get("base_url")
    if isinstance(url, str) and (shown := shown_url(url)) != url:
        values["base_url"] = shown


_HIDDEN = "**********"
SECRET_KWARGS = ("api_key", "openai_api_key")
"""Names of the key (ours, ChatOpenAI's) that a call's kwargs may hold by mistake."""


def hide_secrets(kwargs: dict[str, Any]) -> dict[str, Any]:
    """A call's kwargs as callbacks and traces see them: a key given to the call (refused
    by the call itself) and the values of ``extra_headers`` hidden; the call gets the real
    ones. The same dict when there is nothing to hide."""
    if not any(name in kwargs for name in (*SECRET_KWARGS, "extra_headers")):
        return kwargs
    shown = dict(kwargs)
    for name in SECRET_KWARGS:
        if name in shown:
            shown[name] = _HIDDEN
    headers = shown.get("extra_headers")
    if isinstance(headers, Mapping):
        shown["extra_headers"] = dict.fromkeys(headers, _HIDDEN)
    return shown


def check_key(key: SecretStr | None, *, from_env: bool = False) -> None:
    """Raise for a key that cannot go in a header (trimmed of whitespace, it is fine),
    never showing it: the core's own check, done when the key is set."""
    if key is not None:
        check_api_key(key.get_secret_value(), source=API_KEY_ENV if from_env else "api_key")


def check_connection(model: ClientCache) -> None:
    """The key and base URL checks, naming the environment variable a value came from."""
    given = model.model_fields_set
    check_key(model.api_key, from_env="api_key" not in given)
    if "base_url" not in given and model.base_url is not None:
        resolve_base_url(None)  # read from POWERTOKENS_BASE_URL: checked as such


class ClientCache:
    """Mixin for the pydantic model that declares the fields and private attributes below."""

    if TYPE_CHECKING:
        api_key: SecretStr | None
        base_url: str | None
        timeout: float | httpx.Timeout | Timeout | None
        total_timeout: float | None
        max_retries: int
        max_concurrent_requests: int | None
        max_event_bytes: int | None
        default_headers: dict[str, str] | None
        http_client: httpx.Client | None
        http_async_client: httpx.AsyncClient | None
        __pydantic_private__: dict[str, Any] | None
        model_fields_set: set[str]

    def __setattr__(self, name: str, value: Any) -> None:
        # An assigned key is kept as a SecretStr (a str would show in repr), and a key or
        # URL the core would refuse fails here, as at construction.
        if name == "api_key" and value is not None:
            if not isinstance(value, SecretStr):
                value = SecretStr(value)
            try:
                check_key(value)
            except PowerTokensError as exc:
                raise to_langchain_error(exc) from None
        elif name == "base_url" and value is not None:
            try:
                validate_params(base_url=value)
            except PowerTokensError as exc:
                raise to_langchain_error(exc) from None
        super().__setattr__(name, value)

    def _settings(self) -> tuple[Any, ...]:
        headers = self.default_headers
        return (
            self.api_key,  # a SecretStr: compared by value, never shown
            self.base_url,
            self.timeout,
            self.total_timeout,
            self.max_retries,
            self.max_concurrent_requests,
            self.max_event_bytes,
            tuple(headers.items()) if headers else (),
        )

    def _options(self) -> dict[str, Any]:
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        slots = self.max_concurrent_requests
        limit: ConcurrencyLimit | None = private["_limit"]
        if slots is None:
            limit = None
        elif limit is None or limit.slots != slots:
            # One limit for the sync and the async client: "in flight" counts both.
            limit = private["_limit"] = ConcurrencyLimit(slots)
        return {
            "api_key": self.api_key.get_secret_value() if self.api_key is not None else None,
            "base_url": self.base_url,
            "timeout": Timeout.coerce(self.timeout, total=self.total_timeout),
            "max_retries": self.max_retries,
            "max_concurrent_requests": limit,
            "default_headers": self.default_headers,
            "max_event_bytes": self.max_event_bytes or DEFAULT_MAX_EVENT_BYTES,
        }

    # Private attributes are read through ``__pydantic_private__``: pydantic's attribute
    # lookup for them costs microseconds, and this runs on every call.

    def _sync_client(self) -> PowerTokens:
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        key = (self._settings(), self.http_client)
        cached = private["_client"]
        if cached is not None and cached[0] == key:
            client: PowerTokens = cached[1]
            return client
        if cached is not None and cached[0][1] is self.http_client:
            client = cached[1].with_options(**self._options())  # same pool, new settings
        else:
            client = PowerTokens(**self._options(), http_client=self.http_client)
        private["_client"] = (key, client)
        return client

    def _get_async_client(self) -> AsyncPowerTokens:
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        key = (self._settings(), self.http_async_client)
        cached = private["_async_client"]
        if cached is not None and cached[0] == key:
            client: AsyncPowerTokens = cached[1]
            return client
        if cached is not None and cached[0][1] is self.http_async_client:
            client = cached[1].with_options(**self._options())
        else:
            client = AsyncPowerTokens(**self._options(), http_client=self.http_async_client)
        private["_async_client"] = (key, client)
        return client

    def close(self) -> None:
        """Close this model's sync connections now (an injected client is left open;
        the next call opens new ones)."""
        cached = (self.__pydantic_private__ or {}).get("_client")
        if cached is not None:
            cached[1].close()

    async def aclose(self) -> None:
        """Close this model's connections now, sync and async (the running loop's at
        once, other loops' on their own loop); injected clients are left open."""
        self.close()
        cached = (self.__pydantic_private__ or {}).get("_async_client")
        if cached is not None:
            await cached[1].close()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        memo = {} if memo is None else memo
        for value in (self.__pydantic_private__ or {}).values():
            if value is not None:  # the clients and the limit: shared, never copied
                memo[id(value)] = value
        for value in (self.http_client, self.http_async_client):
            if value is not None:  # the caller's clients: shared, not copied
                memo[id(value)] = value
        copied: Self = super().__deepcopy__(memo)  # type: ignore[misc]
        return copied

    def __getstate__(self) -> dict[Any, Any]:
        state: dict[Any, Any] = super().__getstate__()  # type: ignore[misc]
        private = state.get("__pydantic_private__")
        if private:
            state["__pydantic_private__"] = {**private, **dict.fromkeys(PRIVATE)}
        return state
