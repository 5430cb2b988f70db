"""``PowerTokens``: Zhipu GLM models through PowerTokens as a LlamaIndex ``FunctionCallingLLM``."""

from __future__ import annotations

from collections.abc import Sequence
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
from llama_index.core.bridge.pydantic import Field, PrivateAttr, SecretStr
from llama_index.core.llms.callbacks import llm_chat_callback, llm_completion_callback
from llama_index.core.llms.function_calling import FunctionCallingLLM
from llama_index.core.llms.llm import ToolSelection

from powertokens import (
    DEFAULT_MODEL,
    AsyncPowerTokens,
    AsyncStream,
    ChatCompletion,
    ConcurrencyLimit,
    Stream,
    Timeout,
    model_info,
)
from powertokens import PowerTokens as SyncPowerTokens
from powertokens.lib import check_api_key, resolve_api_key, resolve_base_url

from ._convert import StreamState, chat_response, completion_response
from ._messages import to_wire_messages
from ._request import Call, Defaults, defaults, merge_call
from ._streams import achat_gen, acompletion_gen, chat_gen, completion_gen
from ._tools import keep_first_call, prepare_tools_call, tool_selections

if TYPE_CHECKING:
    from llama_index.core.tools.types import BaseTool

__all__ = ["PowerTokens"]

_TRANSPORT_FIELDS = frozenset(
    {
        "api_key",
        "base_url",
        "timeout",
        "total_timeout",
        "max_retries",
        "max_concurrent_requests",
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
    }
)


class PowerTokens(FunctionCallingLLM):
    """Zhipu GLM chat models (glm-5-turbo, glm-5, glm-4.7, ...) through PowerTokens.

    Setup::

        pip install "powertokens[llama-index]"
        export POWERTOKENS_API_KEY=...

    Instantiate::

        from llama_index_powertokens import PowerTokens
        llm = PowerTokens(model="glm-5-turbo", temperature=0.2)

    Chat / complete (sync and async, whole or streamed)::

        llm.chat([ChatMessage(role="user", content="Hi")]).message.content
        for r in llm.stream_chat(messages):
            print(r.delta, end="")                        # answer text only
            r.additional_kwargs.get("thinking_delta")     # reasoning, piece by piece

    Reasoning is a ``ThinkingBlock`` first in ``message.blocks``; usage (prompt,
    completion, total, cached, reasoning tokens) is in ``response.additional_kwargs``.

    Tools and agents: ``FunctionAgent(tools=[...], llm=llm)``, ``llm.predict_and_call``,
    ``llm.chat_with_tools``. The API only takes ``tool_choice="auto"``: a required or
    named tool is asked for in the system prompt instead (never sent as a choice).
    ``allow_parallel_tool_calls=False`` (``chat_with_tools``' default; set it on
    ``FunctionAgent`` for side-effecting tools) is enforced here, streamed or not: the
    model is asked for one call and only the first call of an answer is kept.

    A stream that one of several ``stop`` sequences ends here (the API takes one) closes
    its connection at once: its last response has no token counts and
    ``additional_kwargs["usage_unknown"]`` says why.

    Structured output: ``llm.structured_predict(Model, prompt)``,
    ``llm.as_structured_llm(Model)``, ``llm.stream_structured_predict(...)``; when the
    model writes the JSON as text instead of calling the tool, the JSON is used.

    Errors are the ``powertokens`` error tree (``RateLimitError``,
    ``AuthenticationError``, ``StreamInterruptedError``...); bad settings raise
    ``powertokens.RequestValidationError`` before anything is sent.
    """

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
    send_reasoning_content: bool = Field(
        default=True,
        description="Send an assistant turn's ThinkingBlock back as reasoning_content "
        "(interleaved thinking with tools).",
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
    max_concurrent_requests: int | None = Field(
        default=None,
        ge=1,
        description="Most requests in flight at once through this LLM (a stream counts "
        "until it ends); more calls wait for a slot (up to the pool timeout, then "
        "PoolTimeoutError) instead of drawing 429 1302s. Shared by every call of this "
        "instance, sync and async, from any thread or event loop. None: no limit.",
    )
    context_window: int | None = Field(
        default=None,
        description="Context window in tokens; None: the model's (200K for glm-5, "
        "128K for unknown models).",
    )
    additional_kwargs: dict[str, Any] = Field(
        default_factory=dict, description="Extra request-body fields sent on every call."
    )
    default_headers: dict[str, str] | None = Field(
        default=None, description="Extra HTTP headers sent on every call."
    )

    _http_client: httpx.Client | None = PrivateAttr(default=None)
    _async_http_client: httpx.AsyncClient | None = PrivateAttr(default=None)
    _client: SyncPowerTokens | None = PrivateAttr(default=None)
    _aclient: AsyncPowerTokens | None = PrivateAttr(default=None)
    _defaults: Defaults | None = PrivateAttr(default=None)
    _metadata: LLMMetadata | None = PrivateAttr(default=None)
    _payload: dict[str, Any] | None = PrivateAttr(default=None)
    _limit: ConcurrencyLimit | None = PrivateAttr(default=None)

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
        if isinstance(api_key, SecretStr):
            api_key = api_key.get_secret_value()
        # Trimmed and checked (never shown), like the core client's: before pydantic sees
        # them, so no validation error can carry the raw key or a URL password.
        api_key = resolve_api_key(api_key)
        base_url = resolve_base_url(base_url or api_base)
        super().__init__(model=model, api_key=api_key, base_url=base_url, **kwargs)
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._settings()  # validate the sampling fields now, with the core's checks

    @classmethod
    def class_name(cls) -> str:
        return "PowerTokens_LLM"

    @property
    def api_base(self) -> str:
        """The base URL (the name OpenAI-style LlamaIndex integrations use)."""
        return self.base_url

    # -- cached derived state ---------------------------------------------------------

    def __setattr__(self, name: str, value: Any) -> None:
        if name == "api_key" and value is not None:
            # Kept as a SecretStr (a str would show in repr), checked as at construction.
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            key = check_api_key(value)
            value = SecretStr(key) if key is not None else None
        elif name == "base_url":
            value = resolve_base_url(value)
        super().__setattr__(name, value)
        if name in _CACHED_FROM:
            self._defaults = self._metadata = self._payload = None
        elif name in _TRANSPORT_FIELDS:
            self._client = self._aclient = None

    def _settings(self) -> Defaults:
        cached = self._defaults
        if cached is None:
            cached = self._defaults = defaults(
                model=self.model,
                temperature=self.temperature,
                top_p=self.top_p,
                max_tokens=self.max_tokens,
                stop=self.stop,
                thinking=self.thinking,
                additional_kwargs=self.additional_kwargs,
            )
        return cached

    @property
    def metadata(self) -> LLMMetadata:
        cached = self._metadata
        if cached is None:
            info = model_info(self.model)
            window = self.context_window or info.context_window
            num_output = self.max_tokens or info.max_output_tokens
            if num_output >= window:
                num_output = window // 2  # leave room for the prompt
            cached = self._metadata = LLMMetadata(
                context_window=window,
                num_output=num_output,
                is_chat_model=True,
                is_function_calling_model=True,
                model_name=self.model,
                system_role=MessageRole.SYSTEM,
            )
        return cached

    def to_payload(self) -> dict[str, Any]:
        """What instrumentation sees of this LLM (metadata only: never the key).
        Built once per settings change: the callbacks ask on every call."""
        cached = self._payload
        if cached is None:
            cached = self._payload = {"class_name": self.class_name(), **self.metadata.model_dump()}
        return dict(cached)

    def _client_options(self) -> dict[str, Any]:
        slots = self.max_concurrent_requests
        limit = self._limit
        if slots is None:
            limit = None
        elif limit is None or limit.slots != slots:
            # One limit for the sync and the async client: "in flight" counts both.
            limit = self._limit = ConcurrencyLimit(slots)
        return {
            "api_key": self._key(),
            "base_url": self.base_url,
            "timeout": Timeout.coerce(self.timeout, total=self.total_timeout),
            "max_retries": self.max_retries,
            "max_concurrent_requests": limit,
            "default_headers": self.default_headers,
        }

    def _sync_client(self) -> SyncPowerTokens:
        client = self._client
        if client is None:
            client = self._client = SyncPowerTokens(
                **self._client_options(), http_client=self._http_client
            )
        return client

    def _async_client(self) -> AsyncPowerTokens:
        # One core client: it gives each event loop its own pool (closed with the loop),
        # so asyncio.run twice or a loop per test keep working.
        client = self._aclient
        if client is None:
            client = self._aclient = AsyncPowerTokens(
                **self._client_options(), http_client=self._async_http_client
            )
        return client

    def _key(self) -> str | None:
        key: Any = self.api_key  # a str when set through model_copy(update=...)
        return key.get_secret_value() if isinstance(key, SecretStr) else key

    def close(self) -> None:
        """Close the sync connection pool (an injected ``http_client`` stays open)."""
        if self._client is not None:
            self._client.close()
            self._client = None

    async def aclose(self) -> None:
        """Close the async connection pool of the running loop."""
        if self._aclient is not None:
            await self._aclient.close()
            self._aclient = None

    # -- building a call --------------------------------------------------------------

    def _chat_call(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> Call:
        call = merge_call(self._settings(), kwargs)
        call.messages = to_wire_messages(messages, send_reasoning=self.send_reasoning_content)
        return call

    def _prompt_call(self, prompt: str, kwargs: dict[str, Any]) -> Call:
        call = merge_call(self._settings(), kwargs)
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
        return chat_gen(stream, StreamState(stream, call.fallback))

    @llm_chat_callback()
    async def astream_chat(
        self, messages: Sequence[ChatMessage], **kwargs: Any
    ) -> ChatResponseAsyncGen:
        call = self._chat_call(messages, kwargs)
        stream = self._aopen(call)
        return achat_gen(stream, StreamState(stream, call.fallback))

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

    def _prepare_chat_with_tools(
        self,
        tools: Sequence[BaseTool],
        user_msg: str | ChatMessage | None = None,
        chat_history: list[ChatMessage] | None = None,
        verbose: bool = False,
        allow_parallel_tool_calls: bool = False,
        tool_required: bool = False,
        tool_choice: str | dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> dict[str, Any]:
        """Chat arguments for a call with ``tools``; the caller's history is copied,
        never modified. ``tool_required`` and a named ``tool_choice`` (the agents'
        ``initial_tool_choice``) become "auto" plus a system instruction, since the API
        accepts nothing else. ``allow_parallel_tool_calls=False`` (LlamaIndex's default
        here) becomes the core's ``parallel_tool_calls=False``: the model is asked for one
        call and only the first is kept, in ``chat`` and in every stream form, so an agent
        runs one tool per step whether it streams or not."""
        if not allow_parallel_tool_calls:
            kwargs["parallel_tool_calls"] = False
        return prepare_tools_call(tools, user_msg, chat_history, tool_required, tool_choice, kwargs)

    def _validate_chat_with_tools_response(
        self,
        response: ChatResponse,
        tools: Sequence[BaseTool],
        allow_parallel_tool_calls: bool = False,
        **kwargs: Any,
    ) -> ChatResponse:
        """Keep only the first tool call unless parallel calls are allowed."""
        if not allow_parallel_tool_calls:
            keep_first_call(response.message)
        return response

    def get_tool_calls_from_response(
        self,
        response: ChatResponse,
        error_on_no_tool_call: bool = True,
        **kwargs: Any,
    ) -> list[ToolSelection]:
        """The response's tool calls; arguments still streaming are read as partial JSON
        and invalid ones as ``{}``, so this never raises mid-stream."""
        selections = tool_selections(response.message)
        if not selections and error_on_no_tool_call:
            raise ValueError("Expected at least one tool call, but got 0 tool calls.")
        return selections
