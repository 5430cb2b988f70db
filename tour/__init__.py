"""The PowerTokens tour: ``python demo.py`` (or ``python -m tour``).

Four steps against the real service (with ``POWERTOKENS_API_KEY``) or the built-in
emulator: an LCEL chain streamed with its reasoning, a ``.bind_tools()`` agent loop, a
LlamaIndex RAG query engine with sources, structured output into pydantic; then a
summary of the token usage. ``python demo.py --help`` lists the options.
"""

from .cli import main, run

__all__ = ["main", "run"]
