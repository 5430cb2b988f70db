"""What an error's message and headers tell: retry delay, suggested model, quota reset."""

from __future__ import annotations

import email.utils
import re
import time
from collections.abc import Mapping

__all__ = ["reset_time", "server_delay", "suggested_model"]

# A reset time: the date and the time of day, seconds, fraction and zone when given.
_RESET_TIME = re.compile(
    r"[0-9]{4}[-/][0-9]{2}[-/][0-9]{2}[ T][0-9]{2}:[0-9]{2}"
    r"(?::[0-9]{2}(?:\.[0-9]+)?)?(?:Z|[+-][0-9]{2}:?[0-9]{2})?"
)
# 1312 names an alternative after a cue ("such as glm-4.7", "如 glm-4.7 等"). A model id
# has a separator and a digit (glm-4.7, glm-4.5-air): "another model", "again" or "e.g"
# never match.
_SUGGESTION = re.compile(
    r"(?:\b(?:such as|e\.g\.|for example|for instance|like|switch to|switching to|try|use)"
    r"|例如|比如|改用|切换至|切换到|如)"
    r"[\s,:，：]*[\"'`“‘「『(（]?\s*"
    r"(?=[A-Za-z][A-Za-z0-9._:/-]*[0-9])([A-Za-z][A-Za-z0-9]*(?:[-._:/][A-Za-z0-9]+)+)",
    re.IGNORECASE,
)


def suggested_model(message: str) -> str | None:
    """The alternative model a 1312 message names, or None."""
    match = _SUGGESTION.search(message)
    return match.group(1) if match else None


def reset_time(message: str) -> str | None:
    """The reset time a quota message names (1308, 1310), as written, or None."""
    match = _RESET_TIME.search(message)
    return match.group(0) if match else None


def server_delay(headers: Mapping[str, str]) -> float | None:
    """The delay in seconds the server asked for, if any (``retry-after-ms`` first)."""
    lowered = {k.lower(): v for k, v in headers.items()}
    ms = lowered.get("retry-after-ms")
    if ms is not None:
        try:
            return float(ms) / 1000.0
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if value is None:
        return None
    try:
        return float(value)
    except ValueError:
        pass
    parsed = email.utils.parsedate_tz(value)
    if parsed is None:
        return None
    return float(email.utils.mktime_tz(parsed) - time.time())
