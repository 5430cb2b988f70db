"""The API key never shows: scanned for a sentinel in every surface a user or a tool can
see. LangSmith run payloads (what ``LangChainTracer`` posts) and callback runs, LangChain
stream events, LlamaIndex instrumentation events and spans, debug logs of powertokens,
httpx and httpcore, errors (with tracebacks, locals and pickles), and the models' own
dumps. (``tests/langchain`` and ``tests/llama_index`` already scan ``repr``/``str``/
``dumps``/``to_dict``/``to_payload`` of the models; those are not repeated here.)

Pickling a model is a transport, not a display: the key travels with it (as a
``SecretStr`` does), so a model sent to a worker process still works. Errors pickle
without it.
"""

from __future__ import annotations

import json
import logging
import pickle
import traceback
from typing import Any
from uuid import UUID

import httpx
import pytest
from langchain_core.tracers.base import BaseTracer
from langchain_core.tracers.langchain import LangChainTracer
from langchain_core.tracers.schemas import Run
from llama_index.core.base.llms.types import ChatMessage
from llama_index.core.instrumentation import get_dispatcher
from llama_index.core.instrumentation.event_handlers import BaseEventHandler
from llama_index.core.instrumentation.events import BaseEvent
from llama_index.core.instrumentation.span import SimpleSpan
from llama_index.core.instrumentation.span_handlers import BaseSpanHandler
from llama_index.core.tools import FunctionTool
from pydantic import BaseModel, Field

from langchain_powertokens import ChatPowerTokens
from llama_index_powertokens import PowerTokens as LlamaPowerTokens
from powertokens import (
    AsyncPowerTokens,
    AuthenticationError,
    PowerTokens,
    RateLimitError,
    RequestValidationError,
)
from powertokens.emulator import Emulator

from .conftest import Sleeps
from .scan import assert_error_has_no_key, assert_no_key
from .stacks import FACES, KEY, Face

WRONG_KEY = "pt-SENTINEL-wrong-key-0b9e4d"


def dumped(value: Any) -> str:
    return json.dumps(value, default=repr, ensure_ascii=False)


class Weather(BaseModel):
    """The weather in a city."""

    city: str = Field(description="The city")


def get_weather(city: str) -> str:
    """Get the weather in a city."""
    return f"Sunny in {city}"


# -- LangChain: LangSmith payloads, callback runs, stream events ------------------------------


class RecordingTracer(BaseTracer):
    """Keeps every finished run (inputs, outputs, invocation params, serialized model,
    errors): what any tracer, LangSmith's included, gets to see."""

    def __init__(self) -> None:
        super().__init__()
        self.runs: list[Run] = []

    def _persist_run(self, run: Run) -> None:
        self.runs.append(run)

    def _end_trace(self, run: Run) -> None:
        self.runs.append(run)
        super()._end_trace(run)


class FakeLangSmith:
    """Stands in for ``langsmith.Client``: records what ``LangChainTracer`` would post."""

    def __init__(self) -> None:
        self.posted: list[tuple[str, Any]] = []

    def create_run(self, **kwargs: Any) -> None:
        self.posted.append(("create_run", kwargs))

    def update_run(self, run_id: UUID, **kwargs: Any) -> None:
        self.posted.append(("update_run", kwargs))

    def __getattr__(self, name: str) -> Any:
        def record(*args: Any, **kwargs: Any) -> None:
            self.posted.append((name, {"args": args, **kwargs}))

        return record


async def test_langsmith_payloads_and_callback_runs_hold_no_key(
    emu: Emulator, sleeps: Sleeps
) -> None:
    recorder, langsmith = RecordingTracer(), FakeLangSmith()
    tracer = LangChainTracer(client=langsmith, project_name="reliability")  # type: ignore[arg-type]
    config: Any = {"callbacks": [recorder, tracer], "metadata": {"suite": "reliability"}}
    model = ChatPowerTokens(api_key=KEY, base_url=emu.url, max_retries=1)

    model.invoke("Hello", config=config)
    list(model.stream("Hello", config=config))
    await model.ainvoke("Hello", config=config)
    [chunk async for chunk in model.astream("Hello", config=config)]
    model.batch(["Hello", "Hi"], config=config)
    model.bind_tools([get_weather]).invoke("What is the weather in Paris?", config=config)
    await model.with_structured_output(Weather).ainvoke("Weather in Oslo?", config=config)
    emu.push_fault("429:1302", times=2)  # a failed run carries its error and traceback
    with pytest.raises(RateLimitError) as info:
        await model.ainvoke("Hello", config=config)
    assert_error_has_no_key(info.value)
    events = [e async for e in model.astream_events("Hello", version="v2", config=config)]
    tracer.wait_for_futures()
    await model.aclose()

    assert recorder.runs
    assert any(run.error for run in recorder.runs)
    assert any(kind == "create_run" for kind, _ in langsmith.posted)
    for run in recorder.runs:
        assert_no_key(run.model_dump_json(), dumped(run.serialized), dumped(run.extra))
    assert_no_key(dumped(langsmith.posted), dumped(events))


PER_CALL_SECRET = "pt-per-call-header-secret-77c1"


async def test_a_call_s_header_values_and_key_stay_out_of_callbacks_and_traces(
    emu: Emulator,
) -> None:
    """Callbacks and LangSmith get a call's kwargs: header values given to the call are
    hidden there (the request still carries them), and so is a key given to the call,
    which the call then refuses."""
    recorder, langsmith = RecordingTracer(), FakeLangSmith()
    tracer = LangChainTracer(client=langsmith, project_name="reliability")  # type: ignore[arg-type]
    config: Any = {"callbacks": [recorder, tracer]}
    model = ChatPowerTokens(api_key=KEY, base_url=emu.url)
    headers = {"X-Tenant-Token": PER_CALL_SECRET}
    model.invoke("Hello", config=config, extra_headers=headers)
    assert emu.requests[-1].headers["x-tenant-token"] == PER_CALL_SECRET  # still sent
    list(model.stream("Hello", config=config, extra_headers=headers))
    await model.ainvoke("Hello", config=config, extra_headers=headers)
    events = [
        e
        async for e in model.astream_events(
            "Hello", version="v2", config=config, extra_headers=headers
        )
    ]
    for name in ("api_key", "openai_api_key"):
        with pytest.raises(RequestValidationError):
            model.invoke("Hello", config=config, **{name: PER_CALL_SECRET})
    tracer.wait_for_futures()
    assert recorder.runs
    texts = [run.model_dump_json() for run in recorder.runs]
    texts += [dumped(langsmith.posted), dumped(events)]
    assert "X-Tenant-Token" in texts[0]  # the header's name is shown, not its value
    for text in texts:
        assert PER_CALL_SECRET not in text
    await model.aclose()


# -- LlamaIndex: instrumentation events and spans -------------------------------------------


class Events(BaseEventHandler):
    events: list[BaseEvent] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "ReliabilityEvents"

    def handle(self, event: BaseEvent, **kwargs: Any) -> None:
        self.events.append(event)


class Spans(BaseSpanHandler[SimpleSpan]):
    """Records what a span handler sees: the bound arguments (``self`` included), the
    result or the error of every instrumented call."""

    seen: list[str] = Field(default_factory=list)

    @classmethod
    def class_name(cls) -> str:
        return "ReliabilitySpans"

    def new_span(
        self,
        id_: str,
        bound_args: Any,
        instance: Any = None,
        parent_span_id: str | None = None,
        tags: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> SimpleSpan:
        self.seen += [repr(bound_args.arguments), repr(instance), repr(tags)]
        return SimpleSpan(id_=id_, parent_id=parent_span_id, tags=tags or {})

    def prepare_to_exit_span(
        self, id_: str, bound_args: Any, instance: Any = None, result: Any = None, **kwargs: Any
    ) -> SimpleSpan | None:
        self.seen.append(repr(result))
        return self.open_spans.get(id_)

    def prepare_to_drop_span(
        self,
        id_: str,
        bound_args: Any,
        instance: Any = None,
        err: BaseException | None = None,
        **kwargs: Any,
    ) -> SimpleSpan | None:
        self.seen.append("".join(traceback.format_exception(err)) if err else "")
        return self.open_spans.get(id_)


async def test_llama_index_events_and_spans_hold_no_key(emu: Emulator, sleeps: Sleeps) -> None:
    dispatcher = get_dispatcher()
    events, spans = Events(), Spans()
    dispatcher.add_event_handler(events)
    dispatcher.add_span_handler(spans)
    llm = LlamaPowerTokens(api_key=KEY, base_url=emu.url, max_retries=1)
    messages = [ChatMessage(role="user", content="Hello")]
    try:
        llm.chat(messages)
        await llm.achat(messages)
        list(llm.stream_chat(messages))
        [r async for r in await llm.astream_chat(messages)]
        llm.complete("Hello")
        await llm.acomplete("Hello")
        list(llm.stream_complete("Hello"))
        [r async for r in await llm.astream_complete("Hello")]
        tool = FunctionTool.from_defaults(get_weather)
        llm.chat_with_tools([tool], user_msg="What is the weather in Paris?")
        llm.structured_predict(Weather, _prompt("Weather in Oslo?"))
        emu.push_fault("429:1302", times=2)
        with pytest.raises(RateLimitError) as info:
            await llm.achat(messages)
        assert_error_has_no_key(info.value)
    finally:
        dispatcher.event_handlers.remove(events)
        dispatcher.span_handlers.remove(spans)
        llm.close()
        await llm.aclose()
    assert len(events.events) > 20
    assert len(spans.seen) > 20
    for event in events.events:
        assert_no_key(event.model_dump_json(fallback=repr), repr(event))
    assert_no_key(*spans.seen)


def _prompt(text: str) -> Any:
    from llama_index.core.prompts import PromptTemplate

    return PromptTemplate(text)


# -- debug logs --------------------------------------------------------------------------------


@pytest.mark.parametrize("face", FACES, ids=lambda f: f.id)
async def test_debug_logs_hold_no_key(
    face: Face, emu: Emulator, sleeps: Sleeps, caplog: pytest.LogCaptureFixture
) -> None:
    """Everything at DEBUG: our retry logs, httpx's request lines, httpcore's connection
    trace (which logs request objects, not headers), the frameworks' own loggers."""
    caplog.set_level(logging.DEBUG)  # the root: powertokens, httpx, httpcore and the rest
    target = face.build(emu.url)
    emu.push_fault("429:1302")  # a retry: logged by powertokens
    assert (await face.run(target)).error is None
    emu.push_fault("401:1001")  # an error: logged by whoever logs errors
    assert (await face.run(target)).error is not None
    await face.close(target)
    loggers = {record.name.split(".")[0] for record in caplog.records}
    assert {"powertokens", "httpx", "httpcore"} <= loggers
    for record in caplog.records:
        assert_no_key(record.getMessage(), repr(record.args), record.exc_text or "")
    assert_no_key(caplog.text)


# -- errors of a wrong key, pickles, model surfaces ------------------------------------------


@pytest.mark.parametrize("face", FACES, ids=lambda f: f.id)
async def test_a_rejected_key_is_not_echoed(face: Face, emu: Emulator) -> None:
    target = face.build(emu.url, api_key=WRONG_KEY)
    out = await face.run(target)
    await face.close(target)
    assert out.error is not None
    assert getattr(out.error, "status_code", None) == 401
    texts = "".join(traceback.format_exception(out.error)) + repr(vars(out.error))
    assert WRONG_KEY not in texts


def test_clients_and_models_show_no_key(emu: Emulator) -> None:
    sync, async_ = PowerTokens(api_key=KEY), AsyncPowerTokens(api_key=KEY)
    lc = ChatPowerTokens(api_key=KEY, base_url=emu.url)
    li = LlamaPowerTokens(api_key=KEY, base_url=emu.url)
    shown = [
        repr(sync),
        str(async_),
        repr(sync._prepare([{"role": "user", "content": "hi"}], {}, stream=False)),
        repr(lc.bind_tools([get_weather])),
        str(lc.with_structured_output(Weather)),
        dumped(lc.to_json()),
        dumped(lc._get_invocation_params()),
        dumped(lc._get_ls_params()),
        dumped(lc.asdict()),
        dumped(li.model_dump()),
        li.model_dump_json(),
        repr(li.metadata),
        repr(li.as_structured_llm(Weather)),
    ]
    assert_no_key(*shown)
    with pytest.raises(TypeError) as info:  # a core client holds a connection pool
        pickle.dumps(sync)
    assert_no_key(str(info.value))
    sync.close()


async def test_a_pickled_model_carries_its_key_to_work_elsewhere(emu: Emulator) -> None:
    """The documented exception: pickle is how a model reaches a worker process."""
    for model in (
        ChatPowerTokens(api_key=KEY, base_url=emu.url),
        LlamaPowerTokens(api_key=KEY, base_url=emu.url),
    ):
        clone = pickle.loads(pickle.dumps(model))
        assert clone.api_key is not None
        assert clone.api_key.get_secret_value() == KEY
        assert_no_key(repr(clone), str(clone))


def test_injected_http_clients_mask_the_header() -> None:
    """httpx masks Authorization in request reprs: what a user's hooks would log."""
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(repr(request.headers))
        assert request.headers["authorization"] == f"Bearer {KEY}"
        return httpx.Response(401, json={"error": {"code": "1001", "message": "no"}})

    http = httpx.Client(transport=httpx.MockTransport(handler))
    with (
        PowerTokens(api_key=KEY, http_client=http, max_retries=0) as client,
        pytest.raises(AuthenticationError) as info,
    ):
        client.chat([{"role": "user", "content": "hi"}])
    assert seen
    assert_no_key(*seen)
    assert_error_has_no_key(info.value)
