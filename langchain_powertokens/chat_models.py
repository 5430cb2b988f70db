"""``ChatPowerTokens``: Zhipu's GLM models on PowerTokens as a LangChain chat model."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable, Iterator, Mapping, Sequence
from typing import Any, Literal

import httpx
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput, ModelProfile
from langchain_core.language_models.base import LangSmithParams
from langchain_core.load.serializable import SerializedConstructor, SerializedNotImplemented
from langchain_core.messages import AIMessage, BaseMessage, convert_to_messages
from langchain_core.outputs import ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils import from_env, secret_from_env
from langchain_core.utils.utils import _build_model_kwargs, get_pydantic_field_names
from pydantic import (
    ConfigDict,
    Field,
    PrivateAttr,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)
from typing_extensions import Self

from powertokens import (
    API_KEY_ENV,
    BASE_URL_ENV,
    DEFAULT_MODEL,
    AsyncPowerTokens,
    ConcurrencyLimit,
    PowerTokens,
    PowerTokensError,
    Timeout,
    resolve_tool_choice,
    validate_params,
)
from powertokens.lib import estimate_prompt_tokens, estimate_text_tokens

from ._cache import llm_string
from ._clients import ClientCache, check_connection, mask_secrets
from ._convert import messages_to_wire
from ._errors import construction_error, to_langchain_error
from ._params import apply_aliases, build_call, check_limits, profile_for
from ._response_format import take_response_format
from ._results import ChunkBuilder, chat_result
from ._serial import timeout_from_json, timeout_to_json
from ._structured import structured_output
from ._tools import (
    check_tool_choice,
    check_tools,
    format_tool,
    format_tools,
    warn_tool_choice_downgraded,
)

__all__ = ["ChatPowerTokens"]


@functools.cache
def _field_names(cls: type) -> set[str]:
    return get_pydantic_field_names(cls)


class ChatPowerTokens(ClientCache, BaseChatModel):
    """Zhipu's GLM chat models on PowerTokens (glm-5-turbo, glm-5, glm-4.7,
    glm-4.7-flash, glm-4.5-air), with reasoning, tool calling and usage.

    Setup:
        Install the distribution with its LangChain extra and set your key:

        ```bash
        pip install -e ".[langchain]"   # from the project folder
        export POWERTOKENS_API_KEY="your-api-key"
        ```

    Instantiate:
        ```python
        from langchain_powertokens import ChatPowerTokens

        model = ChatPowerTokens(
            model="glm-5",
            temperature=0.7,
            max_tokens=1024,
            # thinking=False,            # True / False / {"type": "enabled"}
            # stop=["Observation:"],     # several allowed: all are enforced
            # timeout=60, max_retries=2,
            # max_concurrent_requests=5,  # queue a burst instead of drawing 429s
            # api_key="...", base_url="...",
        )
        ```

        ChatOpenAI's names work too: ``openai_api_key`` (``api_key``), ``api_base`` /
        ``openai_api_base`` (``base_url``), ``request_timeout`` (``timeout``),
        ``max_completion_tokens`` (``max_tokens``). The key is only needed at call time.

    Invoke:
        ```python
        messages = [
            ("system", "You are a concise and professional assistant."),
            ("human", "Explain vector databases in three sentences."),
        ]
        message = model.invoke(messages)
        print(message.text)
        ```

    Stream:
        ```python
        for chunk in model.stream(messages):
            print(chunk.text, end="", flush=True)

        full = None
        for chunk in model.stream(messages):
            full = chunk if full is None else full + chunk
        print(full.text, full.usage_metadata)
        ```

        A stream that one of several stop sequences ends on the client (the API takes
        one) closes its connection at once, so the service's final usage never comes:
        ``usage_metadata`` is then None and ``response_metadata["usage_unknown"]`` says
        why (``invoke`` reads the whole answer and reports usage).

    Async:
        ```python
        message = await model.ainvoke(messages)

        async for chunk in model.astream(messages):
            print(chunk.text, end="", flush=True)

        results = await model.abatch([messages, messages])
        ```

    Tool calling:
        ```python
        from pydantic import BaseModel, Field


        class GetWeather(BaseModel):
            '''Get the current weather in a given location.'''

            location: str = Field(description="The city, e.g. Paris")


        model_with_tools = model.bind_tools([GetWeather])
        ai_msg = model_with_tools.invoke("What is the weather in Paris?")
        print(ai_msg.tool_calls)
        # [{'name': 'GetWeather', 'args': {'location': 'Paris'}, 'id': 'call_...',
        #   'type': 'tool_call'}]
        ```

        The API's only ``tool_choice`` is "auto": "any", "required", ``True`` and tool
        names are sent as "auto" (warned once) with a request for the call in the system
        prompt; "none" sends no tools. ``bind_tools(..., parallel_tool_calls=False)`` (or
        per call) is enforced here, as the API has no such field: one call is asked for,
        and only the first call of the answer is kept, in ``invoke`` and in streams.

    Structured output:
        ```python
        class Joke(BaseModel):
            '''A joke to tell the user.'''

            setup: str = Field(description="The question that sets up the joke")
            punchline: str = Field(description="The answer that resolves the joke")


        joke = model.with_structured_output(Joke).invoke("Tell me a joke about cats")
        print(type(joke).__name__)  # Joke
        ```

        Pydantic classes, TypedDicts and JSON schemas work, ``include_raw=True`` too;
        when the model answers in text, the JSON object in the text is used.

        ``model.bind(response_format=Joke)`` (a pydantic class, TypedDict, JSON schema,
        OpenAI's ``{"type": "json_schema", ...}`` or ``{"type": "json_object"}``), and so
        ``create_agent(..., response_format=ProviderStrategy(Joke))``, take the same
        tool-calling road: the answer's text is the JSON and
        ``additional_kwargs["parsed"]`` the object, as with langchain-openai.

    Reasoning:
        ```python
        message = model.invoke("Why is the sky blue?")
        print(message.additional_kwargs["reasoning_content"])  # the model's thinking
        print([block["type"] for block in message.content_blocks])  # ['reasoning', 'text']

        for chunk in model.stream("Why is the sky blue?"):
            print(chunk.additional_kwargs.get("reasoning_content", ""), end="")

        quick = ChatPowerTokens(model="glm-5", thinking=False)  # no reasoning
        ```

        Reasoning is sent back with each assistant turn (interleaved thinking); set
        ``send_reasoning=False`` to leave it out.

    Preserved thinking:
        ``preserve_thinking=True`` (or per call) sends ``thinking.clear_thinking: false``:
        the model keeps every earlier turn's reasoning, which is sent back byte for byte
        (summed stream chunks, ``merge_message_runs`` and ``trim_messages`` keep it),
        and the service's prompt cache then covers the whole conversation so far:

        ```python
        from langchain_core.messages import HumanMessage

        planner = ChatPowerTokens(model="glm-5", preserve_thinking=True)
        conversation = [HumanMessage("Plan a trip to Rome.")]
        conversation.append(planner.invoke(conversation))
        conversation.append(HumanMessage("Now for three days."))
        answer = planner.invoke(conversation)
        print(answer.usage_metadata["input_token_details"]["cache_read"])
        ```

    Turn-level thinking:
        ``thinking`` works per call (``invoke(..., thinking=False)``, or
        ``bind(thinking=...)``) and applies to that turn only, so an agent can think
        on the turns that plan (which tool, with what) and skip it on the turns that
        only read a tool's result, which are faster and cheaper without it:

        ```python
        from langchain_core.messages import HumanMessage, ToolMessage


        def get_weather(location: str) -> str:
            '''Get the current weather in a given location.'''
            return f"Sunny in {location}"


        agent = model.bind_tools([get_weather])
        history = [HumanMessage("What is the weather in Paris?")]
        for _ in range(5):
            # Plan with thinking; read tool results without it.
            planning = not isinstance(history[-1], ToolMessage)
            step = agent.invoke(history, thinking=planning)
            history.append(step)
            if not step.tool_calls:
                break
            for call in step.tool_calls:
                history.append(ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"]))
        print(history[-1].text)
        ```

    Thinking budget:
        The reasoning counts against ``max_tokens``. When it uses all of it, the answer
        ends with ``finish_reason="length"``, reasoning and no text: such a reply has
        ``response_metadata["thinking_exhausted_budget"] = True`` (streams: the last
        chunk), and a ``powertokens.ThinkingBudgetWarning`` is issued once per reply
        (the ``warnings`` filters decide how often it shows; ``"error"`` makes it an
        exception). ``with_structured_output`` and ``response_format`` raise
        ``PowerTokensThinkingBudgetExceededError`` (a
        ``powertokens.ThinkingBudgetExceededError`` and an ``OutputParserException``)
        instead of a parse error. The remedy: raise ``max_tokens``, or pass
        ``thinking=False`` for that call:

        ```python
        reply = model.invoke("Why is the sky blue?")
        if reply.response_metadata.get("thinking_exhausted_budget"):
            reply = model.invoke("Why is the sky blue?", thinking=False)
        ```

    Token usage:
        ```python
        message = model.invoke(messages)
        print(message.usage_metadata)
        # {'input_tokens': 31, 'output_tokens': 72, 'total_tokens': 103,
        #  'input_token_details': {'cache_read': 0}, 'output_token_details': {'reasoning': 24}}
        print(message.response_metadata["finish_reason"], message.response_metadata["model_name"])
        # stop glm-5
        ```

    Token counting:
        ```python
        from langchain_core.messages import trim_messages

        model.get_num_tokens_from_messages(messages, tools=[GetWeather])
        trimmed = trim_messages(messages, max_tokens=4000, token_counter=model)
        ```

        A GLM-aware estimate with no tokenizer to install (Chinese and Latin script,
        the chat template, tools and images counted; ``powertokens.lib.tokens`` says
        how it is calibrated); ``usage_metadata`` has the service's real counts.

    Errors:
        Errors are both ``powertokens`` errors and langchain-core's: e.g.
        ``PowerTokensRateLimitError`` is a ``powertokens.RateLimitError`` and a
        ``langchain_core.exceptions.ModelRateLimitError``. Invalid values (temperature 1.5,
        a tool name with spaces) raise ``PowerTokensRequestValidationError`` (a
        ``ValueError``) before anything is sent, at construction for a field (never
        pydantic's ``ValidationError``, whose text would show the inputs) as per call: the
        message names the field, the rule and the value. ``tool_choice`` naming a tool
        that is not bound raises it too. No key at all (no ``api_key``, no
        ``POWERTOKENS_API_KEY``) raises ``PowerTokensAuthenticationError`` at call time
        (``powertokens.AuthenticationError`` and ``ModelAuthenticationError``), with
        nothing sent. A ``finish_reason`` of
        "sensitive" (the content filter) shows as ``response_metadata["refusal"]`` and a
        ``refusal`` block.

    Caching:
        With ``set_llm_cache(...)``, an answer is reused only for the same request: the
        cache key holds every setting that changes it (model, base URL, sampling, stop,
        thinking, extra body fields, tool settings, bound tools ...), and none of the
        key, the timeouts, retries, concurrency limit or HTTP clients. Header values are
        in it as a digest.

    Save and load:
        ```python
        from langchain_core.load import dumps, loads

        text = dumps(model)  # the key is not in it, only the name POWERTOKENS_API_KEY
        model = loads(
            text,
            secrets_map={"POWERTOKENS_API_KEY": "your-api-key"},  # or secrets_from_env=True
            valid_namespaces=["langchain_powertokens"],
            allowed_objects=[ChatPowerTokens],
        )

        # A saved chain (prompt | model | parser ...): langchain-core's classes and this one
        chain = loads(
            text,
            secrets_map={"POWERTOKENS_API_KEY": "your-api-key"},
            valid_namespaces=["langchain_powertokens"],
            allowed_objects="all",
            additional_import_mappings={
                tuple(ChatPowerTokens.lc_id()): tuple(ChatPowerTokens.lc_id())
            },
        )
        ```

        Every setting is saved (timeouts as their phases) except ``http_client`` and
        ``http_async_client``: pass them again. ``default_headers`` are saved as given:
        keep credentials out of them. Only load text you trust: it chooses the URL the
        key is sent to.
    """

    model_config = ConfigDict(populate_by_name=True, protected_namespaces=())

    model: str = Field(default=DEFAULT_MODEL, alias="model_name")
    """Model name: glm-5-turbo (default), glm-5, glm-4.7, glm-4.7-flash or glm-4.5-air
    (any other name is passed through; ``powertokens.register_model`` gives a newer one
    its limits and profile: register it before building the chat model)."""
    api_key: SecretStr | None = Field(default_factory=secret_from_env(API_KEY_ENV, default=None))
    """API key; read from ``POWERTOKENS_API_KEY`` when not given. Only needed at call time."""
    base_url: str | None = Field(default_factory=from_env(BASE_URL_ENV, default=None))
    """Base URL of the API; ``POWERTOKENS_BASE_URL``, else ``https://api.powertokens.ai/v1``."""
    temperature: float | None = None
    """Sampling temperature in [0, 1]; the server's default when None."""
    top_p: float | None = None
    """Nucleus sampling threshold in [0.01, 1]; the server's default when None."""
    max_tokens: int | None = None
    """Most tokens to generate (at most 128000, 96000 for glm-4.5-air, or a registered
    model's ``max_output_tokens``)."""
    stop: list[str] | str | None = None
    """Stop sequences: the first is sent to the server, all are enforced on the client."""
    thinking: bool | str | dict[str, Any] | None = None
    """Thinking mode: True / False, "enabled" / "disabled" or ``{"type": "enabled" |
    "disabled"}``. None leaves it to the model (on for every model but glm-4.5-air,
    which decides per request)."""
    timeout: float | httpx.Timeout | Timeout | None = None
    """Seconds for every phase, an ``httpx.Timeout`` or a ``powertokens.Timeout``; None
    keeps the core's defaults (long reads for thinking, a stream idle limit)."""
    total_timeout: float | None = None
    """Deadline in seconds for a whole call, retries and backoff included (a stream: from
    the first send until it ends); past it, ``PowerTokensDeadlineExceededError``. Sets
    ``Timeout.total``; None keeps ``timeout``'s (no deadline by default)."""
    max_retries: int = 2
    """Retries after the first attempt, for rate limits, overload and network errors."""
    fallback_models: list[str] | None = None
    """Models to try, in order, each with its own retries, when ``model`` is still
    overloaded (code 1312) after its retries; no other error falls back. The answer's
    ``response_metadata["model_name"]`` is the model that answered and
    ``response_metadata["fallback_from"]`` the overloaded ones. A stream falls back only
    before its first chunk. Also a per-call keyword (``[]``: none for that call)."""
    max_event_bytes: int | None = Field(default=None, ge=1)
    """Largest stream event (one ``data:`` line) accepted, in bytes; a bigger one ends the
    stream with ``PowerTokensStreamInterruptedError`` instead of growing memory without
    bound. None: the core's default (16 MiB)."""
    max_concurrent_requests: int | None = Field(default=None, ge=1)
    """Most requests in flight at once through this model (a stream counts until it
    ends); further calls wait for a free slot instead of drawing 429 ``1302`` from a plan
    that allows only a few concurrent requests, up to the pool timeout (then
    ``PowerTokensPoolTimeoutError``). Shared by every call of this instance, sync and
    async, from any thread or event loop (its ``bind_tools``/``with_structured_output``
    runnables and ``batch`` included). None (the default): no limit."""
    n: int | None = None
    """Answers per request: the API returns one, so only 1 (or None) is accepted, here and
    per call; it is never sent. Make several calls (``batch``) for several answers."""
    streaming: bool = False
    """Stream internally on ``invoke`` (callbacks then get every token)."""
    default_headers: dict[str, str] | None = None
    """Headers sent on every request."""
    http_client: httpx.Client | None = Field(default=None, exclude=True)
    """Your own ``httpx.Client`` (proxies, TLS, mocks); not closed by this model."""
    http_async_client: httpx.AsyncClient | None = Field(default=None, exclude=True)
    """Your own ``httpx.AsyncClient``; not closed by this model."""
    model_kwargs: dict[str, Any] = Field(default_factory=dict)
    """Request fields beyond the documented ones, merged into every request body
    (unknown constructor arguments land here, with a warning)."""
    extra_body: dict[str, Any] | None = None
    """Like ``model_kwargs``: extra request body fields, sent as given."""
    send_reasoning: bool = True
    """Send each assistant turn's reasoning back with it (interleaved thinking, which
    Zhipu asks for with tools); False leaves it out."""
    preserve_thinking: bool = False
    """Preserved thinking: send ``thinking.clear_thinking: false`` so the model keeps the
    reasoning of earlier turns in context (GLM-5 and GLM-4.7 families; a model the
    catalog does not list as supporting it is refused). Every assistant turn's
    ``reasoning_content`` is then sent back exactly as it came (needs
    ``send_reasoning=True``); this also raises prompt-cache hits
    (``usage_metadata["input_token_details"]["cache_read"]``). Also a per-call keyword."""
    nudge_tool_choice: bool = True
    """When ``tool_choice`` asks for a tool call (the API can only say "auto"), ask for it
    in one sentence of the system prompt."""

    # (settings, client) pairs and the shared limit: see ``_clients``
    _client: tuple[Any, PowerTokens] | None = PrivateAttr(default=None)
    _async_client: tuple[Any, AsyncPowerTokens] | None = PrivateAttr(default=None)
    _limit: ConcurrencyLimit | None = PrivateAttr(default=None)

    # -- construction ---------------------------------------------------------------------

    def __init__(self, **kwargs: Any) -> None:
        """Bad settings raise ``PowerTokensRequestValidationError`` (field, rule, value),
        as the same value passed per call does, not pydantic's ``ValidationError``."""
        error = None
        try:
            super().__init__(**kwargs)
        except ValidationError as exc:
            error = construction_error(exc)
        if error is not None:
            kwargs.clear()  # raised outside the except: no context, no key in the locals
            raise error

    @model_validator(mode="before")
    @classmethod
    def _powertokens_model_kwargs(cls, values: Any) -> Any:
        """ChatOpenAI's names become ours; other unknown constructor arguments go to
        ``model_kwargs`` (with a warning)."""
        if isinstance(values, dict):
            values = apply_aliases(values)
            mask_secrets(values)
            return _build_model_kwargs(values, _field_names(cls))
        return values

    @field_validator("timeout", mode="before")
    @classmethod
    def _powertokens_timeout(cls, value: Any) -> Any:
        return timeout_from_json(value)  # as ``to_json`` wrote it

    @model_validator(mode="after")
    def _powertokens_check_limits(self) -> Self:
        """Fail at construction, not at the first call, for a value the API rejects."""
        check_connection(self)
        check_limits(self)
        return self

    def _resolve_model_profile(self) -> ModelProfile | None:
        return profile_for(self.model)

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": API_KEY_ENV}

    def to_json(self) -> SerializedConstructor | SerializedNotImplemented:
        serialized = super().to_json()
        kwargs = serialized.get("kwargs")
        if isinstance(kwargs, dict) and "timeout" in kwargs:
            kwargs["timeout"] = timeout_to_json(kwargs["timeout"])
        return serialized

    def _get_llm_string(self, stop: list[str] | None = None, **kwargs: Any) -> str:
        return llm_string(self, stop, kwargs)  # every field that changes the answer

    @property
    def _llm_type(self) -> str:
        return "powertokens-chat"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model": self.model,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "thinking": self.thinking,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(
            ls_provider="powertokens",
            ls_model_name=kwargs.get("model") or self.model,
            ls_model_type="chat",
        )
        temperature = kwargs.get("temperature", self.temperature)
        if temperature is not None:
            params["ls_temperature"] = temperature
        max_tokens = kwargs.get("max_tokens", self.max_tokens)
        if max_tokens is not None:
            params["ls_max_tokens"] = max_tokens
        stops = stop if stop is not None else self.stop
        if stops:
            params["ls_stop"] = [stops] if isinstance(stops, str) else list(stops)
        return params

    # -- requests -----------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            fmt = take_response_format(kwargs)
            wire, params = build_call(self, messages, stop, kwargs)
            if fmt is not None:
                wire = fmt.apply(wire, params, nudge=self.nudge_tool_choice)
            completion = self._sync_client().chat(wire, **params)
        except PowerTokensError as exc:
            raise to_langchain_error(exc) from exc.__cause__
        result = chat_result(completion)
        return result if fmt is None else fmt.result(result)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        try:
            fmt = take_response_format(kwargs)
            wire, params = build_call(self, messages, stop, kwargs)
            if fmt is not None:
                wire = fmt.apply(wire, params, nudge=self.nudge_tool_choice)
            completion = await self._get_async_client().chat(wire, **params)
        except PowerTokensError as exc:
            raise to_langchain_error(exc) from exc.__cause__
        result = chat_result(completion)
        return result if fmt is None else fmt.result(result)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        try:
            fmt = take_response_format(kwargs)
            wire, params = build_call(self, messages, stop, kwargs)
            if fmt is not None:
                wire = fmt.apply(wire, params, nudge=self.nudge_tool_choice)
            convert = fmt.stream_state().convert if fmt is not None else None
            builder = ChunkBuilder()
            with self._sync_client().stream(wire, **params) as stream:
                for delta in stream:
                    chunk = builder.add(delta)
                    if chunk is not None:
                        if convert is not None:
                            chunk = convert(chunk)
                        if run_manager is not None:
                            run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                        yield chunk
                completion = stream.completion
        except PowerTokensError as exc:
            raise to_langchain_error(exc) from exc.__cause__
        last = builder.finish(completion)
        if convert is not None:
            last = convert(last)
        if run_manager is not None:
            run_manager.on_llm_new_token(last.text, chunk=last)
        yield last

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        try:
            fmt = take_response_format(kwargs)
            wire, params = build_call(self, messages, stop, kwargs)
            if fmt is not None:
                wire = fmt.apply(wire, params, nudge=self.nudge_tool_choice)
            convert = fmt.stream_state().convert if fmt is not None else None
            builder = ChunkBuilder()
            async with self._get_async_client().stream(wire, **params) as stream:
                async for delta in stream:
                    chunk = builder.add(delta)
                    if chunk is not None:
                        if convert is not None:
                            chunk = convert(chunk)
                        if run_manager is not None:
                            await run_manager.on_llm_new_token(chunk.text, chunk=chunk)
                        yield chunk
                completion = stream.completion
        except PowerTokensError as exc:
            raise to_langchain_error(exc) from exc.__cause__
        last = builder.finish(completion)
        if convert is not None:
            last = convert(last)
        if run_manager is not None:
            await run_manager.on_llm_new_token(last.text, chunk=last)
        yield last

    # -- token counting -------------------------------------------------------------------

    def get_num_tokens(self, text: str) -> int:
        """An estimate of the tokens in ``text`` for GLM models, with no tokenizer to
        download (see ``powertokens.lib.tokens`` for how it is calibrated)."""
        return estimate_text_tokens(text)

    def get_num_tokens_from_messages(
        self, messages: list[BaseMessage], tools: Sequence[Any] | None = None
    ) -> int:
        """An estimate of the ``prompt_tokens`` these messages (and ``tools``) cost: the
        text (Chinese and Latin script counted differently), the chat template's tokens,
        tool schemas, tool calls and images (``powertokens.lib.tokens``). Works with
        ``trim_messages(token_counter=model)``; the service's ``usage`` is the real count."""
        # Message-likes too (("user", "hi") tuples, dicts), as invoke() takes them.
        wire = messages_to_wire(convert_to_messages(messages), send_reasoning=self.send_reasoning)
        return estimate_prompt_tokens(wire, format_tools(tools) if tools else None)

    # -- tools and structured output -------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[Mapping[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | bool | dict[str, Any] | None = None,
        strict: bool | None = None,
        parallel_tool_calls: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools (LangChain tools, functions, pydantic models, TypedDicts, JSON or
        OpenAI schemas). The API only has ``tool_choice="auto"``: "any", "required",
        ``True`` or a tool name are sent as "auto" (with a one-time warning, and a request
        for the call in the system prompt); "none" sends no tools. A name that is not
        among ``tools`` raises ``PowerTokensRequestValidationError``. ``strict`` is
        accepted and not sent (the API has no strict schemas).

        ``parallel_tool_calls=False`` (here or per call) is enforced on the client, as the
        API has no such field: the system prompt asks for one call and only the first
        call of the answer is kept, in ``invoke`` and in streams (no ``tool_call_chunks``
        of a later call are yielded)."""
        formatted = [format_tool(tool) for tool in tools]
        try:
            check_tools(formatted, self.model)
            check_tool_choice(tool_choice, formatted)
            validate_params(parallel_tool_calls=parallel_tool_calls)
            downgraded = tool_choice is not None and resolve_tool_choice(tool_choice).downgraded
        except PowerTokensError as exc:
            raise to_langchain_error(exc) from None
        if tool_choice is not None:
            if downgraded:
                warn_tool_choice_downgraded(tool_choice, hinted=self.nudge_tool_choice)
            kwargs["tool_choice"] = tool_choice
        if parallel_tool_calls is not None:
            kwargs["parallel_tool_calls"] = parallel_tool_calls
        return super().bind(tools=formatted, **kwargs)

    def with_structured_output(
        self,
        schema: dict[str, Any] | type | None = None,
        *,
        method: Literal["function_calling", "json_schema", "json_mode"] = "function_calling",
        include_raw: bool = False,
        strict: bool | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, Any]:
        """Answers parsed into ``schema`` (pydantic class, TypedDict or JSON schema).

        Built on tool calling with the "auto" constraint (the model is asked to call the
        schema's tool); when it answers in text, the JSON object in the text is used, else
        an ``OutputParserException`` is raised. Every ``method`` and ``strict`` value is
        accepted. ``include_raw=True`` returns ``{"raw", "parsed", "parsing_error"}``.
        """
        return structured_output(
            self, schema, method=method, include_raw=include_raw, strict=strict, kwargs=kwargs
        )
