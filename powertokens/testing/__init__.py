"""Test your PowerTokens code offline: pytest fixtures over the local emulator.

Installing powertokens registers the plugin (:mod:`powertokens.testing.plugin`, a
``pytest11`` entry point), so the fixtures are there in every test, no conftest needed::

    def test_retries_a_rate_limit(pt_client, pt_faults, pt_requests):
        pt_faults.push("429:1302")                  # the next request is rate limited
        reply = pt_client.chat([{"role": "user", "content": "echo: hello"}])
        assert reply.choices[0].message.content == "hello"
        assert len(pt_requests) == 2                # the 429, then the retry
        assert pt_requests.last_json["messages"][0]["content"] == "echo: hello"

Fixtures (all prefixed ``pt_``):

- ``pt_emulator``: the session's emulator on a free loopback port, reset before each
  test (faults, request log, prompt cache, counters); ``pt_session_emulator`` is the same
  server without the reset; ``@pytest.mark.pt_emulator_options(max_concurrency=2)`` gives
  a test an emulator with other options; ``pt_emulator_factory(**options)`` starts a
  fresh one owned by the test; ``pt_emulators`` is the session's pool of them.
- ``pt_client`` / ``pt_async_client``: core clients pointed at it, retrying with
  :data:`FAST_RETRIES`, closed after the test.
- ``pt_chat_model`` / ``pt_chat_model_factory``: LangChain ``ChatPowerTokens``;
  ``pt_llm`` / ``pt_llm_factory``: LlamaIndex ``PowerTokens``. They skip the test when
  the extra is not installed.
- ``pt_faults`` (:class:`FaultScript`), ``pt_requests`` (:class:`RequestLog`).
- ``pt_api_key``: :data:`TEST_API_KEY`, the key the clients send and the emulator
  requires.

``--powertokens-emulator-url URL`` (or the ``powertokens_emulator_url`` ini option)
points them at an emulator running in another process (:class:`RemoteEmulator`).
Importing this package needs neither pytest nor the framework extras. See
``docs/testing.md``.
"""

from ._helpers import (
    FAST_RETRIES,
    FAULT_HEADER,
    TEST_API_KEY,
    EmulatorLike,
    EmulatorPool,
    FaultScript,
    ModelFactory,
    RequestLog,
)
from ._remote import RemoteEmulator

__all__ = [
    "FAST_RETRIES",
    "FAULT_HEADER",
    "TEST_API_KEY",
    "EmulatorLike",
    "EmulatorPool",
    "FaultScript",
    "ModelFactory",
    "RemoteEmulator",
    "RequestLog",
]
