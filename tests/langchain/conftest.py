"""LangChain adapter tests: a session emulator on loopback, reset before each test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from langchain_powertokens import ChatPowerTokens
from powertokens.emulator import Emulator

from .helpers import Run

KEY = "pt-langchain-sentinel-key-5f1c2d9a"


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator(api_keys={KEY}) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Emulator:
    emulator.reset()
    return emulator


class Factory:
    """Builds models pointed at the emulator; closes what it built."""

    def __init__(self, emu: Emulator) -> None:
        self.emu = emu
        self.built: list[ChatPowerTokens] = []

    def __call__(self, **params: Any) -> ChatPowerTokens:
        model = ChatPowerTokens(**{"api_key": KEY, "base_url": self.emu.url, **params})
        self.built.append(model)
        return model


@pytest.fixture
async def make_model(emu: Emulator) -> AsyncIterator[Factory]:
    factory = Factory(emu)
    yield factory
    for model in factory.built:
        await model.aclose()  # from any loop: pools of other loops close on their own


@pytest.fixture
def model(make_model: Factory) -> ChatPowerTokens:
    return make_model()


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Run:
    return Run(request.param)
