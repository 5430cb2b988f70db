"""A wheel built from a clean clone installs and runs the demo: what a user of the package gets.

The commit checked out here (``HEAD``, not uncommitted changes) is cloned to a temporary
folder, built into a wheel offline (no build isolation, so the current environment's
setuptools builds it; ``requirements-dev.txt`` installs one recent enough), installed with
``pip install --target`` and imported from there, its dependencies from the current
environment. The tour itself (``demo.py``, ``tour/``, ``examples/data``) is not in the wheel:
it is copied from the clone next to a bare folder, so the only ``powertokens`` it can find
first is the installed one.
"""

from __future__ import annotations

import email
import re
import shutil
import sys
import zipfile
from importlib import metadata
from pathlib import Path

import pytest

import powertokens
from tests._background import Job, Jobs, background

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("powertokens", "langchain_powertokens", "llama_index_powertokens")


def _run(job: Job, *command: str | Path, cwd: Path, env: dict[str, str] | None = None) -> str:
    done = job.run([str(c) for c in command], cwd=cwd, env=env, timeout=180)
    assert done.returncode == 0, f"{command}:\n{done.stdout}\n{done.stderr}"
    return done.stdout


def _head(job: Job) -> str:
    if shutil.which("git") is None:
        pytest.skip("git is not installed: cannot clone the repository")
    done = job.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], cwd=ROOT, timeout=180)
    if done.returncode != 0:
        pytest.skip(f"{ROOT} is not a git checkout: nothing to clone ({done.stderr.strip()})")
    return done.stdout.strip()


def _setuptools_builds_offline() -> None:
    try:
        version = metadata.version("setuptools")
    except metadata.PackageNotFoundError:
        pytest.skip("setuptools is not installed: the wheel cannot be built offline")
    major = int(re.match(r"\d+", version).group())  # type: ignore[union-attr]
    if major < 77:
        pytest.skip(f"setuptools {version} < 77 cannot build the SPDX license metadata offline")


def _build_wheel(job: Job) -> Path:
    sha = _head(job)
    _setuptools_builds_offline()
    work = job.dir
    clone = work / "clone"
    _run(job, "git", "clone", "--quiet", "--no-checkout", ROOT, clone, cwd=work)
    _run(job, "git", "-c", "advice.detachedHead=false", "checkout", "--quiet", sha, cwd=clone)
    offline = {**job.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = (sys.executable, "-m", "pip")
    _run(job, *pip, "wheel", "-q", "--no-deps", "--no-build-isolation", "-w", work / "dist", clone,
         cwd=work, env=offline)  # fmt: skip
    (built,) = (work / "dist").glob("powertokens-*.whl")
    return built


# Built while the suite runs (tests/_background.py), once for both tests.
pytestmark = [pytest.mark.slow, background(_build_wheel)]


def _install_and_run_the_demo(job: Job) -> tuple[str, Path]:
    """What the demo printed, run from the installed wheel; the folder it is installed in."""
    wheel: Path = job.result(_build_wheel)
    target = job.dir / "site"
    offline = {**job.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    pip = (sys.executable, "-m", "pip")
    _run(job, *pip, "install", "-q", "--no-deps", "--target", target, wheel, cwd=job.dir,
         env=offline)  # fmt: skip
    # the tour is not part of the package: take it from the clone, without the sources
    clone = wheel.parents[1] / "clone"
    run = job.dir / "run"
    shutil.copytree(clone / "tour", run / "tour")
    shutil.copytree(clone / "examples" / "data", run / "examples" / "data")
    shutil.copy2(clone / "demo.py", run / "demo.py")
    env = {k: v for k, v in job.environ.items() if not k.startswith(("POWERTOKENS_", "PYTHON"))}
    env.update(PYTHONPATH=str(target), PYTHONIOENCODING="utf-8", PYTHONNOUSERSITE="1")
    # check where each package comes from, then run demo.py as `python demo.py` would
    script = (
        "import runpy, sys\n"
        f"import {', '.join(PACKAGES)}\n"
        "import llama_index.llms.powertokens as hub\n"
        f"for module in ({', '.join(PACKAGES)}, hub):\n"
        "    print('from', module.__name__, module.__file__)\n"
        "sys.argv = ['demo.py', '--pace', '0', '--color', 'never']\n"
        "runpy.run_path('demo.py', run_name='__main__')\n"
    )
    return _run(job, sys.executable, "-c", script, cwd=run, env=env), target


@pytest.fixture(scope="module")
def wheel(background_jobs: Jobs) -> Path:
    built: Path = background_jobs.result(_build_wheel)
    return built


def test_the_wheel_holds_the_packages_and_honest_metadata(wheel: Path) -> None:
    assert wheel.name.startswith(f"powertokens-{powertokens.__version__}-")
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        info = f"powertokens-{powertokens.__version__}.dist-info"
        meta = email.message_from_string(archive.read(f"{info}/METADATA").decode("utf-8"))
        licence = archive.read(f"{info}/licenses/LICENSE").decode("utf-8")
    tops = {name.split("/")[0] for name in names if not name.startswith(info)}
    assert tops == {*PACKAGES, "llama_index"}  # no tour/, tests/, benchmarks/
    assert "powertokens/py.typed" in names
    assert "llama_index/llms/powertokens/__init__.py" in names
    assert "llama_index/__init__.py" not in names  # a namespace shared with LlamaIndex
    assert meta["Version"] == powertokens.__version__
    assert meta["License-Expression"] == "MIT"
    assert licence.startswith("MIT License")
    requires = meta.get_all("Requires-Dist") or []
    core = {r.split(">")[0].split("<")[0].strip() for r in requires if "extra ==" not in r}
    assert {"httpx", "pydantic", "pydantic-core", "typing-extensions", "h11"} <= core
    assert set(meta.get_all("Provides-Extra") or []) == {"langchain", "llama-index", "all"}


@background(_install_and_run_the_demo)
def test_the_installed_wheel_runs_the_demo(background_jobs: Jobs) -> None:
    out, target = background_jobs.result(_install_and_run_the_demo)
    places = dict(line.split()[1:] for line in out.splitlines() if line.startswith("from "))
    assert len(places) == len(PACKAGES) + 1
    for module, file in places.items():
        assert Path(file).is_relative_to(target), f"{module} imported from {file}, not the wheel"
    assert "POWERTOKENS_API_KEY is not set: using the built-in emulator" in out
    assert "4. Structured output into a pydantic object" in out
    assert re.search(r"4 steps in [\d.]+ s · 5 model calls", out), out[-2000:]
