"""The emulator under abuse: huge bodies, slow clients, malformed JSON, oversized prompts.

Over real loopback HTTP (httpx, or raw sockets for half-sent requests). No sleeping: the
tests wait on the emulator's counters (``emu.wait_until``) or on socket reads.
"""

from __future__ import annotations

import asyncio
import json
import socket
import tracemalloc
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from powertokens.emulator import Emulator
from tests.emulator.emulator_wire import chat

AUTH = {"Authorization": "Bearer t"}
JSON = {**AUTH, "Content-Type": "application/json"}
MiB = 1024 * 1024


def _body(content: str, model: str = "glm-5", **extra: Any) -> bytes:
    body = {"model": model, "messages": [{"role": "user", "content": content}], **extra}
    return json.dumps(body).encode()


def _error(response: httpx.Response) -> dict[str, Any]:
    """The gateway error object, checked for the shape every validation error has."""
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "(request id: " in error["message"]
    assert response.headers["x-oneapi-request-id"]
    return dict(error)


# 1. The request log is bounded by bytes ----------------------------------------------


@pytest.mark.slow  # tens of MB through the emulator
def test_eight_31_mb_requests_stay_within_the_log_budget() -> None:
    content = "a" * (31 * 1000 * 1000)
    body = _body(content)
    tracing = tracemalloc.is_tracing()
    if not tracing:
        tracemalloc.start()
    try:
        with Emulator() as emu:
            with httpx.Client(base_url=emu.url, headers=JSON, timeout=60) as client:
                for _ in range(8):
                    response = client.post("/chat/completions", content=body)
                    assert response.status_code in (200, 400)
                # The admin endpoint serves the shortened form.
                sent = client.get(f"http://{emu.host}:{emu.port}/_emulator/requests").json()
            assert emu.wait_until(lambda e: e.open_connections == 0)
            # Python objects allocated since the first request (not RSS, which the
            # allocator decides): the log's shortened records, no request body.
            held = tracemalloc.get_traced_memory()[0]
            assert held < 16 * MiB, f"{held / MiB:.0f} MiB still held after eight 31 MB requests"
            records = emu.requests
            assert emu.log_bytes <= 64 * MiB
    finally:
        if not tracing:
            tracemalloc.stop()
    # Every request is still listed, each shortened and saying so.
    assert len(records) == 8
    kept = sum(len(json.dumps(r.json)) for r in records)
    assert kept < 64 * MiB, f"the log holds {kept / MiB:.0f} MiB of bodies"
    for record in records:
        assert record.truncated is True
        assert record.body_size == len(body)
        assert record.json["model"] == "glm-5"
        text = record.json["messages"][0]["content"]
        assert text.startswith("aaaa")
        assert text.endswith(f"...[truncated {len(content) - 1024} of {len(content)} characters]")
    assert [r["truncated"] for r in sent["requests"]] == [True] * 8


def test_the_log_drops_the_oldest_bodies_past_its_budget() -> None:
    content = "b" * 200_000  # 200 kB each, under a quarter of the budget: kept whole
    with (
        Emulator(log_budget=1 * MiB) as emu,
        httpx.Client(base_url=emu.url, headers=JSON, timeout=30) as client,
    ):
        for i in range(6):
            response = client.post("/chat/completions", content=_body(f"{i} {content}"))
            assert response.status_code == 200, response.text
        records = emu.requests
        assert emu.request_count == 6
        assert 2 <= len(records) < 6
        assert emu.log_bytes <= 1 * MiB
        # The newest ones are kept, whole.
        assert records[-1].json["messages"][0]["content"] == f"5 {content}"
        assert not any(r.truncated for r in records)
        emu.reset()
        assert emu.log_bytes == 0


def test_a_bad_log_budget_or_idle_timeout_is_refused() -> None:
    with pytest.raises(ValueError, match="log_budget"):
        Emulator(log_budget=-1)
    for bad in (0, -1.0):
        with pytest.raises(ValueError, match="idle_timeout"):
            Emulator(idle_timeout=bad)


# 2. A large body does not block other connections ----------------------------------------


@pytest.mark.slow  # tens of MB through the emulator
async def test_a_health_check_is_answered_while_a_large_prompt_is_being_answered() -> None:
    # About 880 kB of capitalized words: under glm-5's window, and seconds of work for
    # the text model. While it runs, other connections must be served.
    content = "The Quick Brown Fox Jumps Over The Lazy Dog " * 20_000 + "What is Paris?"
    with Emulator() as emu:
        admin = f"http://{emu.host}:{emu.port}/_emulator/health"
        async with httpx.AsyncClient(headers=JSON, timeout=60) as client:
            big = asyncio.ensure_future(
                client.post(f"{emu.url}/chat/completions", content=_body(content))
            )
            busy = await asyncio.to_thread(emu.wait_until, lambda e: e.in_flight == 1, 30)
            assert busy
            answered_during = 0
            while not big.done():
                health = await client.get(admin)
                assert health.json() == {"status": "ok"}
                if emu.in_flight == 1 and not big.done():
                    answered_during += 1
                    break
            response = await big
        assert response.status_code == 200, response.text
        assert answered_during == 1, "the health check waited for the large request"


# 3. Idle timeout --------------------------------------------------------------------------


def _read_until_closed(sock: socket.socket) -> bytes:
    received = b""
    while chunk := sock.recv(65536):
        received += chunk
    return received


@pytest.fixture
def quick() -> Iterator[Emulator]:
    with Emulator(idle_timeout=0.3) as emu:
        yield emu


@pytest.mark.slow  # waits for the idle timeout to fire
def test_half_sent_requests_are_closed_after_the_idle_timeout(quick: Emulator) -> None:
    partial = [
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n",  # headers unfinished
        b"POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{",
    ]
    sockets = []
    try:
        for i in range(20):
            sock = socket.create_connection((quick.host, quick.port))
            sock.settimeout(10)
            sock.sendall(partial[i % 2])
            sockets.append(sock)
        for sock in sockets:
            answer = _read_until_closed(sock)
            assert answer.startswith(b"HTTP/1.1 408 "), answer
            assert b"connection: close" in answer.lower()
        assert quick.wait_until(lambda e: e.open_connections == 0)
    finally:
        for sock in sockets:
            sock.close()


@pytest.mark.slow  # waits for the idle timeout to fire
def test_an_idle_keep_alive_connection_is_closed(quick: Emulator) -> None:
    with socket.create_connection((quick.host, quick.port)) as sock:
        sock.settimeout(10)
        sock.sendall(b"GET /_emulator/health HTTP/1.1\r\nHost: x\r\n\r\n")
        answer = _read_until_closed(sock)  # the response, then the close: no 408
        assert answer.startswith(b"HTTP/1.1 200 ")
        assert answer.endswith(b'{"status":"ok"}')
    assert quick.wait_until(lambda e: e.open_connections == 0)


@pytest.mark.slow  # waits for the idle timeout to fire
def test_a_client_waiting_for_a_slow_answer_is_not_timed_out(quick: Emulator) -> None:
    with httpx.Client(base_url=quick.url, headers=AUTH, timeout=10) as client:
        response = client.post(
            "/chat/completions",
            json=chat("echo: late"),
            headers={"X-PowerTokens-Fault": "delay:600"},
        )
        assert response.status_code == 200
        assert response.json()["choices"][0]["message"]["content"] == "late"
        # The keep-alive connection is then reopened transparently.
        assert client.post("/chat/completions", json=chat("echo: again")).status_code == 200


# 4. Malformed bodies get the service's 400 -------------------------------------------------

_HI = b'"messages":[{"role":"user","content":"hi"}]'
MALFORMED: list[tuple[str, bytes, str, str]] = [
    ("truncated-json", b'{"model": "glm-5", ', "invalid_request", "Invalid request body"),
    ("not-utf8", b'{"model":"glm-5",' + _HI[:-3] + b'\xff\xfe"}]}', "invalid_request", "UTF-8"),
    ("array-body", b'[{"model": "glm-5"}]', "invalid_request", "JSON object"),
    ("string-body", b'"hi"', "invalid_request", "JSON object"),
    ("empty-body", b"", "invalid_request", "Invalid request body"),
    ("nan", b'{"model":"glm-5",' + _HI + b',"temperature":NaN}', "invalid_request", "NaN"),
    (
        "max-tokens-1e400",
        b'{"model":"glm-5",' + _HI + b',"max_tokens":1e400}',
        "1214",
        "max_tokens",
    ),
    (
        "max-tokens-10**5000",
        b'{"model":"glm-5",' + _HI + b',"max_tokens":1' + b"0" * 5000 + b"}",
        "invalid_request",
        "digits",
    ),
    (
        "unknown-field-10**5000",
        b'{"model":"glm-5",' + _HI + b',"seed":-1' + b"0" * 5000 + b"}",
        "invalid_request",
        "digits",
    ),
    (
        "arrays-10000-deep",
        b'{"model":"glm-5",' + _HI + b',"x":' + b"[" * 10_000 + b"]" * 10_000 + b"}",
        "invalid_request",
        "nested deeper than 128",
    ),
    (
        "objects-10000-deep",
        b'{"model":"glm-5",' + _HI + b',"x":' + b'{"a":' * 10_000 + b"1" + b"}" * 10_000 + b"}",
        "invalid_request",
        "nested deeper than 128",
    ),
    (
        "schema-500-deep",
        b'{"model":"glm-5",' + _HI + b',"tools":[{"type":"function","function":{"name":"f",'
        b'"parameters":' + b'{"a":' * 500 + b"1" + b"}" * 500 + b"}}]}",
        "invalid_request",
        "nested deeper than 128",
    ),
    (
        "a-million-arrays",
        b'{"model":"glm-5",' + _HI + b',"x":[' + b"[]," * 1_000_000 + b"[]]}",
        "invalid_request",
        "objects and arrays",
    ),
]


@pytest.mark.parametrize(
    ("raw", "code", "words"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_malformed_bodies_get_a_400_not_a_500(
    client: httpx.Client, raw: bytes, code: str, words: str
) -> None:
    response = client.post("/chat/completions", content=raw, headers=JSON)
    assert response.status_code == 400, response.text
    error = _error(response)
    assert error["code"] == code
    assert words in error["message"]
    assert len(error["message"]) < 400


def test_a_lone_surrogate_escape_becomes_a_replacement_character(
    client: httpx.Client, emu: Emulator
) -> None:
    raw = (
        b'{"model":"glm-5","messages":[{"role":"user","content":"echo: a\\ud800b \\ud83d\\ude00"}]}'
    )
    response = client.post("/chat/completions", content=raw, headers=JSON)
    assert response.status_code == 200, response.text
    assert response.json()["choices"][0]["message"]["content"] == "a\ufffdb \U0001f600"
    assert emu.requests[0].json["messages"][0]["content"] == "echo: a\ufffdb \U0001f600"
    log = client.get(f"http://{emu.host}:{emu.port}/_emulator/requests")
    assert log.status_code == 200


def test_deeply_nested_admin_fault_bodies_get_a_400(client: httpx.Client, emu: Emulator) -> None:
    raw = b'{"faults":' + b"[" * 10_000 + b"]" * 10_000 + b"}"
    response = client.post(f"http://{emu.host}:{emu.port}/_emulator/faults", content=raw)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_fault_spec"


# 5. Prompt size counted: 1261 ---------------------------------------------------------------


@pytest.mark.slow  # tens of MB through the emulator
def test_a_50_mb_one_word_prompt_is_over_the_context_window(client: httpx.Client) -> None:
    response = client.post("/chat/completions", content=_body("x" * 50_000_000), headers=JSON)
    assert response.status_code == 400, response.text[:300]
    assert _error(response)["code"] == "1261"


@pytest.mark.parametrize(
    ("model", "content"),
    [
        ("glm-5", "y" * 2_000_000),  # one word: 250,000 tokens at 8 characters each
        ("glm-4.5-air", "Please decode " + "QUJD" * 300_000),  # base64 in normal text
        ("glm-4.5-air", "word " * 40_000 + "z" * 1_000_000),
    ],
    ids=["one-word", "base64", "text-and-a-long-run"],
)
def test_long_runs_of_characters_count_by_size(
    client: httpx.Client, model: str, content: str
) -> None:
    response = client.post("/chat/completions", content=_body(content, model), headers=JSON)
    assert response.status_code == 400, response.text[:300]
    assert _error(response)["code"] == "1261"


@pytest.mark.slow  # tens of MB through the emulator
def test_a_large_prompt_under_the_window_is_still_answered(client: httpx.Client) -> None:
    # 100,000 words of prose (~500 kB): under glm-4.5-air's 128K window by every count.
    response = client.post(
        "/chat/completions", content=_body("word " * 100_000, "glm-4.5-air"), headers=JSON
    )
    assert response.status_code == 200, response.text[:300]
    assert response.json()["usage"]["prompt_tokens"] < 128_000
