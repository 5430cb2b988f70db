"""langchain-tests' standard suites: unit (no sockets) and integration (the emulator)."""

from __future__ import annotations

import os
import struct
import zlib
from collections.abc import Iterator
from typing import Any
from unittest import mock

import httpx
import pytest
from langchain_core.language_models import BaseChatModel
from langchain_core.load import dumpd, load
from langchain_core.messages import AIMessage, HumanMessage
from langchain_tests.integration_tests import ChatModelIntegrationTests
from langchain_tests.unit_tests import ChatModelUnitTests
from pytest_socket import disable_socket, enable_socket
from syrupy.assertion import SnapshotAssertion

from langchain_powertokens import ChatPowerTokens
from powertokens.emulator import Emulator

from .conftest import KEY


def _png(width: int = 2, height: int = 2) -> bytes:
    """A small valid PNG (grey pixels), so the image tests need no download."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(b"\x00" + b"\x80" * width for _ in range(height))
    header = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


PNG = _png()


class TestChatPowerTokensUnit(ChatModelUnitTests):
    @pytest.fixture(autouse=True)
    def _no_network(self) -> Iterator[None]:
        disable_socket(allow_unix_socket=True)
        yield
        enable_socket()

    @property
    def chat_model_class(self) -> type[ChatPowerTokens]:
        return ChatPowerTokens

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "glm-5-turbo"}

    @property
    def has_tool_choice(self) -> bool:
        return False  # the API takes tool_choice="auto" only

    @property
    def init_from_env_params(self) -> tuple[dict[str, str], dict[str, Any], dict[str, Any]]:
        return (
            {"POWERTOKENS_API_KEY": "env-key", "POWERTOKENS_BASE_URL": "https://gw.test/v1"},
            {"model": "glm-4.7"},
            {"api_key": "env-key", "base_url": "https://gw.test/v1", "model": "glm-4.7"},
        )

    @pytest.mark.xfail(
        reason="loads(allowed_objects='all') admits only the classes in langchain-core's "
        "own mapping, which a package outside langchain-ai is not in; the dump is checked "
        "(snapshot) and test_serdes_with_explicit_allowlist loads it the supported way",
        raises=ValueError,
        strict=True,
    )
    def test_serdes(self, model: BaseChatModel, snapshot: SnapshotAssertion) -> None:
        super().test_serdes(model, snapshot)

    def test_serdes_with_explicit_allowlist(self, model: BaseChatModel) -> None:
        """The standard test_serdes, loading with ``allowed_objects=[ChatPowerTokens]``."""
        assert self.chat_model_class.is_lc_serializable()
        env_params, _model_params, _expected_attrs = self.init_from_env_params
        with mock.patch.dict(os.environ, env_params):
            loaded = load(
                dumpd(model),
                valid_namespaces=model.get_lc_namespace()[:1],
                allowed_objects=[ChatPowerTokens],
                secrets_from_env=True,
            )
            assert isinstance(loaded, ChatPowerTokens)
            assert model.asdict() == loaded.asdict()


class TestChatPowerTokensIntegration(ChatModelIntegrationTests):
    emulator_url = ""

    @pytest.fixture(autouse=True)
    def _against_emulator(self, emu: Emulator, monkeypatch: pytest.MonkeyPatch) -> None:
        self.emulator_url = emu.url
        # test_image_inputs downloads a PNG with httpx.get: serve a local one instead.
        monkeypatch.setattr(
            "langchain_tests.integration_tests.chat_models.httpx.get",
            lambda *_a, **_k: httpx.Response(200, content=PNG),
        )

    @property
    def chat_model_class(self) -> type[ChatPowerTokens]:
        return ChatPowerTokens

    @property
    def chat_model_params(self) -> dict[str, Any]:
        return {"model": "glm-5-turbo", "api_key": KEY, "base_url": self.emulator_url}

    @property
    def has_tool_choice(self) -> bool:
        return False  # the API takes tool_choice="auto" only

    @property
    def supports_json_mode(self) -> bool:
        return True  # method="json_mode" works (over tool calling, JSON-in-text fallback)

    @property
    def supports_image_inputs(self) -> bool:
        return True

    @property
    def supports_image_urls(self) -> bool:
        return True

    @property
    def supports_anthropic_inputs(self) -> bool:
        return True  # text, image-source, tool_use and thinking blocks are all converted

    @property
    def returns_usage_metadata(self) -> bool:
        return True

    @property
    def supported_usage_metadata_details(self) -> dict[str, list[Any]]:
        details = ["reasoning_output", "cache_read_input"]
        return {"invoke": details, "stream": details}

    @property
    def model_override_value(self) -> str:
        return "glm-4.7"

    def invoke_with_reasoning_output(self, *, stream: bool = False) -> AIMessage:
        model = ChatPowerTokens(**self.chat_model_params, thinking=True)
        return _run(model, [HumanMessage("Why is the sky blue?")], stream)

    def invoke_with_cache_read_input(self, *, stream: bool = False) -> AIMessage:
        model = ChatPowerTokens(**self.chat_model_params)
        context = " ".join(
            f"Fact {i}: the emulator caches long prompt prefixes." for i in range(60)
        )
        messages = [HumanMessage(context + " What does the emulator cache?")]
        _run(model, messages, stream)  # the first call fills the prompt cache
        return _run(model, messages, stream)


def _run(model: ChatPowerTokens, messages: list[Any], stream: bool) -> AIMessage:
    if not stream:
        return model.invoke(messages)
    full = None
    for chunk in model.stream(messages):
        full = chunk if full is None else full + chunk
    assert full is not None
    return full  # type: ignore[return-value]
