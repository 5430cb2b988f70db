"""The benchmark's quick mode runs end to end, so the benchmark cannot rot.

Speed is not asserted here (timings belong in ``benchmarks/run.py``, not in unit
tests); what is asserted is that every contender ran every case, answered correctly
(the benchmark checks each answer before timing it), and that the results were written.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests._background import Job, Jobs, background

ROOT = Path(__file__).resolve().parent.parent


def _quick_mode(job: Job) -> tuple[subprocess.CompletedProcess[str], Path]:
    out = job.dir
    argv = [sys.executable, str(ROOT / "benchmarks" / "run.py"), "--quick", "--out", str(out)]
    return job.run(argv, cwd=ROOT, timeout=600), out


@pytest.mark.slow  # fresh interpreters importing every contender
@background(_quick_mode)  # runs while the suite does (tests/_background.py)
def test_quick_mode_runs_every_contender_and_writes_results(background_jobs: Jobs) -> None:
    done, out = background_jobs.result(_quick_mode)
    assert done.returncode == 0, done.stderr[-4000:]

    for name in ("latest.json", "latest.md", "chart.png"):
        assert (out / name).stat().st_size > 0, name
    results = json.loads((out / "latest.json").read_text())
    assert results["meta"]["mode"] == "quick"

    contenders = set(results["contenders"])
    for case in ("invoke", "stream", "tools"):
        for mode in ("sync", "async"):
            timed = results["per_call"][case][mode]
            assert set(timed) == contenders, (case, mode)
            assert all(seconds > 0 for seconds in timed.values()), (case, mode)

    for size, row in results["loopback"]["sizes"].items():
        for name, figures in row.items():
            assert figures["errors"] == 0, (size, name, figures["first_error"])
            assert figures["lost"] == 0, (size, name)
    assert results["imports"]
    assert all(entry["seconds"] > 0 for entry in results["imports"].values())
    assert len(results["memory"]) == 3
    assert results["targets"]
    assert "### Targets" in (out / "latest.md").read_text()
