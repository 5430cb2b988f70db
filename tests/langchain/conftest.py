"""LangChain adapter tests: the plugin's session emulator on loopback, reset before each
test, and its ``ChatPowerTokens`` factory (``pt_chat_model_factory``)."""

from __future__ import annotations

import pytest

from langchain_powertokens import ChatPowerTokens
from powertokens.emulator import Emulator
from powertokens.testing import TEST_API_KEY, ModelFactory

from .helpers import Run

KEY = TEST_API_KEY

Factory = ModelFactory[ChatPowerTokens]
"""Builds models pointed at the emulator (``make_model(**fields)``); closes what it built
(``make_model.built``) after the test."""


@pytest.fixture
def emu(pt_emulator: Emulator) -> Emulator:
    return pt_emulator


@pytest.fixture
def make_model(pt_chat_model_factory: Factory) -> Factory:
    return pt_chat_model_factory


@pytest.fixture
def model(pt_chat_model: ChatPowerTokens) -> ChatPowerTokens:
    return pt_chat_model


@pytest.fixture(params=["sync", "async"])
def run(request: pytest.FixtureRequest) -> Run:
    return Run(request.param)
