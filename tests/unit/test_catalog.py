"""The model catalog as data: built-in facts, conservative defaults for unknown names,
and run-time registration (validated, explicit override, thread-safe). No sockets."""

from __future__ import annotations

import threading
from typing import Any

import pytest

import powertokens
from powertokens import (
    KNOWN_MODELS,
    ModelInfo,
    RequestValidationError,
    _catalog,
    model_info,
    models,
    register_model,
    unregister_model,
    validate_params,
)
from powertokens.emulator.http.validation import validate
from powertokens.emulator.model import thinking_enabled


@pytest.fixture(autouse=True)
def _restore_catalog(monkeypatch: pytest.MonkeyPatch) -> None:
    """Registrations are process-wide: each test gets the catalog back as it found it."""
    monkeypatch.setattr(_catalog, "_table", dict(_catalog._table))


NEW = ModelInfo("glm-5.1", context_window=300_000, max_output_tokens=4_096)


def test_the_five_built_in_models_and_their_facts() -> None:
    facts = {
        name: (i.context_window, i.max_output_tokens, i.thinking_default)
        for name, i in KNOWN_MODELS.items()
    }
    assert facts == {
        "glm-5-turbo": (200_000, 128_000, "enabled"),
        "glm-5": (200_000, 128_000, "enabled"),
        "glm-4.7": (200_000, 128_000, "enabled"),
        "glm-4.7-flash": (200_000, 128_000, "enabled"),
        "glm-4.5-air": (128_000, 96_000, "dynamic"),
    }
    preserved = {n for n, i in KNOWN_MODELS.items() if i.supports_preserved_thinking}
    assert preserved == {"glm-5-turbo", "glm-5", "glm-4.7", "glm-4.7-flash"}
    for info in KNOWN_MODELS.values():
        assert info.known
        assert info.supports_thinking
        assert info.supports_tools
        assert info.supports_images
    assert models() == dict(KNOWN_MODELS)


def test_an_unknown_name_gets_conservative_defaults_and_no_max_tokens_check() -> None:
    info = model_info("glm-9-preview")
    assert info == ModelInfo("glm-9-preview", 128_000, 96_000, "dynamic", known=False)
    validate_params(model="glm-9-preview", max_tokens=1_000_000)  # the service decides


def test_a_registered_model_is_looked_up_listed_and_checked() -> None:
    register_model(NEW)
    assert model_info("glm-5.1") is NEW
    assert models()["glm-5.1"] is NEW
    assert "glm-5.1" not in KNOWN_MODELS  # the built-in table stays as shipped
    validate_params(model="glm-5.1", max_tokens=4_096)
    with pytest.raises(RequestValidationError) as caught:
        validate_params(model="glm-5.1", max_tokens=4_097)
    assert caught.value.field == "max_tokens"
    assert "4096" in caught.value.limit
    assert "glm-5.1" in caught.value.limit
    assert caught.value.value == 4_097


def test_the_public_names_are_exported() -> None:
    for name in ("ModelInfo", "model_info", "models", "register_model", "unregister_model"):
        assert name in powertokens.__all__
        assert getattr(powertokens, name) is getattr(_catalog, name)


def test_a_built_in_model_is_overridden_only_with_replace() -> None:
    smaller = ModelInfo("glm-4.7", context_window=64_000, max_output_tokens=8_000)
    with pytest.raises(RequestValidationError) as caught:
        register_model(smaller)
    assert caught.value.field == "ModelInfo.name"
    assert "replace=True" in str(caught.value)
    assert "glm-4.7" in str(caught.value)
    assert model_info("glm-4.7") is KNOWN_MODELS["glm-4.7"]

    register_model(smaller, replace=True)
    assert model_info("glm-4.7") is smaller
    assert KNOWN_MODELS["glm-4.7"].max_output_tokens == 128_000
    unregister_model("glm-4.7")
    assert model_info("glm-4.7") is KNOWN_MODELS["glm-4.7"]


def test_a_registered_model_is_replaced_only_explicitly_and_same_facts_are_a_no_op() -> None:
    register_model(NEW)
    register_model(ModelInfo("glm-5.1", context_window=300_000, max_output_tokens=4_096))
    other = ModelInfo("glm-5.1", context_window=300_000, max_output_tokens=8_192)
    with pytest.raises(RequestValidationError, match="replace=True"):
        register_model(other)
    register_model(other, replace=True)
    assert model_info("glm-5.1") is other


def test_unregister_makes_a_name_unknown_again_and_refuses_other_names() -> None:
    register_model(NEW)
    unregister_model("glm-5.1")
    assert model_info("glm-5.1").known is False
    for name in ("glm-5.1", "glm-5", "never-heard-of"):
        with pytest.raises(RequestValidationError, match="not a registered model"):
            unregister_model(name)
    with pytest.raises(RequestValidationError, match="must be a string"):
        unregister_model(["glm-5"])  # type: ignore[arg-type]


def test_the_built_in_table_is_read_only() -> None:
    with pytest.raises(TypeError):
        KNOWN_MODELS["glm-5.1"] = NEW  # type: ignore[index]
    snapshot = models()
    snapshot["glm-5.1"] = NEW  # a copy: the catalog does not change
    assert model_info("glm-5.1").known is False


BAD: list[tuple[dict[str, Any], str]] = [
    ({"name": ""}, "ModelInfo.name"),
    ({"name": " glm-5.1"}, "ModelInfo.name"),
    ({"name": 51}, "ModelInfo.name"),
    ({"context_window": 0}, "ModelInfo.context_window"),
    ({"context_window": 1.5e5}, "ModelInfo.context_window"),
    ({"context_window": True}, "ModelInfo.context_window"),
    ({"max_output_tokens": -1}, "ModelInfo.max_output_tokens"),
    ({"max_output_tokens": "4096"}, "ModelInfo.max_output_tokens"),
    ({"max_output_tokens": 400_000}, "ModelInfo.max_output_tokens"),  # above the window
    ({"thinking_default": "on"}, "ModelInfo.thinking_default"),
    ({"known": False}, "ModelInfo.known"),
    ({"supports_thinking": "yes"}, "ModelInfo.supports_thinking"),
    ({"supports_preserved_thinking": 1}, "ModelInfo.supports_preserved_thinking"),
    ({"supports_tools": None}, "ModelInfo.supports_tools"),
    ({"supports_images": "no"}, "ModelInfo.supports_images"),
]


@pytest.mark.parametrize(("change", "field"), BAD)
def test_bad_facts_are_refused_naming_the_field(change: dict[str, Any], field: str) -> None:
    base: dict[str, Any] = {"name": "glm-5.1", "context_window": 300_000}
    base["max_output_tokens"] = 4_096
    info = ModelInfo(**{**base, **change})
    with pytest.raises(RequestValidationError) as caught:
        register_model(info)
    assert caught.value.field == field
    assert str(caught.value).startswith(f"{field}: ")
    assert models() == dict(KNOWN_MODELS)  # nothing was registered


def test_register_model_refuses_anything_but_a_model_info() -> None:
    with pytest.raises(RequestValidationError) as caught:
        register_model({"name": "glm-5.1"})  # type: ignore[arg-type]
    assert caught.value.field == "info"


def test_concurrent_registrations_all_land() -> None:
    start = threading.Barrier(8)

    def work(worker: int) -> None:
        start.wait()
        for i in range(50):
            register_model(ModelInfo(f"glm-t{worker}-{i}", 1_000, 100))

    threads = [threading.Thread(target=work, args=(w,)) for w in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    names = set(models())
    assert {f"glm-t{w}-{i}" for w in range(8) for i in range(50)} <= names
    assert len(names) == len(KNOWN_MODELS) + 400


def test_the_emulator_keeps_the_services_own_facts() -> None:
    """The emulator stands for the service: a registration in this process (here new
    facts for glm-4.5-air) changes the client's view, not the server's."""
    register_model(ModelInfo("glm-4.5-air", 1_000, 500, "enabled"), replace=True)
    request = {"model": "glm-4.5-air", "messages": [{"role": "user", "content": "hi"}]}
    assert thinking_enabled(request) is False  # still "dynamic": a short statement
    assert validate({**request, "max_tokens": 90_000}) is None  # still 96K on the server
