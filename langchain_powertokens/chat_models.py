"""``ChatPowerTokens``: Zhipu's GLM models on PowerTokens as a LangChain chat model."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import httpx
from langchain_core.language_models import BaseChatModel, LanguageModelInput, ModelProfile
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, BaseMessage, convert_to_messages
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from langchain_core.utils import from_env, secret_from_env
from langchain_core.utils.utils import _build_model_kwargs
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
)
from powertokens.lib import estimate_prompt_tokens, estimate_text_tokens

from . import _run
from ._cache import llm_string
from ._clients import ClientCache, check_connection, hide_secrets, mask_secrets
from ._convert import messages_to_wire
from ._errors import construction_error, to_langchain_error
from ._params import apply_aliases, check_limits, field_names, ls_params, profile_for
from ._serial import Saved, timeout_from_json
from ._structured import structured_output
from ._tools import bind_arguments, format_tools

__all__ = ["ChatPowerTokens"]


class ChatPowerTokens(ClientCache, Saved, BaseChatModel):
    """Zhipu's GLM chat models on PowerTokens (glm-5-turbo, glm-5, glm-4.7,
    glm-4.7-flash, glm-4.5-air), with reasoning, tool calling and usage.

    Setup: ``pip install -e ".[langchain]"`` in the project folder, and the key in
    ``POWERTOKENS_API_KEY``. More, each example tested: ``docs/langchain.md`` (preserved
    thinking, the thinking budget, token counting, errors, caching, saving and loading);
    every setting: ``docs/configuration.md``.

    Instantiate:
        ```python
        from langchain_powertokens import ChatPowerTokens

        model = ChatPowerTokens(
            model="glm-5",
            temperature=0.7,
            max_tokens=1024,
            # thinking=False, stop=["Observation:"], timeout=60, max_retries=2,
            # max_concurrent_requests=5, api_key="...", base_url="...",
        )
        ```

        ChatOpenAI's names work too (``openai_api_key``, ``api_base``, ``request_timeout``,
        ``max_completion_tokens``). A bad value raises ``PowerTokensRequestValidationError``
        naming the field, the rule and the value, here or per call, before anything is sent.

    Invoke:
        ```python
        messages = [
            ("system", "You are a concise and professional assistant."),
            ("human", "Explain vector databases in three sentences."),
        ]
        message = model.invoke(messages)
        print(message.text)
        print(message.usage_metadata)  # input/output tokens, cache reads, reasoning tokens
        print(message.response_metadata["finish_reason"], message.response_metadata["model_name"])
        ```

    Stream:
        ```python
        full = None
        for chunk in model.stream(messages):
            print(chunk.text, end="", flush=True)
            full = chunk if full is None else full + chunk
        print(full.usage_metadata)
        ```

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


        ai_msg = model.bind_tools([GetWeather]).invoke("What is the weather in Paris?")
        print(ai_msg.tool_calls)  # [{'name': 'GetWeather', 'args': {'location': 'Paris'}, ...}]
        ```

        The API's only ``tool_choice`` is "auto": see ``bind_tools`` for the others and
        for ``parallel_tool_calls=False``.

    Structured output:
        ```python
        class Joke(BaseModel):
            '''A joke to tell the user.'''

            setup: str = Field(description="The question that sets up the joke")
            punchline: str = Field(description="The answer that resolves the joke")


        joke = model.with_structured_output(Joke).invoke("Tell me a joke about cats")
        ```

        ``model.bind(response_format=Joke)`` (and ``create_agent(..., response_format=
        ProviderStrategy(Joke))``) takes the same road: the text is the JSON and
        ``additional_kwargs["parsed"]`` the object.

    Reasoning:
        ```python
        message = model.invoke("Why is the sky blue?")
        print(message.additional_kwargs["reasoning_content"])  # the model's thinking
        print([block["type"] for block in message.content_blocks])  # ['reasoning', 'text']
        quick = ChatPowerTokens(model="glm-5", thinking=False)  # no reasoning
        ```

        Reasoning is sent back with each assistant turn (``send_reasoning=False``: not);
        ``preserve_thinking=True`` keeps every earlier turn's reasoning in the model's
        context. Reasoning counts against ``max_tokens``: a reply that spent it all has
        ``response_metadata["thinking_exhausted_budget"]``.

    Turn-level thinking:
        ``thinking`` per call applies to that turn only: an agent can think on the turns
        that plan and skip it on the turns that only read a tool's result:

        ```python
        from langchain_core.messages import HumanMessage, ToolMessage


        def get_weather(location: str) -> str:
            '''Get the current weather in a given location.'''
            return f"Sunny in {location}"


        agent = model.bind_tools([get_weather])
        history = [HumanMessage("What is the weather in Paris?")]
        for _ in range(5):
            planning = not isinstance(history[-1], ToolMessage)
            step = agent.invoke(history, thinking=planning)
            history.append(step)
            if not step.tool_calls:
                break
            for call in step.tool_calls:
                history.append(ToolMessage(get_weather(**call["args"]), tool_call_id=call["id"]))
        print(history[-1].text)
        ```
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
    """Models to try in order, each with its own retries, when ``model`` is still
    overloaded (code 1312) after its retries (a stream: before its first chunk);
    ``response_metadata["fallback_from"]`` lists the overloaded ones. Per call too."""
    max_event_bytes: int | None = Field(default=None, ge=1)
    """Largest stream event (one ``data:`` line) accepted, in bytes; a bigger one ends the
    stream with ``PowerTokensStreamInterruptedError`` instead of growing memory without
    bound. None: the core's default (16 MiB)."""
    max_concurrent_requests: int | None = Field(default=None, ge=1)
    """Most requests in flight at once through this model, sync and async, from any thread
    or event loop (a stream counts until it ends); further calls wait for a slot, up to the
    pool timeout (then ``PowerTokensPoolTimeoutError``), instead of drawing 429 ``1302``.
    None (the default): no limit."""
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
    """Send ``thinking.clear_thinking: false``: the model keeps earlier turns' reasoning in
    context (GLM-5 and GLM-4.7 families; other models are refused), replayed byte for byte
    (needs ``send_reasoning``), which also raises prompt-cache hits. Per call too."""
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
            return _build_model_kwargs(values, set(field_names(cls)))
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

    def _get_llm_string(self, stop: list[str] | None = None, **kwargs: Any) -> str:
        return llm_string(self, stop, kwargs)  # every field that changes the answer

    def _get_invocation_params(
        self, stop: list[str] | None = None, **kwargs: Any
    ) -> dict[str, Any]:
        # What callbacks and traces get: no key or header value given to the call.
        return super()._get_invocation_params(stop=stop, **hide_secrets(kwargs))

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
        return ls_params(self, stop, kwargs)

    # -- requests -----------------------------------------------------------------------------

    # One call each, in ``_run``; assigned, not wrapped, so a chunk passes no extra layer.
    _generate = _run.generate
    _agenerate = _run.agenerate
    _stream = _run.stream
    _astream = _run.astream

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
        try:
            formatted, bound = bind_arguments(
                tools,
                tool_choice,
                parallel_tool_calls,
                model=self.model,
                hinted=self.nudge_tool_choice,
            )
        except PowerTokensError as exc:
            raise to_langchain_error(exc) from None
        return super().bind(tools=formatted, **bound, **kwargs)

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
