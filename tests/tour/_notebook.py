"""Runs one notebook top to bottom with nbclient and saves it, outputs included.

``python _notebook.py NOTEBOOK OUT``: a fresh ``python3`` kernel in the notebook's folder,
with this process's environment; exits non-zero with the failing cell's traceback on
stderr (nbclient's ``CellExecutionError``) if a cell fails. tests/tour/test_notebooks.py
runs it as a background job (tests/_background.py) and reads ``OUT``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient


def main(path: Path, out: Path) -> None:
    notebook = nbformat.read(path, as_version=4)
    client = NotebookClient(
        notebook,
        timeout=120,
        kernel_name="python3",
        resources={"metadata": {"path": str(path.parent)}},
    )
    client.execute(env=dict(os.environ))  # raises CellExecutionError on the first failing cell
    nbformat.write(notebook, out)


if __name__ == "__main__":
    main(Path(sys.argv[1]), Path(sys.argv[2]))
