"""Error mapping and the retry policy, as tables (docs/wire.md, "Errors" and "Retries")."""

from __future__ import annotations

import email.utils
import pickle
import time

import pytest

from powertokens import (
    APIConnectionError,
    APIStatusError,
    APITimeoutError,
    AuthenticationError,
    BadRequestError,
    ConflictError,
    ContentFilterError,
    ContextOverflowError,
    FairUseThrottleError,
    InternalServerError,
    ModelOverloadedError,
    NotFoundError,
    PermissionDeniedError,
    QuotaExceededError,
    RateLimitError,
    RetryPolicy,
    StreamInterruptedError,
)
from powertokens._error_map import make_status_error


def gateway_body(
    code: str, message: str = "boom", etype: str = "upstream_error"
) -> dict[str, object]:
    return {
        "error": {
            "message": f"{message} (request id: 20261126-abc)",
            "type": etype,
            "param": "",
            "code": code,
        }
    }


# status, business code, expected class, retried?
TABLE = [
    (401, "1000", AuthenticationError, False),
    (401, "1002", AuthenticationError, False),
    (403, "1110", PermissionDeniedError, False),
    (403, "1120", PermissionDeniedError, False),  # 403 is never retried
    (429, "1113", QuotaExceededError, False),
    (400, "1210", BadRequestError, False),
    (400, "1214", BadRequestError, False),
    (400, "1211", NotFoundError, False),
    (500, "1230", InternalServerError, True),
    (503, "1234", InternalServerError, True),
    (400, "1261", ContextOverflowError, False),
    (400, "1300", ContentFilterError, False),
    (400, "1301", ContentFilterError, False),
    (429, "1302", RateLimitError, True),
    (429, "1303", RateLimitError, True),
    (429, "1304", QuotaExceededError, False),
    (429, "1305", RateLimitError, True),
    (200, "1305", RateLimitError, True),  # in-stream overload
    (429, "1308", QuotaExceededError, False),
    (429, "1309", QuotaExceededError, False),
    (403, "1309", QuotaExceededError, False),
    (429, "1310", QuotaExceededError, False),
    (429, "1311", PermissionDeniedError, False),  # the plan lacks the model, even as a 429
    (403, "1311", PermissionDeniedError, False),
    (429, "1312", ModelOverloadedError, True),  # this model overloaded: retried, same model
    (200, "1312", ModelOverloadedError, True),  # ... also as a first in-stream event
    (500, "1312", ModelOverloadedError, True),
    (429, "1313", FairUseThrottleError, False),  # fair-use throttle on the account
    (429, "1314", QuotaExceededError, False),  # other plan/quota conditions
    (429, "1321", QuotaExceededError, False),
    (409, "1231", ConflictError, False),  # a request with this id is running: never retried
    (400, "1231", ConflictError, False),
    (500, "1231", ConflictError, False),
    (503, "model_not_found", NotFoundError, False),
    (429, "rate_limit_exceeded", RateLimitError, True),
    (500, "1214", BadRequestError, False),  # a gateway that says 500 for a client error
    (500, "1261", ContextOverflowError, False),
    (502, None, InternalServerError, True),
    (503, None, InternalServerError, True),
    (408, None, APIStatusError, True),
    (409, None, APIStatusError, True),
    (429, None, RateLimitError, True),
    (404, None, NotFoundError, False),
    (422, None, BadRequestError, False),
    (418, None, APIStatusError, False),
    (200, "9999", APIStatusError, False),  # unknown in-stream error: not retried
]


@pytest.mark.parametrize(("status", "code", "cls", "retried"), TABLE)
def test_status_and_code_decide_class_and_retry(
    status: int, code: str | None, cls: type[APIStatusError], retried: bool
) -> None:
    body = gateway_body(code) if code else None
    error = make_status_error(status, body, {})
    assert type(error) is cls
    assert error.code == code
    assert error.status_code == status
    delay = RetryPolicy(max_retries=2).next_delay(error, 0, rand=lambda: 0.0)
    assert (delay is not None) is retried


@pytest.mark.parametrize(
    ("status", "code"), [(429, "1311"), (429, "1312"), (429, "1313"), (409, "1231"), (429, "1310")]
)
def test_is_retryable_agrees_with_the_policy_for_plan_codes(status: int, code: str) -> None:
    error = make_status_error(status, gateway_body(code), {})
    delay = RetryPolicy(max_retries=2).next_delay(error, 0, rand=lambda: 0.0)
    assert error.is_retryable is (delay is not None)


@pytest.mark.parametrize(
    ("message", "model"),
    [
        (
            "This model is currently overloaded, please try again later, or switch to another "
            "model such as glm-4.7",
            "glm-4.7",
        ),
        (
            "The model is busy. Try later or switch to other models such as glm-4.5-air.",
            "glm-4.5-air",
        ),
        ("Overloaded; try another model, e.g. GLM-4.7-Flash", "GLM-4.7-Flash"),
        ('Overloaded, for example "glm-4.7"', "glm-4.7"),
        ("该模型当前访问量过大，请您稍后再试，或切换其他模型如 glm-4.7 等", "glm-4.7"),
        ("该模型当前访问量过大,请您稍后再试,或切换其他模型如glm-4.5-air等", "glm-4.5-air"),
        ("该模型当前访问量过大，请您稍后再试，或切换其他模型如 glm-4.7、glm-4.5-air 等", "glm-4.7"),
        ("This model is overloaded, please try again later or switch to another model", None),
        ("该模型当前访问量过大，请您稍后再试，或切换其他模型如 ${model_name} 等", None),  # unfilled
        ("", None),
    ],
)
def test_overloaded_model_names_the_suggested_alternative(message: str, model: str | None) -> None:
    error = make_status_error(429, gateway_body("1312", message), {})
    assert isinstance(error, ModelOverloadedError)
    assert isinstance(error, RateLimitError)  # caught as a rate limit, as before
    assert error.suggested_model == model
    assert error.is_retryable


def test_suggested_model_survives_pickling() -> None:
    error = make_status_error(429, gateway_body("1312", "busy, switch to e.g. glm-4.7"), {})
    copy = pickle.loads(pickle.dumps(error))
    assert type(copy) is ModelOverloadedError
    assert copy.suggested_model == "glm-4.7"
    assert copy.request_id == "20261126-abc"


def test_request_id_is_taken_from_the_message_and_kept() -> None:
    error = make_status_error(429, gateway_body("1302", "High concurrency"), {})
    assert error.request_id == "20261126-abc"
    assert error.message == "High concurrency"
    assert "request id: 20261126-abc" in str(error)
    assert "code 1302" in str(error)


def test_header_request_id_wins() -> None:
    error = make_status_error(400, gateway_body("1214"), {}, request_id="from-header")
    assert error.request_id == "from-header"


def test_upstream_body_with_numeric_code() -> None:
    error = make_status_error(200, {"error": {"code": 1305, "message": "overloaded"}}, {})
    assert isinstance(error, RateLimitError)
    assert error.code == "1305"


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("<html><body><h1>502 Bad Gateway</h1></body></html>", "<html><body><h1>502 Bad Gateway"),
        (None, "HTTP 502 with no error message"),
        ("", "HTTP 502 with no error message"),
    ],
)
def test_html_and_empty_5xx_bodies(body: str | None, expected: str) -> None:
    error = make_status_error(502, body, {})
    assert isinstance(error, InternalServerError)
    assert expected in error.message


@pytest.mark.parametrize(
    ("code", "message", "resets_at"),
    [
        (
            "1310",
            "Weekly/Monthly Limit Exhausted. Your limit will reset at 2026-03-06 22:19:54",
            "2026-03-06 22:19:54",
        ),
        (
            "1310",
            "您已达到每周/每月使用上限，您的限额将在 2026-03-06 22:19:54 重置",
            "2026-03-06 22:19:54",
        ),
        (
            "1308",
            "已达到 5 小时的使用上限。您的限额将在 2026-11-26 18:00:00 重置",
            "2026-11-26 18:00:00",
        ),
        (
            "1310",
            "Limit exhausted. Resets at 2026-03-06T22:19:54+08:00.",
            "2026-03-06T22:19:54+08:00",
        ),
        ("1310", "Limit exhausted; it will reset at 2026-03-06 22:19", "2026-03-06 22:19"),
        ("1310", "Weekly/Monthly Limit Exhausted.", None),
    ],
)
def test_quota_reset_time_formats(code: str, message: str, resets_at: str | None) -> None:
    error = make_status_error(429, gateway_body(code, message), {})
    assert isinstance(error, QuotaExceededError)
    assert error.resets_at == resets_at
    assert not error.is_retryable


def test_quota_reset_time_is_parsed() -> None:
    error = make_status_error(
        429,
        gateway_body(
            "1308", "Usage limit reached for 5 hour. Your limit will reset at 2026-11-26 18:00:00"
        ),
        {},
    )
    assert isinstance(error, QuotaExceededError)
    assert error.resets_at == "2026-11-26 18:00:00"
    assert not error.is_retryable


# --- delays ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("retries_done", "rand", "expected"),
    [
        (0, 0.0, 0.5),
        (1, 0.0, 1.0),
        (2, 0.0, 2.0),
        (4, 0.0, 8.0),
        (10, 0.0, 8.0),
        (0, 1.0, 0.375),  # 25 % jitter at most
        (4, 1.0, 6.0),
    ],
)
def test_backoff(retries_done: int, rand: float, expected: float) -> None:
    assert RetryPolicy().backoff(retries_done, lambda: rand) == pytest.approx(expected)


def rate_limited(headers: dict[str, str]) -> APIStatusError:
    return make_status_error(429, gateway_body("1302"), headers)


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"retry-after": "2"}, 2.0),
        ({"Retry-After": "1.5"}, 1.5),
        ({"retry-after-ms": "150"}, 0.15),
        ({"retry-after-ms": "150", "retry-after": "9"}, 0.15),
        ({"retry-after": "60"}, 60.0),
        ({"retry-after": "61"}, None),  # longer than we wait: raise with retry_after set
        ({"retry-after": "0"}, 0.5),  # not positive: our own backoff
        ({"retry-after": "soon"}, 0.5),
    ],
)
def test_server_delay_wins_within_bounds(headers: dict[str, str], expected: float | None) -> None:
    delay = RetryPolicy().next_delay(rate_limited(headers), 0, rand=lambda: 0.0)
    assert delay == (pytest.approx(expected) if expected is not None else None)


def test_http_date_retry_after() -> None:
    when = email.utils.formatdate(time.time() + 5, usegmt=True)
    error = rate_limited({"retry-after": when})
    assert isinstance(error, RateLimitError)
    assert error.retry_after is not None
    assert 3.0 < error.retry_after <= 5.0
    delay = RetryPolicy().next_delay(error, 0)
    assert delay is not None
    assert 3.0 < delay <= 5.0


def test_retry_after_is_exposed_on_the_error() -> None:
    error = rate_limited({"retry-after": "120"})
    assert isinstance(error, RateLimitError)
    assert error.retry_after == 120.0


@pytest.mark.parametrize("max_retries", [0, 1, 2, 5])
def test_max_retries_is_exact(max_retries: int) -> None:
    policy = RetryPolicy(max_retries=max_retries)
    error = APIConnectionError("refused")
    attempts = 1
    while policy.next_delay(error, attempts - 1) is not None:
        attempts += 1
    assert attempts == max_retries + 1


@pytest.mark.parametrize(
    ("error", "retried"),
    [
        (APIConnectionError("refused"), True),
        (APITimeoutError("timed out"), True),
        (StreamInterruptedError("cut before any output"), True),
    ],
)
def test_transport_errors_are_retried(error: Exception, retried: bool) -> None:
    assert (RetryPolicy().next_delay(error, 0) is not None) is retried  # type: ignore[arg-type]


def test_negative_max_retries_is_refused() -> None:
    with pytest.raises(ValueError, match="max_retries"):
        RetryPolicy(max_retries=-1)
