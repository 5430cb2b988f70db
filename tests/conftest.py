"""Suite-wide settings: the hypothesis profiles.

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

from hypothesis import settings

settings.register_profile("dev", max_examples=100, deadline=None, print_blob=True)
settings.register_profile("ci", max_examples=1000, deadline=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
