"""``PowerTokens``: Zhipu GLM models through PowerTokens as a LlamaIndex ``FunctionCallingLLM``."""

from __future__ import annotations

import copy
import difflib
from collections.abc import Sequence
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import httpx
from llama_index.core.base.llms.types import (
    ChatMessage,
    ChatResponse,
    ChatResponseAsyncGen,
    ChatResponseGen,
    CompletionResponse,
    CompletionResponseAsyncGen,
    CompletionResponseGen,
    LLMMetadata,
    MessageRole,
)
from llama_index.core.bridge.pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
)
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM

from powertokens import (
    DEFAULT_MAX_EVENT_BYTES,
    DEFAULT_MODEL,
    AsyncPowerTokens,
    AsyncStream,
    ChatCompletion,
    ConcurrencyLimit,
    RequestValidationError,
    Stream,
    Timeout,
    model_info,
    validate_params,
)
from powertokens import PowerTokens as SyncPowerTokens
from powertokens.lib import check_api_key, resolve_api_key, resolve_base_url

from ._convert import StreamState, chat_response, completion_response
from ._messages import to_wire_messages
from ._request import Call, Defaults, defaults, merge_call
from ._streams import achat_gen, acompletion_gen, chat_gen, completion_gen
from ._tooling import ToolCalling, awatched, watched

if TYPE_CHECKING:
    pass

__all__ = ["PowerTokens"]

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


_ALIASES = {
    "api_base": "base_url",
    "model_name": "model",
    "request_timeout": "timeout",
    "max_completion_tokens": "max_tokens",
    "send_reasoning_content": "send_reasoning",
}
"""Names other LlamaIndex integrations (OpenAI, OpenAILike, Ollama...) use for a field;
accepted at construction and on assignment (properties)."""
_CORE_CHECKED = frozenset({"model", "temperature", "top_p", "max_tokens", "stop", "thinking"})
"""Fields the core's ``validate_params`` checks, on assignment too."""


class _Cached:
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


class PowerTokens(ToolCalling, FunctionCallingLLM):
    """Zhipu GLM chat models (glm-5-turbo, glm-5, glm-4.7, ...) through PowerTokens.

    Setup::

        pip install "powertokens[llama-index]"
        export POWERTOKENS_API_KEY=...

    Instantiate::

        from llama_index_powertokens import PowerTokens
        # or, as on LlamaHub: from llama_index.llms.powertokens import PowerTokens
        llm = PowerTokens(model="glm-5-turbo", temperature=0.2)

    Settings: every field may be changed after construction (``llm.api_key = "..."``,
    ``llm.model = "glm-4.7"``) or in a copy (``llm.model_copy(update={...})``,
    ``copy.deepcopy``): the next call uses it. Names other integrations use are aliases
    (``api_base``, ``model_name``, ``request_timeout``, ``max_completion_tokens``);
    unknown names (``temprature=``) raise ``RequestValidationError`` naming the closest
    field, at construction, on assignment and per call. A deep copy or an unpickled
    LLM has its own connections; pickling keeps the key (as a ``SecretStr``, as
    multiprocessing needs) and drops injected httpx clients.

    ``metadata.num_output`` is ``max_tokens``, or -1 when unset (LlamaIndex then keeps
    256 tokens free), as in LlamaIndex's OpenAI integration, so response synthesizers
    fill the context window instead of reserving the model's whole output limit.

    Chat / complete (sync and async, whole or streamed)::

        llm.chat([ChatMessage(role="user", content="Hi")]).message.content
        for r in llm.stream_chat(messages):
            print(r.delta, end="")                        # answer text only
            r.additional_kwargs.get("thinking_delta")     # reasoning, piece by piece

    Reasoning is a ``ThinkingBlock`` first in ``message.blocks`` (``complete``:
    ``additional_kwargs["reasoning_content"]``, on the last item of ``stream_complete``
    too); usage (prompt, completion, total, cached, reasoning tokens) and
    ``finish_reason`` are in ``response.additional_kwargs`` (streams: the last items).
    An answer blocked by the content filter (``finish_reason="sensitive"``) has
    ``additional_kwargs["content_filtered"] = True`` and ``["refusal"]``; if nothing
    was delivered, its text is that explanation (so a query engine shows it, not
    "Empty Response").

    Tools and agents: ``FunctionAgent(tools=[...], llm=llm)``, ``llm.predict_and_call``,
    ``llm.chat_with_tools``. The API only takes ``tool_choice="auto"``: a required or
    named tool is asked for in the system prompt instead (never sent as a choice).
    ``allow_parallel_tool_calls=False`` (``chat_with_tools``' default; set it on
    ``FunctionAgent`` for side-effecting tools) is enforced here, streamed or not: the
    model is asked for one call and only the first call of an answer is kept.

    A stream that one of several ``stop`` sequences ends here (the API takes one) closes
    its connection at once: its last response has no token counts and
    ``additional_kwargs["usage_unknown"]`` says why.
    A finished answer whose tool-call arguments are not a JSON object (cut off by
    ``max_tokens``) raises ``ToolCallArgumentsError`` from
    ``get_tool_calls_from_response``: the tool is never run with missing arguments.
    Tool results are text: an image a tool returns is sent as an ``[image omitted]``
    note, with a logged warning.

    Structured output: ``llm.structured_predict(Model, prompt)``,
    ``llm.as_structured_llm(Model)``, ``llm.stream_structured_predict(...)``; when the
    model writes the JSON as text instead of calling the tool, the JSON is used.

    Turn-level thinking: ``thinking`` works per call and applies to that turn only, so
    an agent loop can think on planning turns and not on the turns that only read a
    tool's result::

        tools = [weather_tool]
        history = [ChatMessage(role="user", content="Weather in Paris?")]
        while True:
            planning = history[-1].role != "tool"
            reply = llm.chat_with_tools(tools, chat_history=history, thinking=planning)
            history.append(reply.message)
            calls = llm.get_tool_calls_from_response(reply, error_on_no_tool_call=False)
            if not calls:
                break
            for call in calls:
                result = weather_tool(**call.tool_kwargs)
                history.append(ChatMessage(role="tool", content=str(result),
                                           additional_kwargs={"tool_call_id": call.tool_id}))

    Preserved thinking: ``preserve_thinking=True`` (or per call) sends
    ``thinking.clear_thinking: false``; the model keeps every earlier turn's reasoning,
    sent back exactly as it came (the ``ThinkingBlock`` of each assistant message, also
    from streamed answers, chat memory and agents), and the service's prompt cache
    covers the conversation so far (``additional_kwargs["cached_tokens"]``). Needs
    ``send_reasoning=True`` (alias ``send_reasoning_content``) and a model that supports
    it (not glm-4.5-air).

    Thinking budget: the reasoning counts against ``max_tokens``. An answer whose
    thinking used it all (``finish_reason="length"``, reasoning, no text and no tool
    call) has ``additional_kwargs["thinking_exhausted_budget"] = True`` (streams: the
    final items), and ``powertokens.ThinkingBudgetWarning`` is issued once per answer
    (the ``warnings`` filters decide how often it shows). Structured output
    (``structured_predict``, ``as_structured_llm``) and ``get_tool_calls_from_response``
    raise ``ThinkingBudgetExceededError`` instead of a parse error or an empty result.
    The remedy: raise ``max_tokens``, or pass ``thinking=False`` for that call.

    Errors are the ``powertokens`` error tree (``RateLimitError``,
    ``AuthenticationError``, ``StreamInterruptedError``...); bad settings raise
    ``powertokens.RequestValidationError`` before anything is sent.
    """

    model_config = ConfigDict(validate_assignment=True)

    model: str = Field(
        default=DEFAULT_MODEL,
        description="Model name, e.g. glm-5-turbo, glm-5, glm-4.7, glm-4.7-flash, glm-4.5-air.",
    )
    api_key: SecretStr | None = Field(
        default=None,
        exclude=True,
        repr=False,
        description="API key; defaults to $POWERTOKENS_API_KEY. Never serialized or shown.",
    )
    base_url: str = Field(
        default="",
        description="API base URL (alias: api_base); defaults to $POWERTOKENS_BASE_URL, "
        "then https://api.powertokens.ai/v1.",
    )
    temperature: float | None = Field(
        default=None, description="Sampling temperature in [0, 1]; None: the model's default."
    )
    top_p: float | None = Field(
        default=None, description="Nucleus sampling in [0.01, 1]; None: the model's default."
    )
    max_tokens: int | None = Field(
        default=None, description="Most tokens to generate (reasoning included); None: default."
    )
    stop: str | list[str] | None = Field(
        default=None,
        description="Stop sequences: the first is sent to the server, all are enforced here.",
    )
    thinking: bool | str | dict[str, Any] | None = Field(
        default=None,
        description='Reasoning: True/False, "enabled"/"disabled" or {"type": ...}; '
        "None: the model's default (on for glm-5-turbo, glm-5, glm-4.7, glm-4.7-flash).",
    )
    send_reasoning: bool = Field(
        default=True,
        description="Send an assistant turn's ThinkingBlock back as reasoning_content "
        "(interleaved thinking with tools); alias: send_reasoning_content.",
    )
    preserve_thinking: bool = Field(
        default=False,
        description="Preserved thinking: send thinking.clear_thinking: false, so the model "
        "keeps earlier turns' reasoning (GLM-5 and GLM-4.7 families; other models are "
        "refused). Every assistant turn's ThinkingBlock is sent back exactly as it came "
        "(needs send_reasoning=True); raises prompt-cache hits. Also a per-call keyword.",
    )
    timeout: float | Timeout | None = Field(
        default=None,
        description="Seconds for every phase of a request, or a powertokens.Timeout; None: "
        "10 s connect, 600 s read, 120 s between stream reads.",
    )
    total_timeout: float | None = Field(
        default=None,
        description="Deadline in seconds for a whole call, retries and backoff included (a "
        "stream: from the first send until it ends); past it, DeadlineExceededError. Sets "
        "Timeout.total; None keeps timeout's (no deadline by default).",
    )
    max_retries: int = Field(
        default=2, ge=0, description="Retries of rate limits, overloads and network errors."
    )
    fallback_models: list[str] | None = Field(
        default=None,
        description="Models to try, in order, each with its own retries, when model is "
        "still overloaded (code 1312) after its retries; no other error falls back. "
        "additional_kwargs['model'] then names the model that answered and "
        "['fallback_from'] the overloaded ones. A stream falls back only before its "
        "first chunk. Also a per-call keyword ([]: none for that call).",
    )
    max_concurrent_requests: int | None = Field(
        default=None,
        ge=1,
        description="Most requests in flight at once through this LLM (a stream counts "
        "until it ends); more calls wait for a slot (up to the pool timeout, then "
        "PoolTimeoutError) instead of drawing 429 1302s. Shared by every call of this "
        "instance, sync and async, from any thread or event loop. None: no limit.",
    )
    max_event_bytes: int | None = Field(
        default=None,
        ge=1,
        description="Largest stream event (one data: line) accepted, in bytes; a bigger one "
        "ends the stream with StreamInterruptedError instead of growing memory without "
        "bound. None: the core's default (16 MiB).",
    )
    context_window: int | None = Field(
        default=None,
        description="Context window in tokens; None: the model's (200K for glm-5, "
        "128K for unknown models; powertokens.register_model adds a model's limits).",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra request-body fields sent on every call."
    )
    default_headers: dict[str, str] | None = Field(
        default=None, description="Extra HTTP headers sent on every call."
    )

    _http_client: httpx.Client | None = PrivateAttr(default=None)
    _async_http_client: httpx.AsyncClient | None = PrivateAttr(default=None)
    # Caches keyed on the settings they were built from: see "derived state" below.
    _client: _Cached | None = PrivateAttr(default=None)
    _aclient: _Cached | None = PrivateAttr(default=None)
    _defaults: _Cached | None = PrivateAttr(default=None)
    _metadata: _Cached | None = PrivateAttr(default=None)
    _limit: _Cached | None = PrivateAttr(default=None)

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        *,
        api_key: str | SecretStr | None = None,
        base_url: str | None = None,
        api_base: str | None = None,
        http_client: httpx.Client | None = None,
        async_http_client: httpx.AsyncClient | None = None,
        **kwargs: Any,
    ) -> None:
        model, kwargs = _resolve_aliases(model, kwargs)
        if isinstance(api_key, SecretStr):
            api_key = api_key.get_secret_value()
        # Trimmed and checked (never shown), like the core client's: before pydantic sees
        # them, so no validation error can carry the raw key or a URL password.
        api_key = resolve_api_key(api_key)
        base_url = resolve_base_url(base_url or api_base)
        try:
            # The pydantic model's own __init__ (ToolCalling is a field-less mixin).
            FunctionCallingLLM.__init__(
                self, model=model, api_key=api_key, base_url=base_url, **kwargs
            )
        except ValidationError as exc:
            raise _invalid_setting(None, None, exc) from None
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._settings()  # validate the sampling fields now, with the core's checks

    @classmethod
    def class_name(cls) -> str:
        return "PowerTokens_LLM"

    # -- settings: aliases, assignment, copies ---------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        # Aliases (api_base, model_name...) are properties with setters; anything else
        # that is not a field is refused, and pydantic's validation errors (the model
        # validates assignments) become RequestValidationError naming the field.
        if name not in _FIELDS and not name.startswith("_") and not hasattr(type(self), name):
            raise _unknown_setting(name, value)
        if name == "api_key" and value is not None:
            # Kept as a SecretStr (a str would show in repr), checked as at construction.
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            key = check_api_key(value)
            value = SecretStr(key) if key is not None else None
        elif name == "base_url":
            value = resolve_base_url(value)  # trimmed and checked, a password never shown
        elif name in _CORE_CHECKED:
            validate_params(**{name: value})
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise _invalid_setting(name, value, exc) from None

    def __deepcopy__(self, memo: dict[int, Any] | None = None) -> PowerTokens:
        # A deep copy is independent: the caches (clients, pools, limit) copy as None
        # (see ``_Cached``) and are made afresh on its first call; the caller's
        # injected httpx clients are shared, not copied. Pickling drops them all
        # (LlamaIndex's ``__getstate__``); the key is kept, as the ``SecretStr`` it is.
        memo = {} if memo is None else memo
        private = self.__pydantic_private__ or {}
        for name in ("_http_client", "_async_http_client"):
            value = private.get(name)
            if value is not None:
                memo[id(value)] = value
        copied: PowerTokens = super().__deepcopy__(memo)
        return copied

    @property
    def api_base(self) -> str:
        """The base URL (the name OpenAI-style LlamaIndex integrations use); settable."""
        return self.base_url

    @api_base.setter
    def api_base(self, value: str) -> None:
        self.base_url = value

    @property
    def model_name(self) -> str:
        """Alias of ``model`` (the name several LlamaIndex integrations use); settable."""
        return self.model

    @model_name.setter
    def model_name(self, value: str) -> None:
        self.model = value

    @property
    def request_timeout(self) -> float | Timeout | None:
        """Alias of ``timeout`` (as in ``Ollama``/``OpenAILike``); settable."""
        return self.timeout

    @request_timeout.setter
    def request_timeout(self, value: float | Timeout | None) -> None:
        self.timeout = value

    @property
    def max_completion_tokens(self) -> int | None:
        """Alias of ``max_tokens`` (the OpenAI API's newer name); settable."""
        return self.max_tokens

    @max_completion_tokens.setter
    def max_completion_tokens(self, value: int | None) -> None:
        self.max_tokens = value

    @property
    def send_reasoning_content(self) -> bool:
        """Alias of ``send_reasoning`` (this adapter's earlier name; LangChain's
        ``ChatPowerTokens`` has the same ``send_reasoning``); settable."""
        return self.send_reasoning

    @send_reasoning_content.setter
    def send_reasoning_content(self, value: bool) -> None:
        self.send_reasoning = value

    # -- derived state, cached per settings -------------------------------------------
    # Each cache holds the settings it was built from and is rebuilt when they differ,
    # however they changed (assignment, ``model_copy(update=...)``, a copy): one tuple
    # comparison per call. Private attributes are read through ``__pydantic_private__``
    # (pydantic's attribute lookup for them costs microseconds).

    def _settings(self) -> Defaults:
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        key = _derived_key(self.__dict__)
        cached: _Cached | None = private["_defaults"]
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
        private["_defaults"] = _Cached(_snapshot(key), built)
        return built

    def _meta(self) -> _Cached:
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        key = _derived_key(self.__dict__)
        # The catalog entry is part of the key: a model registered (or replaced) after
        # construction shows on the next call (powertokens.register_model).
        info = model_info(self.model)
        cached: _Cached | None = private["_metadata"]
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
        cached = private["_metadata"] = _Cached((_snapshot(key), info), meta, payload)
        return cached

    @property
    def metadata(self) -> LLMMetadata:
        """Context window and output reserve for LlamaIndex's prompt packing.

        ``num_output`` is ``max_tokens`` when set, else -1 (LlamaIndex then reserves its
        default 256 tokens), as in LlamaIndex's OpenAI integration: reserving the
        model's whole output limit (128K) would leave indexes almost no room for
        context, and compact / refine / tree_summarize would make many more calls.
        """
        meta: LLMMetadata = self._meta().value
        return meta

    def to_payload(self) -> dict[str, Any]:
        """What instrumentation sees of this LLM (metadata only: never the key).
        Built once per settings change: the callbacks ask on every call."""
        return dict(self._meta().extra)

    def _client_options(self) -> dict[str, Any]:
        slots = self.max_concurrent_requests
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        cached: _Cached | None = private["_limit"]
        limit: ConcurrencyLimit | None = None
        if slots is not None:
            if cached is None or cached.key != slots:
                # One limit for the sync and the async client: "in flight" counts both.
                cached = private["_limit"] = _Cached(slots, ConcurrencyLimit(slots))
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
        cached: _Cached | None = private["_client"]
        if cached is not None and cached.key == key:
            client: SyncPowerTokens = cached.value
            return client
        if cached is not None:
            client = cached.value.with_options(**self._client_options())  # same pool
        else:
            client = SyncPowerTokens(**self._client_options(), http_client=self._http_client)
        private["_client"] = _Cached(_snapshot(key), client)
        return client

    def _async_client(self) -> AsyncPowerTokens:
        # One core client: it gives each event loop its own pool (closed with the loop),
        # so asyncio.run twice or a loop per test keep working.
        private: dict[str, Any] = self.__pydantic_private__  # type: ignore[assignment]
        key = _transport_key(self.__dict__)
        cached: _Cached | None = private["_aclient"]
        if cached is not None and cached.key == key:
            client: AsyncPowerTokens = cached.value
            return client
        if cached is not None:
            client = cached.value.with_options(**self._client_options())  # same pools
        else:
            client = AsyncPowerTokens(**self._client_options(), http_client=self._async_http_client)
        private["_aclient"] = _Cached(_snapshot(key), client)
        return client

    def _key(self) -> str | None:
        key: SecretStr | str | None = self.api_key
        if isinstance(key, SecretStr):
            return key.get_secret_value()
        return key  # None, or a str put there by model_copy(update=...) (not validated)

    def close(self) -> None:
        """Close the sync connection pool (an injected ``http_client`` stays open)."""
        if self._client is not None:
            self._client.value.close()  # the pool is re-made on the next call

    async def aclose(self) -> None:
        """Close the async connection pool of the running loop."""
        if self._aclient is not None:
            await self._aclient.value.close()

    # -- building a call --------------------------------------------------------------

    def _chat_call(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> Call:
        call = merge_call(
            self._settings(), kwargs, send_reasoning=self.send_reasoning, timeout=self.timeout
        )
        call.messages = to_wire_messages(messages, send_reasoning=self.send_reasoning)
        return call

    def _prompt_call(self, prompt: str, kwargs: dict[str, Any]) -> Call:
        call = merge_call(
            self._settings(), kwargs, send_reasoning=self.send_reasoning, timeout=self.timeout
        )
        call.messages = [{"role": "user", "content": prompt}]
        return call

    def _complete(self, call: Call) -> ChatCompletion:
        return self._sync_client().chat(call.messages, **call.params)

    async def _acomplete(self, call: Call) -> ChatCompletion:
        return await self._async_client().chat(call.messages, **call.params)

    def _open(self, call: Call) -> Stream:
        # The core validates here, so a bad request raises before any generator exists.
        return self._sync_client().stream(call.messages, **call.params)

    def _aopen(self, call: Call) -> AsyncStream:
        return self._async_client().stream(call.messages, **call.params)

    # -- the eight methods ------------------------------------------------------------

    @llm_chat_callback()
    def chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        call = self._chat_call(messages, kwargs)
        return chat_response(self._complete(call), call.fallback)

    @llm_chat_callback()
    async def achat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponse:
        call = self._chat_call(messages, kwargs)
        return chat_response(await self._acomplete(call), call.fallback)

    @llm_completion_callback()
    def complete(self, prompt: str, formatted: bool = False, **kwargs: Any) -> CompletionResponse:
        call = self._prompt_call(prompt, kwargs)
        return completion_response(self._complete(call))

    @llm_completion_callback()
    async def acomplete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponse:
        call = self._prompt_call(prompt, kwargs)
        return completion_response(await self._acomplete(call))

    @llm_chat_callback()
    def stream_chat(self, messages: Sequence[ChatMessage], **kwargs: Any) -> ChatResponseGen:
        call = self._chat_call(messages, kwargs)
        stream = self._open(call)
        return watched(chat_gen(stream, StreamState(stream, call.fallback)))

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        call = self._chat_call(messages, kwargs)
        stream = self._aopen(call)
        return awatched(achat_gen(stream, StreamState(stream, call.fallback)))

    @llm_completion_callback()
    def stream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseGen:
        call = self._prompt_call(prompt, kwargs)
        stream = self._open(call)
        return completion_gen(stream, StreamState(stream))

    @llm_completion_callback()
    async def astream_complete(
        self, prompt: str, formatted: bool = False, **kwargs: Any
    ) -> CompletionResponseAsyncGen:
        call = self._prompt_call(prompt, kwargs)
        stream = self._aopen(call)
        return acompletion_gen(stream, StreamState(stream))

    # -- tools ------------------------------------------------------------------------


# -- module helpers for the settings ----------------------------------------------------

_FIELDS = frozenset(PowerTokens.model_fields)
_derived_key = itemgetter(*sorted(_CACHED_FROM))
_transport_key = itemgetter(*sorted(_TRANSPORT_FIELDS))


def _snapshot(key: tuple[Any, ...]) -> tuple[Any, ...]:
    """A cache key that still differs after the caller edits a dict or list in place."""
    return tuple(copy.copy(v) if isinstance(v, (dict, list)) else v for v in key)


def _unknown_setting(name: str, value: Any) -> RequestValidationError:
    known = sorted(_FIELDS | _ALIASES.keys())
    close = difflib.get_close_matches(name, known, n=1)
    hint = f"did you mean {close[0]!r}? " if close else ""
    # The value is not shown: a misspelled api_key would be the key.
    return RequestValidationError(
        name,
        f"not a PowerTokens setting ({hint}see help(PowerTokens) for the fields)",
        f"<{type(value).__name__}>",
    )


def _invalid_setting(name: str | None, value: Any, exc: ValidationError) -> RequestValidationError:
    """pydantic's first complaint as a RequestValidationError naming the field (the
    value is never shown for ``api_key``)."""
    error = exc.errors(include_url=False, include_input=False)[0]
    field = name or ".".join(str(p) for p in error["loc"]) or "settings"
    if name is None:
        value = "<hidden>" if "api_key" in field else exc.errors()[0].get("input")
    elif "api_key" in field:
        value = "<hidden>"
    return RequestValidationError(field, error["msg"], value)


def _resolve_aliases(model: str, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    """Aliases mapped onto their fields; unknown names refused (close matches named)."""
    for name in kwargs:
        if name not in _FIELDS and name not in _ALIASES:
            raise _unknown_setting(name, kwargs[name])
    if not any(alias in kwargs for alias in _ALIASES):
        return model, kwargs
    kwargs = dict(kwargs)
    for alias, target in _ALIASES.items():
        if alias not in kwargs or alias == "api_base":  # api_base: a named argument
            continue
        value = kwargs.pop(alias)
        given = model != DEFAULT_MODEL if target == "model" else target in kwargs
        if given:
            raise RequestValidationError(
                alias, f"an alias of {target!r}: give one of the two, not both", value
            )
        if target == "model":
            model = value
        else:
            kwargs[target] = value
    return model, kwargs
