"""The notebooks run top to bottom against the emulator, and are committed clean.

Executed with nbclient in a fresh kernel each, in the notebooks' folder, with every
``POWERTOKENS_*`` variable removed: each notebook then starts its own emulator, as on a
machine without a key. (``pytest --nbmake notebooks/`` runs them too, against the real
service when ``POWERTOKENS_API_KEY`` is set.)
"""

from __future__ import annotations

import ast
import os
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
OUR_PACKAGES = ("powertokens", "langchain_powertokens", "llama_index_powertokens")

# What each notebook must show when it ran: a fragment of some cell's output.
EXPECTED = {
    "01_langchain_lcel_streaming": [
        "[thinking] The user asks: What does a vector database store?",
        "[answer] A vector database stores embeddings",
        "'reasoning', 'text'",
        "A vector database finds the stored embeddings nearest to the embedding of a query.",
    ],
    "02_llamaindex_rag": [
        "glm-4.5-air has a context window of 128,000 tokens and writes at most 96,000",
        "source: models.md (score",
        'The only tool_choice the API accepts is "auto"',
        "glm-5-turbo is the default model of every client in this project.",
        "The clients retry connection errors, timeouts and server errors twice by default",
        "Start it with python -m powertokens.emulator --port 8787",
    ],
    "03_tool_calling_agents": [
        "get_weather({'city': 'Paris'}) -> Sunny, 21 °C in Paris",
        "get_weather({'city': 'London'}) -> Sunny, 21 °C in London",
        "answer: According to get_weather: Sunny, 21 °C in Paris.\n",
        "['HumanMessage', 'AIMessage', 'ToolMessage', 'ToolMessage', 'AIMessage']",
    ],
}


def _code(notebook: nbformat.NotebookNode) -> list[str]:
    return [cell.source for cell in notebook.cells if cell.cell_type == "code"]


def test_the_three_notebooks_are_there() -> None:
    assert [p.stem for p in NOTEBOOKS] == list(EXPECTED)


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_top_to_bottom_against_the_emulator(path: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    env = {k: v for k, v in os.environ.items() if not k.startswith("POWERTOKENS_")}
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=env)  # raises CellExecutionError on the first failing cell
    printed = "".join(
        output.get("text", "")
        for cell in notebook.cells
        if cell.cell_type == "code"
        for output in cell.outputs
        if output.output_type == "stream" and output.name == "stdout"
    )
    assert "No POWERTOKENS_API_KEY: using the built-in emulator" in printed
    for fragment in EXPECTED[path.stem]:
        assert fragment in printed


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
