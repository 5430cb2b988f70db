"""The README's first command runs the tour: end to end in a subprocess, as a user would.

The options and the steps' outcomes are checked in this process (``tour.cli.main`` with
the arguments), each subprocess costing seconds of imports.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from powertokens.emulator import Emulator
from tests._background import Job, Jobs, background
from tour.cli import main

ROOT = Path(__file__).resolve().parents[2]
STEP_TITLES = (
    "1. LCEL chain, streamed",
    "2. Tool-calling agent loop with .bind_tools()",
    "3. LlamaIndex RAG query engine, answering with sources",
    "4. Structured output into a pydantic object",
)


def tour(
    job: Job, *args: str, key: str | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in job.environ.items() if not k.startswith("POWERTOKENS_")}
    env["PYTHONIOENCODING"] = "utf-8"
    if key is not None:
        env["POWERTOKENS_API_KEY"] = key
    return job.run([sys.executable, "demo.py", *args], cwd=ROOT, env=env, timeout=timeout)


def _whole_tour(job: Job) -> subprocess.CompletedProcess[str]:
    return tour(job)


@dataclass
class Done:
    returncode: int
    stdout: str
    stderr: str


@pytest.fixture
def run_tour(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> Callable[..., Done]:
    """``main(args)`` in this process, with the environment :func:`tour` gives the
    subprocess: no ``POWERTOKENS_*`` variable but the key, if any."""

    def run(*args: str, key: str | None = None) -> Done:
        for name in [k for k in os.environ if k.startswith("POWERTOKENS_")]:
            monkeypatch.delenv(name)
        if key is not None:
            monkeypatch.setenv("POWERTOKENS_API_KEY", key)
        capsys.readouterr()
        try:
            code = main(list(args))
        except SystemExit as exit_:  # argparse: --help, usage errors
            code = exit_.code if isinstance(exit_.code, int) else 1
        out, err = capsys.readouterr()
        return Done(code, out, err)

    return run


@pytest.mark.slow  # a fresh interpreter importing both frameworks
@background(_whole_tour)  # runs while the suite does (tests/_background.py)
def test_the_whole_tour_runs_offline_against_the_built_in_emulator(
    background_jobs: Jobs,
) -> None:
    done = background_jobs.result(_whole_tour)
    assert done.returncode == 0, done.stderr
    out = done.stdout
    assert "POWERTOKENS_API_KEY is not set: using the built-in emulator" in out
    for title in STEP_TITLES:
        assert title in out
    # 1: the chain's answer, with the reasoning shown on its own line
    assert "thinking  │ The user asks: What does a vector database store" in out
    assert "answer    │ A vector database stores embeddings" in out
    # 2: a tool call, its result, and an answer from it
    assert 'tool call │ get_model_limits(model="glm-4.7")' in out
    assert "answer    │ According to get_model_limits: glm-4.7 has a context window" in out
    # 3: retrieval-augmented answer and its sources
    assert "answer    │ glm-4.5-air has a context window of 128,000 tokens" in out
    assert "[1] models.md (score" in out
    # 4: a pydantic object
    assert "Incident(customer='Ada Lovelace', error_code=1302, attempts=3" in out
    # 5: the summary line, tokens summed over the five model calls
    summary = out.rsplit("Summary", 1)[1]
    assert "4 steps in" in summary
    assert "5 model calls" in summary
    assert "reasoning) =" in summary
    assert "\033[" not in out  # no colour when not on a terminal
    assert done.stderr == ""


def test_help_lists_the_options(run_tour: Callable[..., Done]) -> None:
    done = run_tour("--help")
    assert done.returncode == 0
    for option in ("--model", "--steps", "--base-url", "--emulator", "--pace", "--docs"):
        assert option in done.stdout
    assert "POWERTOKENS_API_KEY" in done.stdout


def test_chosen_steps_only_by_number_and_name(run_tour: Callable[..., Done]) -> None:
    done = run_tour("--steps", "agent,4", "--pace", "0")
    assert done.returncode == 0, done.stderr
    assert STEP_TITLES[1] in done.stdout
    assert STEP_TITLES[3] in done.stdout
    assert STEP_TITLES[0] not in done.stdout
    assert STEP_TITLES[2] not in done.stdout
    assert "2 steps in" in done.stdout


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--steps", "7"), "steps are 1-4"),
        (("--steps", "nope"), "unknown step 'nope'"),
        (("--base-url", "http://127.0.0.1:9/v1"), "--base-url needs POWERTOKENS_API_KEY"),
    ],
)
def test_bad_options_are_usage_errors(
    run_tour: Callable[..., Done], args: tuple[str, ...], message: str
) -> None:
    done = run_tour(*args)
    assert done.returncode == 2
    assert message in done.stderr


def test_with_a_key_it_talks_to_the_service_at_the_base_url(
    run_tour: Callable[..., Done],
) -> None:
    # The "real service" path, pointed at an emulator this test owns.
    with Emulator(api_keys={"pt-tour-key"}) as service:
        done = run_tour("--base-url", service.url, "--steps", "1,3", key="pt-tour-key")
        assert done.returncode == 0, done.stderr
        assert f"Using the PowerTokens service at {service.url}." in done.stdout
        assert "emulator" not in done.stdout.split("\n", 2)[1]
        assert service.request_count == 2
        assert {r.json["model"] for r in service.requests} == {"glm-5"}


def test_an_authentication_error_stops_the_tour_with_a_hint(
    run_tour: Callable[..., Done],
) -> None:
    with Emulator(api_keys={"the-right-key"}) as service:
        done = run_tour("--base-url", service.url, "--steps", "1", key="a-wrong-key")
    assert done.returncode == 1
    assert "step 1 failed: PowerTokensAuthenticationError" in done.stdout
    assert "check POWERTOKENS_API_KEY" in done.stdout
    assert "a-wrong-key" not in done.stdout + done.stderr


def test_the_rag_step_reads_any_folder(run_tour: Callable[..., Done], tmp_path: Path) -> None:
    (tmp_path / "facts.md").write_text("The tour reads any folder of notes.\n", encoding="utf-8")
    done = run_tour("--steps", "rag", "--docs", str(tmp_path), "--pace", "0")
    assert done.returncode == 0, done.stderr
    assert f"indexing 1 document from {tmp_path}" in done.stdout
    assert "[1] facts.md (score" in done.stdout
