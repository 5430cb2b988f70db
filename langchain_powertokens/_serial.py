"""What ``dumps``/``loads`` need beyond langchain-core's defaults.

The model is serializable, with its key as a secret (``POWERTOKENS_API_KEY``, never the
value). A timeout object (``powertokens.Timeout``, ``httpx.Timeout``) is not JSON: it is
written as a mapping of its phases (``powertokens.Timeout`` field names) and read
back from one, so a saved model keeps its timeouts.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from langchain_core.load.serializable import (
    Serializable,
    SerializedConstructor,
    SerializedNotImplemented,
)

from powertokens import API_KEY_ENV, RequestValidationError, Timeout

__all__ = ["Saved", "timeout_from_json", "timeout_to_json"]


class Saved(Serializable):
    """Serializable, the key a secret, the timeout as its phases (a mixin of the model)."""

    @classmethod
    def is_lc_serializable(cls) -> bool:
        return True

    @property
    def lc_secrets(self) -> dict[str, str]:
        return {"api_key": API_KEY_ENV}

    def to_json(self) -> SerializedConstructor | SerializedNotImplemented:
        serialized = super().to_json()
        kwargs = serialized.get("kwargs")
        if isinstance(kwargs, dict) and "timeout" in kwargs:
            kwargs["timeout"] = timeout_to_json(kwargs["timeout"])
        return serialized


def timeout_to_json(value: Any) -> Any:
    """A number or None as it is; a timeout object as ``{"connect": ..., "read": ...}``."""
    if value is None or isinstance(value, (int, float)):
        return value
    return dataclasses.asdict(Timeout.coerce(value))


def timeout_from_json(value: Any) -> Any:
    """A mapping of phases as a :class:`powertokens.Timeout`; anything else as it is."""
    if not isinstance(value, Mapping):
        return value
    phases = {field.name for field in dataclasses.fields(Timeout)}
    unknown = sorted(set(value) - phases)
    if unknown:
        raise RequestValidationError(
            "timeout", f"a mapping takes the phases {', '.join(sorted(phases))}", unknown
        )
    try:
        return Timeout(**value)
    except (TypeError, ValueError) as exc:
        raise RequestValidationError("timeout", str(exc), dict(value)) from None
