"""Emulator tests: raw httpx over real loopback HTTP against one in-process emulator that
accepts any token (from the plugin's session pool, ``pt_emulators``), reset per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from powertokens.emulator import Emulator
from powertokens.testing import EmulatorPool

TOKEN = "pt-emulator-test-token"


@pytest.fixture
def emu(pt_emulators: EmulatorPool) -> Emulator:
    server = pt_emulators.get(group="emulator", api_keys=None)
    server.reset()
    return server


# verify=False: plain http on loopback, so no certificate store is loaded per client.


@pytest.fixture
def client(emu: Emulator) -> Iterator[httpx.Client]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=emu.url, headers=headers, timeout=10.0, verify=False) as c:
        yield c


@pytest.fixture
async def aclient(emu: Emulator) -> AsyncIterator[httpx.AsyncClient]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    async with httpx.AsyncClient(
        base_url=emu.url, headers=headers, timeout=10.0, verify=False
    ) as c:
        yield c
