"""Background jobs: the subprocess work of the selected slow tests, started when collection ends.

A few tests spend their seconds waiting for a subprocess (the benchmark's quick mode, the
tour, a notebook's kernel, building and installing the wheel, the README's fork server
warming up) while the pytest process, which keeps about one CPU busy, sits idle in them.
Such a test hands that work to a *job* and only waits for its result:

    def _quick_mode(job: Job) -> subprocess.CompletedProcess[str]:
        return job.run([sys.executable, "benchmarks/run.py", "--quick"], cwd=ROOT, timeout=600)

    @background(_quick_mode)
    def test_quick_mode(background_jobs: Jobs) -> None:
        done = background_jobs.result(_quick_mode)
        assert done.returncode == 0, done.stderr

- A job is a function ``job(job: Job, **params)``. Its ``params`` are test parameters it
  names (a parametrized test gets one job per parameter set); the same function with the
  same params is one job, shared by every test that marks it (the wheel is built once for
  the two tests that use it). A job may use another's result: ``job.result(other)``.
- When collection ends (``pytest_collection_finish``, so after ``-m``, ``-k`` and node
  ids: a deselected test's job never starts), the jobs of the selected tests are queued in
  the order the suite reaches their tests and run one at a time in one thread: the work
  moves to the CPU the suite leaves idle without several jobs crowding it. Their processes
  run at a lower priority (``NICE`` more than the suite's nice value, POSIX), so that they
  take what the suite leaves and do not slow it down; ``job.popen(..., nice=False)`` for a
  process the suite itself will talk to (the fork server).
- ``background_jobs.result(...)`` waits for the job (``WAIT`` seconds at most, queue
  included) and returns its value or raises what it raised, in the test: an
  ``AssertionError`` carrying the subprocess's stderr, ``pytest.skip``. A job that has not
  started yet (still queued behind others, or never queued: under an xdist worker) runs at
  once in the test's thread; a test run alone just waits for its own job.
- The environment a job's processes get is ``os.environ`` as it was when collection ended
  (``job.environ``), so a test patching the environment meanwhile cannot leak into a job.
- Each job has a folder of its own, ``job.dir``, in a temporary folder removed when the
  session ends. Then too (also after Ctrl-C or ``-x``), queued jobs are dropped and the
  processes still running are stopped with their children: each runs in a session of its
  own, its process group is sent SIGTERM, then SIGKILL after ``GRACE`` seconds.
"""

from __future__ import annotations

import contextlib
import inspect
import os
import shutil
import signal
import subprocess
import tempfile
import threading
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import Any

import pytest

NICE = 10  # how much lower the jobs' processes run than the suite
WAIT = 1800.0  # seconds a test waits for its job, time in the queue included
GRACE = 5.0  # seconds between SIGTERM and SIGKILL for a job's process group at session end

JOBS = pytest.StashKey["Jobs"]()
MARKER = "background"


def background(function: Callable[..., Any]) -> pytest.MarkDecorator:
    """Mark a test whose ``function`` job starts when collection ends (module docstring)."""
    # with_args: a mark called with one function would decorate it instead of holding it.
    return getattr(pytest.mark, MARKER).with_args(function)


class Cancelled(Exception):
    """The session is ending: a job starts no more processes."""


class Job:
    """What a job function gets: its folder, its environment, and processes the session
    stops if they still run when it ends."""

    def __init__(self, jobs: Jobs, dir: Path) -> None:
        self._jobs = jobs
        self.dir = dir
        self.environ = dict(jobs.environ)

    def popen(self, argv: list[str], *, nice: bool = True, **kwargs: Any) -> subprocess.Popen[Any]:
        """``subprocess.Popen(argv, **kwargs)`` in a session of its own, with ``job.environ``
        unless ``env`` is given, at a lower priority unless ``nice=False``."""
        kwargs.setdefault("env", self.environ)
        return self._jobs.popen(argv, nice=nice, **kwargs)

    def run(
        self, argv: list[str], *, cwd: Path, timeout: float, env: dict[str, str] | None = None
    ) -> subprocess.CompletedProcess[str]:
        """``subprocess.run(argv, capture_output=True, text=True, encoding="utf-8")``
        without input, started with :meth:`popen`; on timeout the process group is stopped
        and ``subprocess.TimeoutExpired`` raised, as ``subprocess.run`` would."""
        process = self.popen(
            argv,
            cwd=cwd,
            env=self.environ if env is None else env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            encoding="utf-8",
        )
        with process:
            try:
                stdout, stderr = process.communicate(timeout=timeout)
            except subprocess.TimeoutExpired:
                stop(process)
                stdout, stderr = process.communicate()
                raise subprocess.TimeoutExpired(argv, timeout, stdout, stderr) from None
        return subprocess.CompletedProcess(argv, process.returncode, stdout, stderr)

    def result(self, function: Callable[..., Any], **params: Hashable) -> Any:
        """Another job's result, that job run now if it has not started."""
        return self._jobs.result(function, **params)


class _Entry:
    def __init__(self, function: Callable[..., Any], params: dict[str, Hashable]) -> None:
        self.function = function
        self.params = params
        self.claimed = False  # started (or dropped): by the queue's thread or a test
        self.future: Future[Any] = Future()

    @property
    def name(self) -> str:
        args = ", ".join(f"{k}={v!r}" for k, v in self.params.items())
        return f"{self.function.__module__}.{self.function.__qualname__}({args})"


def _key(function: Callable[..., Any], params: dict[str, Hashable]) -> Hashable:
    return (function, tuple(sorted(params.items())))


def stop(process: subprocess.Popen[Any]) -> None:
    """SIGTERM to the process's group (it leads a session), SIGKILL if still alive after
    ``GRACE`` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        if process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, sig)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(timeout=GRACE)


class Jobs:
    """The session's jobs: the queue's thread, the processes, the temporary folder."""

    def __init__(self) -> None:
        self.environ = dict(os.environ)
        self._lock = threading.Lock()
        self._entries: dict[Hashable, _Entry] = {}
        self._processes: list[subprocess.Popen[Any]] = []
        self._closing = False
        self._thread: threading.Thread | None = None
        self._root: Path | None = None

    def entry(self, function: Callable[..., Any], params: dict[str, Hashable]) -> _Entry:
        with self._lock:
            return self._entries.setdefault(_key(function, params), _Entry(function, params))

    def start(self, queue: list[_Entry]) -> None:
        """Run ``queue``'s jobs one after another in a thread, from now on."""
        self.environ = dict(os.environ)
        if queue:
            self._thread = threading.Thread(
                target=self._work, args=(queue,), name="background-jobs", daemon=True
            )
            self._thread.start()

    def _work(self, queue: list[_Entry]) -> None:
        for entry in queue:
            if self._claim(entry):
                self._execute(entry)

    def _claim(self, entry: _Entry) -> bool:
        with self._lock:
            if entry.claimed or self._closing:
                return False
            entry.claimed = True
            return True

    def _execute(self, entry: _Entry) -> None:
        try:
            with self._lock:
                if self._root is None:
                    self._root = Path(tempfile.mkdtemp(prefix="pytest-background-"))
                root = self._root
            folder = Path(tempfile.mkdtemp(prefix=f"{entry.function.__name__}-", dir=root))
            value = entry.function(Job(self, folder), **entry.params)
        except BaseException as exc:  # pytest.skip, KeyboardInterrupt: the test re-raises
            entry.future.set_exception(exc)
        else:
            entry.future.set_result(value)

    def result(self, function: Callable[..., Any], **params: Hashable) -> Any:
        entry = self.entry(function, params)
        if self._claim(entry):
            self._execute(entry)
        try:
            return entry.future.result(timeout=WAIT)
        except FutureTimeout:
            pytest.fail(f"background job {entry.name} did not finish within {WAIT:.0f} s")

    def popen(self, argv: list[str], *, nice: bool, **kwargs: Any) -> subprocess.Popen[Any]:
        with self._lock:
            if self._closing:
                raise Cancelled(f"the session is ending: {argv} not started")
            process = subprocess.Popen(argv, start_new_session=True, **kwargs)
            self._processes.append(process)
        if nice and hasattr(os, "setpriority"):
            # Right after the exec, before the process could start children of its own,
            # which then inherit the priority.
            with contextlib.suppress(OSError):
                lower = min(19, os.getpriority(os.PRIO_PROCESS, 0) + NICE)
                os.setpriority(os.PRIO_PROCESS, process.pid, lower)
        return process

    def close(self) -> None:
        """Drop the queued jobs, stop the running processes, remove the folder."""
        with self._lock:
            self._closing = True
            for entry in self._entries.values():
                if not entry.claimed:
                    entry.claimed = True
                    entry.future.cancel()
            processes = list(self._processes)
        for process in processes:
            stop(process)
        if self._thread is not None:
            self._thread.join(timeout=2 * GRACE)
        if self._root is not None:
            shutil.rmtree(self._root, ignore_errors=True)


# --- the plugin: tests/conftest.py lists this module in pytest_plugins ----------------------


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        f"{MARKER}(job): the test's subprocess work, started when collection ends "
        "(tests/_background.py)",
    )
    jobs = Jobs()
    config.stash[JOBS] = jobs
    config.add_cleanup(jobs.close)


def _params(item: pytest.Item, function: Callable[..., Any]) -> dict[str, Hashable]:
    names = list(inspect.signature(function).parameters)[1:]
    given = getattr(getattr(item, "callspec", None), "params", {})
    missing = [name for name in names if name not in given]
    if missing:
        raise pytest.UsageError(
            f"{item.nodeid}: the background job {function.__qualname__} takes {missing}, "
            "which are not parameters of the test"
        )
    return {name: given[name] for name in names}


def pytest_collection_finish(session: pytest.Session) -> None:
    config = session.config
    jobs = config.stash[JOBS]
    queue: list[_Entry] = []
    for item in session.items:
        # the module's marks first: a job shared by a module's tests before a test's own
        for mark in reversed(list(item.iter_markers(MARKER))):
            (function,) = mark.args
            entry = jobs.entry(function, _params(item, function))
            if entry not in queue:
                queue.append(entry)
    if config.option.collectonly or hasattr(config, "workerinput"):  # nothing runs; xdist
        return
    jobs.start(queue)


@pytest.fixture(scope="session")
def background_jobs(pytestconfig: pytest.Config) -> Jobs:
    """The session's background jobs: ``background_jobs.result(job, **params)``."""
    return pytestconfig.stash[JOBS]
