"""The pytest plugin, tested the way users meet it: test files run by an inner pytest
(``pytester``), with the plugin from its ``pytest11`` entry point when the package is
installed, from ``-p`` otherwise."""

from __future__ import annotations

import re
import subprocess
import sys
import textwrap
from collections.abc import Callable
from importlib.metadata import entry_points
from pathlib import Path

import pytest

# Imported here, so that the inner runs find them loaded: pytester's in-process runs drop
# the modules they import, and numpy (under llama_index) cannot be loaded twice.
import langchain_powertokens  # noqa: F401
import llama_index_powertokens  # noqa: F401
from powertokens.emulator import Emulator
from powertokens.testing import TEST_API_KEY

# a pytest run inside each test (pytester)
pytestmark = pytest.mark.slow

pytest_plugins = ["pytester"]

PLUGIN = "powertokens.testing.plugin"
UNRELATED = ("benchmark", "codspeed", "hypothesispytest", "langsmith_plugin", "nbmake", "recording")
"""Plugins of the dev environment the inner runs do without (each costs seconds there)."""
INI = """
[pytest]
asyncio_mode = auto
asyncio_default_fixture_loop_scope = function
addopts = --strict-markers -p no:cacheprovider
filterwarnings =
    error::pytest.PytestUnraisableExceptionWarning
"""


def installed() -> bool:
    """Whether pytest finds the plugin through the package's entry point."""
    return any(ep.value == PLUGIN for ep in entry_points(group="pytest11"))


def run(pytester: pytest.Pytester, source: str, *args: str) -> pytest.RunResult:
    pytester.makeini(INI)
    pytester.makepyfile(test_user=textwrap.dedent(source))
    plugin = [] if installed() else ["-p", PLUGIN]
    unrelated = [arg for name in UNRELATED for arg in ("-p", f"no:{name}")]
    return pytester.runpytest(*plugin, *unrelated, *args)


def test_a_user_test_file_passes(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        from powertokens import AsyncPowerTokens, PowerTokens
        from powertokens.testing import TEST_API_KEY

        MSGS = [{"role": "user", "content": "echo: hello"}]

        def test_sync(pt_client, pt_emulator):
            assert isinstance(pt_client, PowerTokens)
            assert pt_client.chat(MSGS).choices[0].message.content == "hello"
            assert pt_emulator.request_count == 1

        async def test_async(pt_async_client, pt_requests):
            assert isinstance(pt_async_client, AsyncPowerTokens)
            reply = await pt_async_client.chat(MSGS)
            assert reply.choices[0].message.content == "hello"
            async with pt_async_client.stream(MSGS) as stream:
                text = "".join([d.content async for d in stream if d.content])
            assert text == "hello"
            assert len(pt_requests) == 2

        def test_one_emulator_per_session(pt_emulator, pt_session_emulator, pt_api_key):
            assert pt_emulator is pt_session_emulator
            assert pt_api_key == TEST_API_KEY
        """,
    )
    result.assert_outcomes(passed=3)


def test_a_fault_scripted_in_one_test_does_not_leak_into_the_next(
    pytester: pytest.Pytester,
) -> None:
    result = run(
        pytester,
        """
        import pytest
        from powertokens import InternalServerError, RetryPolicy
        from powertokens.emulator import FaultSpecError

        MSGS = [{"role": "user", "content": "hi"}]

        def test_scripts_faults_it_does_not_use(pt_faults, pt_client):
            pt_faults.push("500:1234", times=5)
            with pytest.raises(InternalServerError):
                pt_client.chat(MSGS)          # three attempts: two faults left queued

        def test_starts_clean(pt_client, pt_requests):
            pt_client.chat(MSGS)
            assert [r.fault for r in pt_requests] == [None]

        def test_header_form_hits_one_request(pt_faults, pt_client, pt_requests):
            pt_client.retry_policy = RetryPolicy(max_retries=0)
            with pytest.raises(InternalServerError):
                pt_client.chat(MSGS, extra_headers=pt_faults.header("500:1234"))
            pt_client.chat(MSGS)
            assert [r.fault for r in pt_requests] == ["500:1234", None]

        def test_an_unknown_spec_is_refused(pt_faults):
            with pytest.raises(FaultSpecError):
                pt_faults.push("500:nonsense")
        """,
    )
    result.assert_outcomes(passed=4)


def test_requests_are_read_back(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import pytest

        def test_read_back(pt_client, pt_requests):
            with pytest.raises(AssertionError, match="no chat request"):
                pt_requests.last
            pt_client.chat([{"role": "user", "content": "one"}], temperature=0.5)
            pt_client.chat([{"role": "user", "content": "two"}], model="glm-4.7")
            assert len(pt_requests) == 2
            assert pt_requests.last_json["model"] == "glm-4.7"
            assert pt_requests.last_json["messages"] == [{"role": "user", "content": "two"}]
            assert pt_requests[0].json["temperature"] == 0.5
            assert [b["messages"][0]["content"] for b in pt_requests.bodies] == ["one", "two"]
            assert pt_requests.last.headers["authorization"] == "[REDACTED]"
            assert pt_requests.last.status == 200
        """,
    )
    result.assert_outcomes(passed=1)


def test_the_adapters_fixtures_work(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        from langchain_powertokens import ChatPowerTokens
        from llama_index_powertokens import PowerTokens

        def test_langchain(pt_chat_model, pt_chat_model_factory, pt_requests):
            assert isinstance(pt_chat_model, ChatPowerTokens)
            assert pt_chat_model.invoke("echo: hi lc").content == "hi lc"
            other = pt_chat_model_factory(model="glm-4.7", max_retries=0)
            assert other.invoke("echo: again").content == "again"
            assert [b["model"] for b in pt_requests.bodies][-1] == "glm-4.7"
            assert pt_chat_model_factory.built == [pt_chat_model, other]

        async def test_langchain_async(pt_chat_model):
            assert (await pt_chat_model.ainvoke("echo: hi")).content == "hi"

        def test_llama_index(pt_llm, pt_llm_factory, pt_requests):
            assert isinstance(pt_llm, PowerTokens)
            assert pt_llm.complete("echo: hi li").text == "hi li"
            assert pt_llm_factory(model="glm-4.7").complete("echo: x").text == "x"
            assert pt_requests.last_json["model"] == "glm-4.7"

        async def test_llama_index_async(pt_llm):
            assert (await pt_llm.acomplete("echo: hi")).text == "hi"
        """,
    )
    result.assert_outcomes(passed=4)


def test_the_adapters_fixtures_skip_without_their_extra(
    pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("langchain_core", "llama_index.core"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed
    result = run(
        pytester,
        """
        def test_langchain(pt_chat_model):
            raise AssertionError("not reached")

        def test_llama_index(pt_llm):
            raise AssertionError("not reached")

        def test_core(pt_client):
            pt_client.chat([{"role": "user", "content": "hi"}])
        """,
        "-rs",
    )
    result.assert_outcomes(passed=1, skipped=2)
    output = result.stdout.str()
    assert "adapter needs langchain-core: pip install 'powertokens[langchain]'" in output
    assert "adapter needs llama-index-core: pip install 'powertokens[llama-index]'" in output


def test_emulators_with_other_options(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        import httpx
        import pytest
        from powertokens import RateLimitError, RetryPolicy

        MSGS = [{"role": "user", "content": "hi"}]

        @pytest.mark.pt_emulator_options(api_keys=None)
        def test_any_token(pt_emulator, pt_session_emulator):
            assert pt_emulator is not pt_session_emulator
            auth = {"Authorization": "Bearer anything"}
            url = pt_emulator.url + "/chat/completions"
            assert httpx.post(url, json={"model": "glm-4.7", "messages": MSGS},
                              headers=auth).status_code == 200

        @pytest.mark.pt_emulator_options(api_keys=None)
        def test_same_options_same_server(pt_emulator, pt_emulators):
            assert pt_emulator is pt_emulators.get(api_keys=None)
            assert pt_emulator.request_count == 0    # reset all the same

        def test_fresh_emulators(pt_emulator_factory, pt_api_key):
            own = pt_emulator_factory(max_concurrency=3)
            assert own.url != pt_emulator_factory().url
            assert httpx.post(own.url + "/chat/completions", json={"messages": MSGS},
                              headers={"Authorization": "Bearer wrong"}).status_code == 401

        @pytest.mark.pt_emulator_options(max_concurrency=0)
        def test_clients_follow_the_marker(pt_client):
            pt_client.retry_policy = RetryPolicy(max_retries=0)
            with pytest.raises(RateLimitError):
                pt_client.chat(MSGS)
        """,
    )
    result.assert_outcomes(passed=4)


def test_an_external_emulator(
    pytester: pytest.Pytester, pt_emulator_factory: Callable[..., Emulator]
) -> None:
    external = pt_emulator_factory()  # as if started by `python -m powertokens.emulator`
    external.push_fault("html:502")  # left over from earlier: the plugin resets it
    result = run(
        pytester,
        """
        import pytest
        from powertokens.emulator import FaultSpecError
        from powertokens.testing import RemoteEmulator

        def test_remote(pt_emulator, pt_faults, pt_client, pt_requests):
            assert isinstance(pt_emulator, RemoteEmulator)
            pt_faults.push("429:1302")
            reply = pt_client.chat([{"role": "user", "content": "echo: far away"}])
            assert reply.choices[0].message.content == "far away"
            assert [r.fault for r in pt_requests] == ["429:1302", None]
            assert pt_requests.last_json["messages"][0]["content"] == "echo: far away"
            with pytest.raises(FaultSpecError, match="nonsense"):
                pt_faults.push("nonsense")
        """,
        f"--powertokens-emulator-url={external.url}",
    )
    result.assert_outcomes(passed=1)
    assert [r.fault for r in external.requests] == ["429:1302", None]


def test_no_output_shows_the_key(pytester: pytest.Pytester) -> None:
    result = run(
        pytester,
        """
        def test_fails(pt_client, pt_async_client, pt_chat_model, pt_llm, pt_requests):
            pt_client.chat([{"role": "user", "content": "hi"}])
            assert pt_requests.all == [], (pt_client, pt_async_client, pt_chat_model, pt_llm)
        """,
        "--showlocals",
        "--setup-show",
        "-vv",
        "-rA",
    )
    result.assert_outcomes(failed=1)
    output = result.stdout.str() + result.stderr.str()
    assert "pt_client" in output
    assert TEST_API_KEY not in output


def test_importing_stays_light() -> None:
    """``import powertokens`` needs no pytest; the plugin needs no framework extra."""
    code = (
        "import sys, powertokens, powertokens.testing;"
        "assert 'pytest' not in sys.modules, 'pytest';"
        "import powertokens.testing.plugin;"
        "loaded = [m for m in ('langchain_core', 'llama_index.core') if m in sys.modules];"
        "assert not loaded, loaded"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_the_examples_in_the_docs_pass(pytester: pytest.Pytester) -> None:
    page = Path(__file__).parents[2] / "docs" / "testing.md"
    blocks = re.findall(r"```python\n(.*?)```", page.read_text(encoding="utf-8"), re.DOTALL)
    examples = [block for block in blocks if "def test_" in block]
    assert len(examples) >= 3
    pytester.makepyfile(**{f"test_doc_{i}": block for i, block in enumerate(examples)})
    result = run(pytester, "")
    outcomes = result.parseoutcomes()
    assert outcomes.get("passed", 0) >= 8, outcomes
    assert set(outcomes) <= {"passed", "seconds"}, outcomes
