"""Suite-wide settings: the plugin, the hypothesis profiles, the cells the fast loop leaves out.

The suite's fixtures come from the powertokens pytest plugin (docs/testing.md). Installed,
the package registers it (a ``pytest11`` entry point under this same name, so pytest loads
it once); ``pytest_plugins`` also loads it from a checkout that is not installed.

``HYPOTHESIS_PROFILE`` picks one (default ``dev``):

- ``dev``: 100 examples per property (hypothesis' own default), what the README's test
  command and the fast loop (``-m "not slow"``) run;
- ``ci``: 1,000 examples per property, for a thorough run of the properties:
  ``HYPOTHESIS_PROFILE=ci python -m pytest tests/unit tests/reliability``.

Neither has a deadline: on a shared machine a slow example is noise, not a bug. A failure
prints the ``@reproduce_failure`` blob that replays it.
"""

from __future__ import annotations

import os

import pytest
from hypothesis import settings

# tests._background: the slow tests' subprocesses start when collection ends (its docstring).
pytest_plugins = ["powertokens.testing.plugin", "tests._background"]

settings.register_profile("dev", max_examples=100, deadline=None, print_blob=True)
settings.register_profile("ci", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))


ADAPTERS = ("langchain", "llama_index")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The cross-stack sweeps of ``tests/reliability`` are slow in their adapters' cells
    (a test parametrized by ``face`` or ``stack`` with a LangChain or LlamaIndex value):
    the fast loop keeps their core cells, and each adapter's own suite
    (``tests/langchain``, ``tests/llama_index``). Everything still runs by default."""
    for item in items:
        params = getattr(getattr(item, "callspec", None), "params", {})
        stack = params.get("stack", getattr(params.get("face"), "stack", None))
        if stack in ADAPTERS and "reliability" in item.nodeid.split("/")[:2]:
            item.add_marker(pytest.mark.slow)
