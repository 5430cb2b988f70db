"""``python -m tour``: the same as ``python demo.py``."""

from .cli import run

run()
