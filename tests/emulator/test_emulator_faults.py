"""Every fault of the fault language, from the header, the queue and the marker."""

from __future__ import annotations

import json
import re
from datetime import datetime

import httpx
import pytest

from powertokens.emulator import Emulator, FaultSpecError
from tests.emulator.emulator_wire import PING, chat, joined, sse_chunks, sse_payloads

LONG = "echo: " + " ".join(f"w{i}" for i in range(20))


def _read_until(response: httpx.Response, error: type[Exception]) -> bytes:
    """Read a response body that must end in ``error``; return the bytes that came first."""
    parts: list[bytes] = []
    with pytest.raises(error):
        parts.extend(response.iter_raw())  # keeps the parts read before the error
    return b"".join(parts)


def _error(response: httpx.Response) -> dict[str, str]:
    error: dict[str, str] = response.json()["error"]
    assert error["message"].endswith(f" (request id: {response.headers['x-oneapi-request-id']})")
    return error


@pytest.mark.parametrize(
    ("spec", "status", "code", "kind", "text"),
    [
        ("429:1302", 429, "1302", "upstream_error", "High concurrency usage of this API"),
        ("429:1305", 429, "1305", "upstream_error", "temporarily overloaded"),
        ("500:1234", 500, "1234", "upstream_error", "Network error"),
        ("401:1001", 401, "1001", "upstream_error", "Authentication parameter not received"),
        ("400:1261", 400, "1261", "upstream_error", "Prompt exceeds max length"),
        ("400:1301", 400, "1301", "upstream_error", "potentially unsafe or sensitive content"),
        ("503:model_not_found", 503, "model_not_found", "new_api_error", "No available channel"),
        ("429:rate_limit_exceeded", 429, "rate_limit_exceeded", "new_api_error", "rate limit"),
        ("quota:1113", 429, "1113", "upstream_error", "arrears"),
        ("quota:1304", 429, "1304", "upstream_error", "daily call limit"),
        ("quota:1310", 429, "1310", "upstream_error", "Limit Exhausted"),
        ("quota:1310:lang=zh", 429, "1310", "upstream_error", "您已达到每周/每月使用上限"),
        ("429:1302:lang=zh", 429, "1302", "upstream_error", "并发数过高"),
        ("429:1311", 429, "1311", "upstream_error", "does not yet include access to glm-5"),
        ("403:1311", 403, "1311", "upstream_error", "does not yet include access to glm-5"),
        ("429:1311:lang=zh", 429, "1311", "upstream_error", "当前订阅套餐暂未开放glm-5权限"),
        ("429:1312", 429, "1312", "upstream_error", "overloaded, please try again later"),
        ("429:1312:lang=zh", 429, "1312", "upstream_error", "切换其他模型如 glm-4.7 等"),
        ("429:1313", 429, "1313", "upstream_error", "Fair Use Policy"),
        ("429:1313:lang=zh", 429, "1313", "upstream_error", "公平使用策略"),
        ("409:1231", 409, "1231", "upstream_error", "You already have a request: "),
        ("400:1231:lang=zh", 400, "1231", "upstream_error", "您已有请求："),
    ],
)
@pytest.mark.parametrize("stream", [False, True])
def test_status_faults(
    client: httpx.Client, spec: str, status: int, code: str, kind: str, text: str, stream: bool
) -> None:
    headers = {"X-PowerTokens-Fault": spec}
    response = client.post("/chat/completions", json=chat("hi", stream=stream), headers=headers)
    assert response.status_code == status
    assert "retry-after" not in response.headers  # the real gateway sends none
    error = _error(response)
    assert (error["code"], error["type"], error["param"]) == (code, kind, "")
    assert text in error["message"]


def test_quota_1308_names_a_future_reset_time(client: httpx.Client) -> None:
    response = client.post(
        "/chat/completions", json=chat("hi"), headers={"X-PowerTokens-Fault": "quota:1308"}
    )
    assert response.status_code == 429
    message = _error(response)["message"]
    assert message.startswith("Usage limit reached for 5 hour. Your limit will reset at ")
    match = re.search(r"reset at (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d)", message)
    assert match is not None
    assert datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S") > datetime.now()


def test_quota_1308_in_chinese_names_a_future_reset_time(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "quota:1308:lang=zh"}
    response = client.post("/chat/completions", json=chat("hi"), headers=headers)
    assert response.status_code == 429
    message = _error(response)["message"]
    match = re.fullmatch(
        r"已达到 5 小时的使用上限。您的限额将在 (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) 重置 "
        r"\(request id: [^)]+\)",
        message,
    )
    assert match is not None, message
    assert datetime.strptime(match.group(1), "%Y-%m-%d %H:%M:%S") > datetime.now()


@pytest.mark.parametrize(
    ("model", "alternative"),
    [("glm-5", "glm-4.7"), ("glm-5-turbo", "glm-4.7"), ("glm-4.7", "glm-4.5-air")],
)
@pytest.mark.parametrize("spec", ["429:1312", "429:1312:lang=zh"])
def test_overloaded_1312_names_another_model(
    client: httpx.Client, spec: str, model: str, alternative: str
) -> None:
    headers = {"X-PowerTokens-Fault": spec}
    response = client.post("/chat/completions", json=chat("hi", model=model), headers=headers)
    assert response.status_code == 429
    message = _error(response)["message"]
    assert alternative in message
    assert model not in message.replace(alternative, "")  # never the model asked for


def test_overloaded_1312_in_stream_names_another_model(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "stream-error:1312"}
    body = chat("hi", model="glm-4.7", stream=True)
    response = client.post("/chat/completions", json=body, headers=headers)
    assert response.status_code == 200
    payloads = sse_payloads(response.content)
    error = json.loads(payloads[-2])["error"]
    assert error["code"] == 1312
    assert error["message"].endswith("such as glm-4.5-air")


def test_conflict_1231_names_the_running_request(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "409:1231"}
    response = client.post("/chat/completions", json=chat("hi"), headers=headers)
    request_id = response.headers["x-oneapi-request-id"]
    assert _error(response)["message"] == (
        f"You already have a request: {request_id} (request id: {request_id})"
    )


def test_retry_after_suffixes(client: httpx.Client) -> None:
    spec = "429:1302:retry-after=3:retry-after-ms=1500"
    response = client.post(
        "/chat/completions", json=chat("hi"), headers={"X-PowerTokens-Fault": spec}
    )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "3"
    assert response.headers["retry-after-ms"] == "1500"


@pytest.mark.parametrize("status", [502, 504])
def test_html_fault(client: httpx.Client, status: int) -> None:
    response = client.post(
        "/chat/completions", json=chat("hi"), headers={"X-PowerTokens-Fault": f"html:{status}"}
    )
    assert response.status_code == status
    assert response.headers["content-type"] == "text/html"
    assert f"<title>{status} " in response.text
    assert "nginx" in response.text
    assert response.headers["x-oneapi-request-id"]


def test_empty_fault(client: httpx.Client) -> None:
    response = client.post(
        "/chat/completions", json=chat("hi"), headers={"X-PowerTokens-Fault": "empty:503"}
    )
    assert response.status_code == 503
    assert response.content == b""


@pytest.mark.parametrize(("after", "normal"), [(None, 0), (2, 2), (999, 5)])
def test_stream_error_fault(client: httpx.Client, after: int | None, normal: int) -> None:
    spec = "stream-error:1305" + (f":after={after}" if after is not None else "")
    body = chat("echo: a b c d e", stream=True)
    response = client.post("/chat/completions", json=body, headers={"X-PowerTokens-Fault": spec})
    assert response.status_code == 200
    payloads = sse_payloads(response.content)
    assert payloads[-1] == "[DONE]"
    error = json.loads(payloads[-2])
    assert error == {
        "error": {
            "code": 1305,
            "message": "The service may be temporarily overloaded, please try again later",
        }
    }
    chunks = [json.loads(p) for p in payloads[:-2]]
    assert len(chunks) == normal  # "a b c d e": 5 content chunks before the final one
    assert all(c["choices"][0]["finish_reason"] is None for c in chunks)


def test_stream_error_fault_on_a_non_stream_request(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "stream-error:1305"}
    response = client.post("/chat/completions", json=chat("hi"), headers=headers)
    assert response.status_code == 429
    assert _error(response)["code"] == "1305"


@pytest.mark.parametrize("k", [0, 3])
def test_cut_fault_stream(client: httpx.Client, k: int) -> None:
    body = chat(LONG, stream=True)
    headers = {"X-PowerTokens-Fault": f"cut:{k}"}
    with client.stream("POST", "/chat/completions", json=body, headers=headers) as response:
        assert response.status_code == 200
        received = _read_until(response, httpx.RemoteProtocolError)
    payloads = sse_payloads(received, done=False)
    assert len(payloads) == k
    assert all(json.loads(p)["choices"][0]["finish_reason"] is None for p in payloads)


def test_cut_fault_non_stream_closes_without_response(client: httpx.Client, emu: Emulator) -> None:
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/chat/completions", json=chat("hi"), headers={"X-PowerTokens-Fault": "cut:0"})
    assert emu.requests[0].status is None
    assert emu.disconnects == 0  # the server cut it, not the client


def test_stall_fault_stream_then_close(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "stall:2:0.05"}
    body = chat(LONG, stream=True)
    with client.stream("POST", "/chat/completions", json=body, headers=headers) as response:
        received = _read_until(response, httpx.RemoteProtocolError)
    assert len(sse_payloads(received, done=False)) == 2


def test_stall_fault_trips_a_read_timeout(client: httpx.Client, emu: Emulator) -> None:
    headers = {"X-PowerTokens-Fault": "stall:1"}  # 30 s by default
    timeout = httpx.Timeout(10.0, read=0.2)
    body = chat(LONG, stream=True)
    with client.stream(
        "POST", "/chat/completions", json=body, headers=headers, timeout=timeout
    ) as response:
        received = _read_until(response, httpx.ReadTimeout)
    assert received.startswith(PING)
    assert emu.wait_until(lambda e: e.disconnects == 1 and e.in_flight == 0)


def test_stall_fault_non_stream(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "stall:0:0.05"}
    with pytest.raises(httpx.RemoteProtocolError):
        client.post("/chat/completions", json=chat("hi"), headers=headers)
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/chat/completions",
            json=chat("hi"),
            headers={"X-PowerTokens-Fault": "stall:0"},
            timeout=httpx.Timeout(10.0, read=0.1),
        )


@pytest.mark.parametrize("stream", [False, True])
def test_delay_fault_then_normal_answer(client: httpx.Client, stream: bool) -> None:
    response = client.post(
        "/chat/completions",
        json=chat("echo: late", stream=stream),
        headers={"X-PowerTokens-Fault": "delay:50"},
    )
    assert response.status_code == 200
    assert response.elapsed.total_seconds() >= 0.05
    if stream:
        assert joined(sse_chunks(response.content), "content") == "late"
    else:
        assert response.json()["choices"][0]["message"]["content"] == "late"


def test_delay_trips_a_read_timeout(client: httpx.Client) -> None:
    with pytest.raises(httpx.ReadTimeout):
        client.post(
            "/chat/completions",
            json=chat("hi"),
            headers={"X-PowerTokens-Fault": "delay:2000"},
            timeout=httpx.Timeout(10.0, read=0.1),
        )


def test_malformed_fault(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "malformed:2"}
    response = client.post("/chat/completions", json=chat(LONG, stream=True), headers=headers)
    payloads = sse_payloads(response.content)
    assert payloads[-1] == "[DONE]"
    assert payloads[-2] == '{"id": "broken'
    with pytest.raises(json.JSONDecodeError):
        json.loads(payloads[-2])
    assert len(payloads) == 4


def test_malformed_fault_non_stream(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "malformed:0"}
    response = client.post("/chat/completions", json=chat("hi"), headers=headers)
    assert response.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        response.json()


def test_done_without_finish_fault(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "done-no-finish:3"}
    response = client.post("/chat/completions", json=chat(LONG, stream=True), headers=headers)
    chunks = sse_chunks(response.content)
    assert len(chunks) == 3
    assert all(c["choices"][0]["finish_reason"] is None and "usage" not in c for c in chunks)


@pytest.mark.parametrize(
    "reason", ["sensitive", "network_error", "length", "model_context_window_exceeded"]
)
def test_finish_faults(client: httpx.Client, reason: str) -> None:
    headers = {"X-PowerTokens-Fault": f"finish:{reason}"}
    full = client.post("/chat/completions", json=chat(LONG)).json()
    whole = client.post("/chat/completions", json=chat(LONG), headers=headers).json()
    streamed = client.post(
        "/chat/completions", json=chat(LONG, stream=True), headers=headers
    ).content
    chunks = sse_chunks(streamed)
    content = whole["choices"][0]["message"]["content"]
    assert whole["choices"][0]["finish_reason"] == reason
    assert chunks[-1]["choices"][0]["finish_reason"] == reason
    assert joined(chunks, "content") == content
    assert chunks[-1]["usage"] == whole["usage"]
    full_content = full["choices"][0]["message"]["content"]
    assert full_content.startswith(content)
    if reason == "sensitive":
        assert content == ""
    else:
        assert 0 < len(content) < len(full_content)


def test_usage_chunk_modifier(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "usage-chunk"}
    response = client.post(
        "/chat/completions", json=chat("echo: a b", stream=True), headers=headers
    )
    chunks = sse_chunks(response.content)
    final, extra = chunks[-2], chunks[-1]
    assert final["choices"][0]["finish_reason"] == "stop"
    assert extra["choices"] == []
    assert extra["usage"] == final["usage"]
    assert extra["object"] == "chat.completion.chunk"
    assert extra["id"] == final["id"]


def test_modifiers_combine_with_a_primary_fault(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "delay:10,pace:1,done-no-finish:1"}
    response = client.post("/chat/completions", json=chat(LONG, stream=True), headers=headers)
    assert len(sse_chunks(response.content)) == 1


# Where faults come from -----------------------------------------------------------------


def test_queue_is_fifo_and_consumed_per_request(client: httpx.Client, emu: Emulator) -> None:
    emu.push_fault("429:1302", times=2)
    emu.push_fault("500:1234")
    statuses = [client.post("/chat/completions", json=chat("hi")).status_code for _ in range(4)]
    assert statuses == [429, 429, 500, 200]
    assert [r.fault for r in emu.requests] == ["429:1302", "429:1302", "500:1234", None]
    assert emu.request_count == 4


def test_header_wins_over_queue(client: httpx.Client, emu: Emulator) -> None:
    emu.push_fault("500:1234")
    headers = {"X-PowerTokens-Fault": "429:1305"}
    assert client.post("/chat/completions", json=chat("hi"), headers=headers).status_code == 429
    assert client.post("/chat/completions", json=chat("hi")).status_code == 500


def test_marker_in_the_last_user_message(client: httpx.Client, emu: Emulator) -> None:
    body = chat("echo: [[fault:finish:length]]one two three four")
    whole = client.post("/chat/completions", json=body).json()
    assert whole["choices"][0]["finish_reason"] == "length"
    assert whole["choices"][0]["message"]["content"] == "one two"  # marker removed
    assert emu.requests[0].fault == "finish:length"
    assert "[[fault:" in emu.requests[0].json["messages"][0]["content"]  # logged as sent
    parts = {
        "model": "glm-5",
        "messages": [
            {"role": "user", "content": [{"type": "text", "text": "hi [[fault:429:1302]]"}]}
        ],
    }
    assert client.post("/chat/completions", json=parts).status_code == 429


def test_queue_wins_over_marker(client: httpx.Client, emu: Emulator) -> None:
    emu.push_fault("500:1234")
    body = chat("hi [[fault:429:1302]]")
    assert client.post("/chat/completions", json=body).status_code == 500
    assert client.post("/chat/completions", json=body).status_code == 429


@pytest.mark.parametrize(
    "spec",
    [
        "nonsense",
        "429",
        "429:abc",
        "quota:1302",
        "html:200",
        "cut:x",
        "stall:1:soon",
        "finish:bored",
        "cut:1,cut:2",
        "delay:",
        "429:1302:retry-after=soon",
        "429:1312:lang=fr",
        "quota:1310:lang=",
        "stream-error:1305:2",
    ],
)
def test_unknown_specs_are_rejected(client: httpx.Client, emu: Emulator, spec: str) -> None:
    with pytest.raises(FaultSpecError):
        emu.push_fault(spec)
    response = client.post(
        "/chat/completions", json=chat("hi"), headers={"X-PowerTokens-Fault": spec}
    )
    assert response.status_code == 400
    error = _error(response)
    assert error["code"] == "invalid_fault_spec"
    assert "Unknown fault spec" in error["message"]


def test_fault_applies_to_a_stream_before_the_ping(client: httpx.Client) -> None:
    headers = {"X-PowerTokens-Fault": "429:1302"}
    response = client.post("/chat/completions", json=chat("hi", stream=True), headers=headers)
    assert response.status_code == 429
    assert not response.content.startswith(PING)


def test_model_scoped_queued_fault_waits_for_its_model(emu: Emulator, client: httpx.Client) -> None:
    emu.push_fault("429:1312,model=glm-5", times=2)
    other = client.post("/chat/completions", json=chat("hi", model="glm-4.7"))
    assert other.status_code == 200  # not for this model: the queue is left alone
    for _ in range(2):
        hit = client.post("/chat/completions", json=chat("hi", model="glm-5"))
        assert hit.status_code == 429
        assert _error(hit)["code"] == "1312"
    assert client.post("/chat/completions", json=chat("hi", model="glm-5")).status_code == 200


@pytest.mark.parametrize("where", ["header", "marker"])
def test_model_scoped_header_and_marker_faults(client: httpx.Client, where: str) -> None:
    spec = "429:1312,model=glm-5"
    for model, status in [("glm-5", 429), ("glm-4.7", 200)]:
        if where == "header":
            body, headers = chat("hi", model=model), {"X-PowerTokens-Fault": spec}
        else:
            body, headers = chat(f"hi [[fault:{spec}]]", model=model), {}
        response = client.post("/chat/completions", json=body, headers=headers)
        assert response.status_code == status, model


@pytest.mark.parametrize("spec", ["429:1312,model=", "429:1312,model=a b", "model=x=y"])
def test_model_scope_must_name_a_model(emu: Emulator, spec: str) -> None:
    with pytest.raises(FaultSpecError):
        emu.push_fault(spec)
