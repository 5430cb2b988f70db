"""``PowerTokens``: Zhipu GLM models through PowerTokens as a LlamaIndex ``FunctionCallingLLM``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

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

from powertokens import DEFAULT_MODEL, Timeout, validate_params
from powertokens.lib import check_api_key, resolve_api_key, resolve_base_url

from ._clients import Cached, ClientCache
from ._convert import StreamState, chat_response, completion_response
from ._messages import to_wire_messages
from ._request import Call, merge_call
from ._settings import (
    ALIASES,
    CORE_CHECKED,
    Aliases,
    invalid_setting,
    resolve_aliases,
    unknown_setting,
)
from ._streams import achat_gen, acompletion_gen, chat_gen, completion_gen
from ._tooling import ToolCalling, awatched, watched

__all__ = ["PowerTokens"]


class PowerTokens(Aliases, ClientCache, ToolCalling, FunctionCallingLLM):
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
    # Caches keyed on the settings they were built from (see ``ClientCache``).
    _client: Cached | None = PrivateAttr(default=None)
    _aclient: Cached | None = PrivateAttr(default=None)
    _defaults: Cached | None = PrivateAttr(default=None)
    _metadata: Cached | None = PrivateAttr(default=None)
    _limit: Cached | None = PrivateAttr(default=None)

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
        model, kwargs = resolve_aliases(model, kwargs, _FIELDS)
        if isinstance(api_key, SecretStr):
            api_key = api_key.get_secret_value()
        # Trimmed and checked (never shown), like the core client's: before pydantic sees
        # them, so no validation error can carry the raw key or a URL password.
        api_key = resolve_api_key(api_key)
        base_url = resolve_base_url(base_url or api_base)
        try:
            # The pydantic model's own __init__ (the other bases are field-less mixins).
            FunctionCallingLLM.__init__(
                self, model=model, api_key=api_key, base_url=base_url, **kwargs
            )
        except ValidationError as exc:
            raise invalid_setting(None, None, exc) from None
        self._http_client = http_client
        self._async_http_client = async_http_client
        self._settings()  # validate the sampling fields now, with the core's checks
        validate_params(default_headers=self.default_headers)

    @classmethod
    def class_name(cls) -> str:
        return "PowerTokens_LLM"

    # -- settings: assignment (aliases: ``Aliases``; copies: ``ClientCache``) ----------

    def __setattr__(self, name: str, value: Any) -> None:
        # Aliases (api_base, model_name...) are properties with setters; anything else
        # that is not a field is refused, and pydantic's validation errors (the model
        # validates assignments) become RequestValidationError naming the field.
        if name not in _FIELDS and not name.startswith("_") and not hasattr(type(self), name):
            raise unknown_setting(name, value, _FIELDS)
        if name == "api_key" and value is not None:
            # Kept as a SecretStr (a str would show in repr), checked as at construction.
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            key = check_api_key(value)
            value = SecretStr(key) if key is not None else None
        elif name == "base_url":
            value = resolve_base_url(value)  # trimmed and checked, a password never shown
        elif name in CORE_CHECKED:
            validate_params(**{name: value})
        try:
            super().__setattr__(name, value)
        except ValidationError as exc:
            raise invalid_setting(name, value, exc) from None

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

    # -- building a call --------------------------------------------------------------

    def _chat_call(self, messages: Sequence[ChatMessage], kwargs: dict[str, Any]) -> Call:
        call = self._call(kwargs)
        call.messages = to_wire_messages(messages, send_reasoning=self.send_reasoning)
        return call

    def _prompt_call(self, prompt: str, kwargs: dict[str, Any]) -> Call:
        call = self._call(kwargs)
        call.messages = [{"role": "user", "content": prompt}]
        return call

    def _call(self, kwargs: dict[str, Any]) -> Call:
        reasoning, timeout = self.send_reasoning, self.timeout
        return merge_call(
            self._settings(), kwargs, send_reasoning=reasoning, timeout=timeout, settings=_SETTINGS
        )

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


_FIELDS = frozenset(PowerTokens.model_fields)
"""The setting names: any other (but an alias) is refused, at construction and on assignment."""
_SETTINGS = _FIELDS | ALIASES.keys()
"""Names a call's keywords may not use unless they are per-call options (``_request``)."""
