"""Which service the tour talks to: the real one with a key, else the built-in emulator."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from dataclasses import dataclass

from powertokens import API_KEY_ENV, BASE_URL_ENV, DEFAULT_BASE_URL
from powertokens.emulator import Emulator

__all__ = ["Service", "connect"]

EMULATOR_KEY = "emulator-key"


@dataclass(frozen=True)
class Service:
    """Where requests go: ``api_key`` and ``base_url`` for every client the tour builds."""

    api_key: str
    base_url: str
    emulated: bool


@contextlib.contextmanager
def connect(
    base_url: str | None, *, force_emulator: bool, pace: float
) -> Iterator[tuple[Service, str]]:
    """Yield the service and a sentence saying which one it is.

    With ``POWERTOKENS_API_KEY`` set (and no ``force_emulator``) that is the real service
    at ``base_url``, ``POWERTOKENS_BASE_URL`` or the public endpoint. Otherwise an
    emulator is started on loopback for the duration, pacing stream events by ``pace``
    seconds so streaming is visible.
    """
    key = os.environ.get(API_KEY_ENV)
    if key and not force_emulator:
        url = base_url or os.environ.get(BASE_URL_ENV) or DEFAULT_BASE_URL
        yield Service(key, url, emulated=False), f"Using the PowerTokens service at {url}."
        return
    why = "--emulator given" if key else f"{API_KEY_ENV} is not set"
    with Emulator(chunk_delay=pace) as emu:
        said = (
            f"{why}: using the built-in emulator at {emu.url} "
            "(local, offline, deterministic answers)."
        )
        yield Service(EMULATOR_KEY, emu.url, emulated=True), said
