"""Derived state of a :class:`~llama_index_powertokens.PowerTokens` LLM, cached per
settings: the request defaults, the metadata and the core clients (sending, closing).

Each cache holds the settings it was built from and is rebuilt when they differ,
however they changed (assignment, ``model_copy(update=...)``, a copy): one tuple
comparison per call. Private attributes are read through ``__pydantic_private__``
(pydantic's attribute lookup for them costs microseconds).
"""

from __future__ import annotations

import copy
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import httpx
from llama_index.core.base.llms.types import LLMMetadata, MessageRole
from llama_index.core.bridge.pydantic import SecretStr
from llama_index.core.llms.function_calling import FunctionCallingLLM
from typing_extensions import Self

from powertokens import (
    DEFAULT_MAX_EVENT_BYTES,
    AsyncPowerTokens,
    AsyncStream,
    ChatCompletion,
    ConcurrencyLimit,
    Stream,
    Timeout,
    model_info,
)
from powertokens import PowerTokens as SyncPowerTokens

from ._request import Call, Defaults, defaults

if TYPE_CHECKING:
    _Base = FunctionCallingLLM
else:
    _Base = object  # a plain mixin at run time: PowerTokens adds FunctionCallingLLM

__all__ = ["Cached", "ClientCache"]

_TRANSPORT_FIELDS = frozenset(
    {
        "api_key",
        "base_url",
        "timeout",
        "total_timeout",
        "max_retries",
        "max_concurrent_requests",
        "max_event_bytes",
        "default_headers",
    }
)
_CACHED_FROM = frozenset(
    {
        "model",
        "temperature",
        "top_p",
        "max_tokens",
        "stop",
        "thinking",
        "additional_kwargs",
        "context_window",
        "fallback_models",
        "preserve_thinking",
        "send_reasoning",
    }
)
_derived_key = itemgetter(*sorted(_CACHED_FROM))
_transport_key = itemgetter(*sorted(_TRANSPORT_FIELDS))


def _snapshot(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """A cache key that still differs after the caller edits a dict or list in place."""
    return tuple(copy.copy(v) if isinstance(v, (dict, list)) else v for v in key)


class Cached:
    """Derived state and the settings it was built from (``key``: compared on every
    call, rebuilt when different). Per instance: a deep copy or an unpickled LLM gets
    None and builds its own (clients and pools hold locks and sockets)."""

    __slots__ = ("extra", "key", "value")

    def __init__(self, key: Any, value: Any, extra: Any = None) -> None:
        self.key = key
        self.value = value
        self.extra = extra

    def __deepcopy__(self, memo: dict[int, Any]) -> None:
        return None

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(None), ())  # unpickled as None


class ClientCache(_Base):
    """The caches of PowerTokens, a mixin: the fields and the ``Cached`` private
    attributes below are PowerTokens' (declared here for the type checker)."""

    if TYPE_CHECKING:
        model: str
        temperature: float | None
        top_p: float | None
        max_tokens: int | None
        stop: str | list[str] | None
        thinking: bool | str | dict[str, Any] | None
        additional_kwargs: dict[str, Any]
        fallback_models: list[str] | None
        preserve_thinking: bool
        send_reasoning: bool
        context_window: int | None
        api_key: SecretStr | None
        base_url: str
        timeout: float | Timeout | None
        total_timeout: float | None
        max_retries: int
        max_concurrent_requests: int | None
        max_event_bytes: int | None
        default_headers: dict[str, str] | None
        _http_client: httpx.Client | None
        _async_http_client: httpx.AsyncClient | None
        _client: Cached | None
        _aclient: Cached | None

    def _settings(self) -> Defaults:
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        key = _derived_key(self.__dict__)
        cached: Cached | None = private["_defaults"]
        if cached is not None and cached.key == key:
            built: Defaults = cached.value
            return built
        built = defaults(
            model=self.model,
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_tokens,
            stop=self.stop,
            thinking=self.thinking,
            additional_kwargs=self.additional_kwargs,
            fallback_models=self.fallback_models,
            preserve_thinking=self.preserve_thinking,
            send_reasoning=self.send_reasoning,
        )
        private["_defaults"] = Cached(_snapshot(key), built)
        return built

    def _meta(self) -> Cached:
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        key = _derived_key(self.__dict__)
        # The catalog entry is part of the key: a model registered (or replaced) after
        # construction shows on the next call (powertokens.register_model).
        info = model_info(self.model)
        cached: Cached | None = private["_metadata"]
        if cached is not None and cached.key == (key, info):
            return cached
        window = self.context_window or info.context_window
        num_output = self.max_tokens or -1
        if num_output >= window:
            num_output = window // 2  # leave room for the prompt
        meta = LLMMetadata(
            context_window=window,
            num_output=num_output,
            is_chat_model=True,
            is_function_calling_model=info.supports_tools,
            model_name=self.model,
            system_role=MessageRole.SYSTEM,
        )
        payload = {"class_name": self.class_name(), **meta.model_dump()}
        cached = private["_metadata"] = Cached((_snapshot(key), info), meta, payload)
        return cached

    def to_payload(self) -> dict[str, Any]:
        """What instrumentation sees of this LLM (metadata only: never the key).
        Built once per settings change: the callbacks ask on every call."""
        return dict(self._meta().extra)

    # -- the core clients -------------------------------------------------------------

    def _client_options(self) -> dict[str, Any]:
        slots = self.max_concurrent_requests
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        cached: Cached | None = private["_limit"]
        limit: ConcurrencyLimit | None = None
        if slots is not None:
            if cached is None or cached.key != slots:
                # One limit for the sync and the async client: "in flight" counts both.
                cached = private["_limit"] = Cached(slots, ConcurrencyLimit(slots))
            limit = cached.value
        return {
            "api_key": self._key(),
            "base_url": self.base_url,
            "timeout": Timeout.coerce(self.timeout, total=self.total_timeout),
            "max_retries": self.max_retries,
            "max_concurrent_requests": limit,
            "default_headers": self.default_headers,
            "max_event_bytes": self.max_event_bytes or DEFAULT_MAX_EVENT_BYTES,
        }

    def _sync_client(self) -> SyncPowerTokens:
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        key = _transport_key(self.__dict__)
        cached: Cached | None = private["_client"]
        if cached is not None and cached.key == key:
            client: SyncPowerTokens = cached.value
            return client
        if cached is not None:
            client = cached.value.with_options(**self._client_options())  # same pool
        else:
            client = SyncPowerTokens(**self._client_options(), http_client=self._http_client)
        private["_client"] = Cached(_snapshot(key), client)
        return client

    def _async_client(self) -> AsyncPowerTokens:
        # One core client: it gives each event loop its own pool (closed with the loop),
        # so asyncio.run twice or a loop per test keep working.
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        key = _transport_key(self.__dict__)
        cached: Cached | None = private["_aclient"]
        if cached is not None and cached.key == key:
            client: AsyncPowerTokens = cached.value
            return client
        if cached is not None:
            client = cached.value.with_options(**self._client_options())  # same pools
        else:
            client = AsyncPowerTokens(**self._client_options(), http_client=self._async_http_client)
        private["_aclient"] = Cached(_snapshot(key), client)
        return client

    def _key(self) -> str | None:
        key: SecretStr | str | None = self.api_key
        if isinstance(key, SecretStr):
            return key.get_secret_value()
        return key  # None, or a str put there by model_copy(update=...) (not validated)

    def _complete(self, call: Call) -> ChatCompletion:
        return self._sync_client().chat(call.messages, **call.params)

    async def _acomplete(self, call: Call) -> ChatCompletion:
        return await self._async_client().chat(call.messages, **call.params)

    def _open(self, call: Call) -> Stream:
        # The core validates here, so a bad request raises before any generator exists.
        return self._sync_client().stream(call.messages, **call.params)

    def _aopen(self, call: Call) -> AsyncStream:
        return self._async_client().stream(call.messages, **call.params)

    def close(self) -> None:
        """Close the sync connection pool (an injected ``http_client`` stays open)."""
        if self._client is not None:
            self._client.value.close()  # the pool is re-made on the next call

    async def aclose(self) -> None:
        """Close the async connection pool of the running loop."""
        if self._aclient is not None:
            await self._aclient.value.close()

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> Self:
        # A deep copy is independent: the caches (clients, pools, limit) copy as None
        # (see ``Cached``) and are made afresh on its first call; the caller's
        # injected httpx clients are shared, not copied. Pickling drops them all
        # (LlamaIndex's ``__getstate__``); the key is kept, as the ``SecretStr`` it is.
        memo = {} if memo is None else memo
        private = self.__pydantic_private__ or {}
        for name in ("_http_client", "_async_http_client"):
            value = private.get(name)
            if value is not None:
                memo[id(value)] = value
        copied: Self = super().__deepcopy__(memo)
        return copied
