"""The pytest plugin: fixtures over the local emulator (registered as a ``pytest11`` entry
point, so installing powertokens is enough; see :mod:`powertokens.testing` and
``docs/testing.md``).

The adapters' fixtures import LangChain / LlamaIndex only when a test asks for them, and
skip that test when the extra is not installed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

from powertokens import AsyncPowerTokens, PowerTokens
from powertokens.emulator import Emulator

from ._helpers import (
    FAST_RETRIES,
    TEST_API_KEY,
    EmulatorPool,
    FaultScript,
    ModelFactory,
    RequestLog,
    close_in_thread,
)
from ._remote import RemoteEmulator

if TYPE_CHECKING:
    from langchain_powertokens import ChatPowerTokens
    from llama_index_powertokens import PowerTokens as LlamaPowerTokens

URL_OPTION = "--powertokens-emulator-url"
URL_INI = "powertokens_emulator_url"
MARKER = "pt_emulator_options"

_LANGCHAIN_MISSING = (
    "the LangChain adapter needs langchain-core: pip install 'powertokens[langchain]'"
)
_LLAMA_INDEX_MISSING = (
    "the LlamaIndex adapter needs llama-index-core: pip install 'powertokens[llama-index]'"
)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("powertokens", "PowerTokens emulator fixtures")
    group.addoption(
        URL_OPTION,
        dest=URL_INI,
        default=None,
        metavar="URL",
        help="base URL (http://host:port/v1) of an emulator already running elsewhere: "
        "pt_emulator and the clients use it instead of starting one in-process",
    )
    parser.addini(URL_INI, help=f"default for {URL_OPTION}", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(**options): this test's pt_emulator (and the clients and models built "
        "on it) is an emulator with these Emulator options (api_keys, max_concurrency, "
        "tool_stream, seed, chunk_delay), shared with other tests asking for the same "
        "options, reset before the test",
    )


def _external_url(config: pytest.Config) -> str | None:
    url = config.getoption(URL_INI) or config.getini(URL_INI)
    return str(url) if url else None


@pytest.fixture(scope="session")
def pt_api_key() -> str:
    """The API key the clients send and the emulators require (``TEST_API_KEY``).
    Override it in your top-level conftest.py to use another one."""
    return TEST_API_KEY


@pytest.fixture(scope="session")
def pt_emulators() -> Iterator[EmulatorPool]:
    """In-process emulators shared by option set for the session: ``get(**options)``."""
    pool = EmulatorPool()
    yield pool
    pool.close()


@pytest.fixture(scope="session")
def pt_session_emulator(
    request: pytest.FixtureRequest, pt_api_key: str
) -> Iterator[Emulator | RemoteEmulator]:
    """The session's emulator, started on a free port on first use (or the external one
    given by ``--powertokens-emulator-url``). Not reset between tests: use
    ``pt_emulator``."""
    url = _external_url(request.config)
    if url is not None:
        remote = RemoteEmulator(url).check()
        yield remote
        remote.close()
        return
    pool: EmulatorPool = request.getfixturevalue("pt_emulators")
    yield pool.get(api_keys={pt_api_key})


@pytest.fixture
def pt_emulator(request: pytest.FixtureRequest, pt_api_key: str) -> Emulator | RemoteEmulator:
    """The session's emulator, reset (faults, request log, prompt cache, counters) before
    this test; with ``@pytest.mark.pt_emulator_options(...)``, one with those options."""
    marker = request.node.get_closest_marker(MARKER)
    emulator: Emulator | RemoteEmulator
    if marker is None:
        emulator = request.getfixturevalue("pt_session_emulator")
    else:
        if marker.args:
            raise pytest.UsageError(f"{MARKER} takes keyword arguments only: {marker.args!r}")
        pool: EmulatorPool = request.getfixturevalue("pt_emulators")
        emulator = pool.get(**{"api_keys": {pt_api_key}, **marker.kwargs})
    emulator.reset()
    return emulator


@pytest.fixture
def pt_emulator_factory(pt_api_key: str) -> Iterator[Callable[..., Emulator]]:
    """Start a fresh emulator of this test's own (``Emulator``'s keyword arguments;
    ``api_keys`` defaults to ``{pt_api_key}``, ``api_keys=None`` accepts any token);
    each is stopped after the test."""
    started: list[Emulator] = []

    def start(**options: Any) -> Emulator:
        emulator = Emulator(**{"api_keys": {pt_api_key}, **options}).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in reversed(started):
        emulator.stop()


@pytest.fixture
def pt_faults(pt_emulator: Emulator | RemoteEmulator) -> FaultScript:
    """Script faults for this test: ``push(spec, times=1)``, ``header(spec)``."""
    return FaultScript(pt_emulator)


@pytest.fixture
def pt_requests(pt_emulator: Emulator | RemoteEmulator) -> RequestLog:
    """The chat requests this test sent: ``last``, ``last_json``, ``bodies``, ``len()``."""
    return RequestLog(pt_emulator)


@pytest.fixture
def pt_client(pt_emulator: Emulator | RemoteEmulator, pt_api_key: str) -> Iterator[PowerTokens]:
    """A ``PowerTokens`` client pointed at ``pt_emulator``, with ``FAST_RETRIES``."""
    client = PowerTokens(api_key=pt_api_key, base_url=pt_emulator.url)
    client.retry_policy = FAST_RETRIES
    yield client
    client.close()


@pytest.fixture
def pt_async_client(
    pt_emulator: Emulator | RemoteEmulator, pt_api_key: str
) -> Iterator[AsyncPowerTokens]:
    """An ``AsyncPowerTokens`` client pointed at ``pt_emulator``, with ``FAST_RETRIES``.
    A plain fixture, usable from any async test runner; closed after the test."""
    client = AsyncPowerTokens(api_key=pt_api_key, base_url=pt_emulator.url)
    client.retry_policy = FAST_RETRIES
    yield client
    close_in_thread(client.close)


@pytest.fixture
def pt_chat_model_factory(
    pt_emulator: Emulator | RemoteEmulator, pt_api_key: str
) -> Iterator[ModelFactory[ChatPowerTokens]]:
    """``make(**fields)`` builds a LangChain ``ChatPowerTokens`` pointed at
    ``pt_emulator``; all are closed after the test. Skips without langchain-core."""
    pytest.importorskip("langchain_core", reason=_LANGCHAIN_MISSING)
    from langchain_powertokens import ChatPowerTokens

    factory = ModelFactory(ChatPowerTokens, api_key=pt_api_key, base_url=pt_emulator.url)
    yield factory
    factory.close()


@pytest.fixture
def pt_chat_model(pt_chat_model_factory: ModelFactory[ChatPowerTokens]) -> ChatPowerTokens:
    """A LangChain ``ChatPowerTokens`` with default fields, pointed at ``pt_emulator``."""
    return pt_chat_model_factory()


@pytest.fixture
def pt_llm_factory(
    pt_emulator: Emulator | RemoteEmulator, pt_api_key: str
) -> Iterator[ModelFactory[LlamaPowerTokens]]:
    """``make(**fields)`` builds a LlamaIndex ``PowerTokens`` LLM pointed at
    ``pt_emulator``; all are closed after the test. Skips without llama-index-core."""
    pytest.importorskip("llama_index.core", reason=_LLAMA_INDEX_MISSING)
    from llama_index_powertokens import PowerTokens as LlamaPowerTokens

    factory = ModelFactory(LlamaPowerTokens, api_key=pt_api_key, base_url=pt_emulator.url)
    yield factory
    factory.close()


@pytest.fixture
def pt_llm(pt_llm_factory: ModelFactory[LlamaPowerTokens]) -> LlamaPowerTokens:
    """A LlamaIndex ``PowerTokens`` LLM with default fields, pointed at ``pt_emulator``."""
    return pt_llm_factory()
