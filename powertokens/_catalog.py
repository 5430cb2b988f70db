"""Facts about the GLM models behind PowerTokens (WIRE.md, "Model facts").

The model name is an open string: new models appear on the service before this
table knows them, so every lookup has a sane default and never raises.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["DEFAULT_MODEL", "KNOWN_MODELS", "ModelInfo", "model_info"]

DEFAULT_MODEL = "glm-5-turbo"


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """Limits and defaults of one model."""

    name: str
    context_window: int
    """Prompt plus output, in tokens."""
    max_output_tokens: int
    """The largest ``max_tokens`` the model accepts."""
    thinking_default: str
    """``"enabled"`` or ``"dynamic"`` (the model decides per request)."""
    known: bool = True
    """False for a name this table has not heard of (the defaults are guesses)."""


KNOWN_MODELS: dict[str, ModelInfo] = {
    info.name: info
    for info in (
        ModelInfo("glm-5-turbo", 200_000, 128_000, "enabled"),
        ModelInfo("glm-5", 200_000, 128_000, "enabled"),
        ModelInfo("glm-4.7", 200_000, 128_000, "enabled"),
        ModelInfo("glm-4.7-flash", 200_000, 128_000, "enabled"),
        ModelInfo("glm-4.5-air", 128_000, 96_000, "dynamic"),
    )
}

# Unknown models: assume the smallest known window, so prompt packing stays safe.
_UNKNOWN_CONTEXT = 128_000
_UNKNOWN_OUTPUT = 96_000


def model_info(name: str) -> ModelInfo:
    """Return the facts for ``name``; unknown names get conservative defaults."""
    info = KNOWN_MODELS.get(name)
    if info is not None:
        return info
    return ModelInfo(name, _UNKNOWN_CONTEXT, _UNKNOWN_OUTPUT, "dynamic", known=False)
