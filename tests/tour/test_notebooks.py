"""The notebooks run top to bottom against the emulator, and are committed clean.

Executed with nbclient in a fresh kernel each (tests/tour/_notebook.py, in a subprocess that
starts when collection ends: tests/_background.py), in the notebooks' folder, with every
``POWERTOKENS_*`` variable removed: each notebook then starts its own emulator, as on a
machine without a key. (``pytest --nbmake notebooks/`` runs them too, against the real
service when ``POWERTOKENS_API_KEY`` is set.)
"""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from tests._background import Job, Jobs, background

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
RUNNER = Path(__file__).with_name("_notebook.py")
OUR_PACKAGES = ("powertokens", "langchain_powertokens", "llama_index_powertokens")

# What each notebook must show when it ran, as patterns over what its cells printed
# (``re.MULTILINE``). They check behaviour: what came back (reasoning, then an answer; tool
# calls with their arguments; sources), the facts of the notebooks' own notes and documents
# reaching the answers, and the notebooks' own formatting -- never the emulator's wording,
# which is free to change.
EXPECTED: dict[str, list[str]] = {
    "01_langchain_lcel_streaming": [
        r"^reasoning: \S",  # invoke() with thinking: reasoning and an answer
        r"^answer: +\S",
        r"^blocks: +\['reasoning', 'text'\]$",
        r"(?s)\[thinking\] \S.*\[answer\] \S",  # streamed: reasoning first, then the answer
        r"A vector database stores embeddings",  # the notes reached the model
        r"A vector database finds the stored embeddings nearest",
        r"^What does a vector database store\?\n  -> \S",  # abatch(): one answer each
        r"^How does a vector database find the nearest embeddings\?\n  -> \S",
        r"^'' \| \S",  # thinking=False: no reasoning, an answer
    ],
    "02_llamaindex_rag": [
        r"(?s)\[thinking\] \S.*\[answer\] \S",
        r"^\d+ documents: ",
        r"96,000",  # the retrieved fact answers the question
        r"^  source: models\.md \(score \d+\.\d\d\)$",
        r'tool_choice the API accepts is "auto"',
        r"^sources: \['\w+\.md', '\w+\.md'\]$",
        r"glm-5-turbo is the default model",  # the chat engine, turn by turn
        r"retry connection errors, timeouts and server errors",
        r"python -m powertokens\.emulator --port 8787",
        r"^\['user', 'assistant', 'user', 'assistant', 'user', 'assistant'\]$",
    ],
    "03_tool_calling_agents": [
        r"get_weather\(\{'city': 'Paris'\}\) -> Sunny, 21 °C in Paris",
        r"get_weather\(\{'city': 'London'\}\) -> Sunny, 21 °C in London",
        r"^answer: .*Sunny, 21 °C in Paris",  # an answer from the tool's result
        r"^\['HumanMessage', 'AIMessage', 'ToolMessage', 'ToolMessage', 'AIMessage'\]$",
    ],
}


def _code(notebook: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_the_three_notebooks_are_there() -> None:
    assert [p.stem for p in NOTEBOOKS] == list(EXPECTED)


def _execute(job: Job, path: Path) -> tuple[subprocess.CompletedProcess[str], Path]:
    """The notebook run by tests/tour/_notebook.py: its exit, and the executed notebook."""
    env = {k: v for k, v in job.environ.items() if not k.startswith("POWERTOKENS_")}
    executed = job.dir / path.name
    argv = [sys.executable, str(RUNNER), str(path), str(executed)]
    return job.run(argv, cwd=path.parent, env=env, timeout=600), executed


@pytest.mark.slow  # a fresh kernel importing both frameworks
@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
@background(_execute)  # runs while the suite does (tests/_background.py)
def test_notebook_runs_top_to_bottom_against_the_emulator(
    path: Path, background_jobs: Jobs
) -> None:
    done, executed = background_jobs.result(_execute, path=path)
    assert done.returncode == 0, f"{path.name}:\n{done.stderr[-6000:]}"  # the failing cell
    notebook = nbformat.read(executed, as_version=4)
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stdout"
    )
    assert "No POWERTOKENS_API_KEY: using the built-in emulator" in printed
    missing = [p for p in EXPECTED[path.stem] if not re.search(p, printed, re.MULTILINE)]
    assert not missing, f"{path.name} printed:\n{printed}"
    if path.stem == "03_tool_calling_agents":  # both agents called the tool for Paris
        assert printed.count("get_weather({'city': 'Paris'}) -> Sunny, 21 °C in Paris") == 2


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_is_committed_without_outputs(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    nbformat.validate(notebook)
    for cell in notebook.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [], f"{path.name}: clear the outputs before committing"
            assert cell.execution_count is None


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_imports_only_public_names(path: Path) -> None:
    for source in _code(nbformat.read(path, as_version=4)):
        for node in ast.walk(ast.parse(source)):
            if isinstance(node, ast.ImportFrom) and node.module:
                module = node.module
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.Import):
                module, names = "", [alias.name for alias in node.names]
            else:
                continue
            for dotted in [module, *names]:
                if dotted.split(".")[0] in OUR_PACKAGES or module.split(".")[0] in OUR_PACKAGES:
                    assert not any(part.startswith("_") for part in dotted.split(".")), dotted
