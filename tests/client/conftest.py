"""Client tests run over real loopback HTTP against the in-process emulator."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from powertokens import (
    AsyncPowerTokens,
    ChatCompletion,
    PowerTokens,
    PowerTokensError,
    RetryPolicy,
    StreamDelta,
)
from powertokens.emulator import Emulator

KEY = "pt-test-sentinel-key-0123456789"

# Retries keep their count and order but wait microseconds, so fault tests stay fast.
FAST_RETRIES = RetryPolicy(max_retries=2, initial_delay=0.001, max_delay=0.002)


@pytest.fixture(scope="session")
def emulator() -> Iterator[Emulator]:
    with Emulator(api_keys={KEY}) as emu:
        yield emu


@pytest.fixture
def emu(emulator: Emulator) -> Emulator:
    emulator.reset()
    return emulator


@pytest.fixture
def client(emu: Emulator) -> Iterator[PowerTokens]:
    with PowerTokens(api_key=KEY, base_url=emu.url) as c:
        c.retry_policy = FAST_RETRIES
        yield c


@pytest.fixture
async def aclient(emu: Emulator) -> AsyncPowerTokens:
    c = AsyncPowerTokens(api_key=KEY, base_url=emu.url)
    c.retry_policy = FAST_RETRIES
    yield c  # type: ignore[misc]
    await c.close()


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
