"""Reliability suite: an emulator of its own from the plugin's session pool
(``pt_emulators``, reset per test), the plugin's sentinel key (``stacks.KEY``), and a
sleep recorder so retries are counted and their delays checked without waiting."""

from __future__ import annotations

import asyncio
import time
from typing import Any

import pytest

import powertokens._client as client_module
import powertokens._stream_loop as stream_loop_module
from powertokens.emulator import Emulator
from powertokens.testing import EmulatorPool


@pytest.fixture
def emu(pt_emulators: EmulatorPool, pt_api_key: str) -> Emulator:
    # A server of this directory's own: these tests count its open connections, which
    # the idle keep-alive connections of other directories' tests would add to.
    server = pt_emulators.get(group="reliability", api_keys={pt_api_key})
    server.reset()
    return server


class _Module:
    """A module with some attributes replaced (everything else read through)."""

    def __init__(self, module: Any, **replaced: Any) -> None:
        self._module = module
        self.__dict__.update(replaced)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._module, name)


class Sleeps:
    """The retry delays the core clients chose, recorded instead of slept."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    @property
    def total(self) -> float:
        return sum(self.delays)


@pytest.fixture
def sleeps(monkeypatch: pytest.MonkeyPatch) -> Sleeps:
    """Patch the clients' ``time.sleep`` / ``asyncio.sleep`` (only in ``powertokens._client``
    and ``powertokens._stream_loop``, the places that wait between attempts): delays are
    recorded, not waited."""
    recorder = Sleeps()
    real_sleep = asyncio.sleep

    def fake_sleep(seconds: float) -> None:
        recorder.delays.append(seconds)

    async def fake_async_sleep(seconds: float, *args: Any) -> None:
        recorder.delays.append(seconds)
        await real_sleep(0)

    for module in (client_module, stream_loop_module):
        monkeypatch.setattr(module, "time", _Module(time, sleep=fake_sleep))
        monkeypatch.setattr(module, "asyncio", _Module(asyncio, sleep=fake_async_sleep))
    return recorder
