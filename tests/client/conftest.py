"""Client tests run over real loopback HTTP against the in-process emulator, with the
fixtures of the powertokens pytest plugin (``pt_emulator``, ``pt_client``...)."""

from __future__ import annotations

from typing import Any

import pytest

from powertokens import (
    AsyncPowerTokens,
    ChatCompletion,
    PowerTokens,
    PowerTokensError,
    StreamDelta,
)
from powertokens.emulator import Emulator
from powertokens.testing import FAST_RETRIES, TEST_API_KEY

__all__ = ["FAST_RETRIES", "KEY", "Api"]  # FAST_RETRIES: the retry policy of the clients

KEY = TEST_API_KEY


@pytest.fixture
def emu(pt_emulator: Emulator) -> Emulator:
    return pt_emulator


@pytest.fixture
def client(pt_client: PowerTokens) -> PowerTokens:
    return pt_client


@pytest.fixture
def aclient(pt_async_client: AsyncPowerTokens) -> AsyncPowerTokens:
    return pt_async_client


class Api:
    """One face for the sync and async clients, so every test runs against both."""

    def __init__(self, mode: str, sync: PowerTokens, async_: AsyncPowerTokens) -> None:
        self.mode = mode
        self.sync = sync
        self.async_ = async_

    @property
    def client(self) -> PowerTokens | AsyncPowerTokens:
        return self.sync if self.mode == "sync" else self.async_

    async def chat(self, messages: list[dict[str, Any]], **params: Any) -> ChatCompletion:
        if self.mode == "sync":
            return self.sync.chat(messages, **params)
        return await self.async_.chat(messages, **params)

    async def stream(
        self, messages: list[dict[str, Any]], **params: Any
    ) -> tuple[list[StreamDelta], ChatCompletion | None, BaseException | None]:
        """Deltas received, the final completion, and the error that ended it (if any)."""
        deltas: list[StreamDelta] = []
        try:
            if self.mode == "sync":
                with self.sync.stream(messages, **params) as stream:
                    for delta in stream:
                        deltas.append(delta)
                    return deltas, stream.completion, None
            async with self.async_.stream(messages, **params) as astream:
                async for delta in astream:
                    deltas.append(delta)
                return deltas, astream.completion, None
        except PowerTokensError as exc:
            return deltas, None, exc


@pytest.fixture(params=["sync", "async"])
def api(request: pytest.FixtureRequest, client: PowerTokens, aclient: AsyncPowerTokens) -> Api:
    return Api(request.param, client, aclient)
