"""tests/_background.py: a selected test's job runs once, ahead of it; a deselected test's
never starts; a failing job fails its test with the job's stderr; the session's end stops
the processes still running and removes the jobs' folders. Each case is an inner pytest
run (``pytester``) of a small test file."""

from __future__ import annotations

import os
import textwrap

import pytest

pytest_plugins = ["pytester"]

JOBS = """
import os
import sys
from pathlib import Path

import pytest

from tests._background import NICE, background

LOG = Path(__file__).with_name("log.txt")


def _record(job, name):
    with LOG.open("a") as log:
        log.write(f"{name}\\n")
    code = f"import sys; sys.stderr.write('stderr of {name}'); sys.exit({int(name == 'bad')})"
    return job.run([sys.executable, "-c", code], cwd=job.dir, timeout=60)


@pytest.mark.parametrize("name", ["good", "bad", "left out"])
@background(_record)
def test_job(name, background_jobs):
    done = background_jobs.result(_record, name=name)
    assert done.returncode == 0, done.stderr


def _folder(job):
    with LOG.open("a") as log:
        log.write("folder\\n")
    (job.dir / "made").write_text("by the job")
    return job.dir


@background(_folder)
def test_shared_one(background_jobs):
    folder = background_jobs.result(_folder)
    assert (folder / "made").read_text() == "by the job"
    Path(__file__).with_name("folder.txt").write_text(str(folder))


@background(_folder)
def test_shared_two(background_jobs):
    assert background_jobs.result(_folder).is_dir()


def _sleeper(job):
    return job.popen([sys.executable, "-c", "import time; time.sleep(120)"]).pid


@background(_sleeper)
def test_stops_here(background_jobs):
    pid = background_jobs.result(_sleeper)
    Path(__file__).with_name("pid.txt").write_text(str(pid))
    if hasattr(os, "getpriority"):  # the job's process runs at a lower priority
        lower = min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICE)
        assert os.getpriority(os.PRIO_PROCESS, pid) == lower
    pytest.fail("stopped with the sleeper still running")
"""


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")  # none of the dev plugins
    pytester.makepyfile(test_jobs=textwrap.dedent(JOBS))
    return pytester


def test_the_selected_jobs_run_once_and_a_failing_one_fails_its_test(
    run: pytest.Pytester,
) -> None:
    result = run.runpytest("-p", "tests._background", "-k", "not left and not stops")
    result.assert_outcomes(passed=3, failed=1)
    result.stdout.fnmatch_lines(["*AssertionError: stderr of bad*"])
    log = (run.path / "log.txt").read_text().splitlines()
    assert sorted(log) == ["bad", "folder", "good"]  # "left out": deselected, never run
    assert not os.path.exists((run.path / "folder.txt").read_text())  # removed at the end


def test_a_stopped_session_stops_the_processes_of_its_jobs(run: pytest.Pytester) -> None:
    result = run.runpytest("-p", "tests._background", "-x", "-k", "stops or shared")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*stopped with the sleeper still running*"])
    pid = int((run.path / "pid.txt").read_text())
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
