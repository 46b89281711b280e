"""The Braze-compatible API's edge: a strict JSON reader and Braze's error envelope."""

from __future__ import annotations

import pytest

from audience_sync.core.errors import (
    Forbidden,
    Invalid,
    NotFound,
    StoreUnavailable,
    TooManyRequests,
    Unauthorized,
)
from audience_sync.http import braze


@pytest.mark.parametrize(
    "body",
    [
        None,
        "",
        "not json",
        "[1]",
        '"text"',
        '{"a": 1, "a": 2}',
        '{"x": {"b": 1, "b": 1}}',
        '{"n": NaN}',
        '{"n": 1e999999}',
        "[" * 100_000,
        '{"a": "\\ud800"}',  # a lone surrogate: no UTF-8 text holds it
        '{"\\udc00": 1}',
    ],
)
def test_anything_but_one_json_object_without_repeated_keys_is_invalid(body: str | None) -> None:
    with pytest.raises(Invalid):
        braze.json_object(body)


def test_a_json_object_is_read() -> None:
    assert braze.json_object('{"attributes": [{"external_id": "u"}]}') == {"attributes": [{"external_id": "u"}]}
    assert braze.json_object('{"a": "\\ud83d\\ude00", "b": "\\\\ud800"}') == {"a": "\U0001f600", "b": "\\ud800"}


@pytest.mark.parametrize(
    ("error", "status"),
    [
        (Invalid("x", "m"), 400),
        (Unauthorized("x", "m"), 401),
        (Forbidden("x", "m"), 403),
        (NotFound("route"), 404),
        (TooManyRequests("x", "m", 7), 429),
        (StoreUnavailable("op", "Throttling"), 503),
    ],
)
def test_errors_are_in_brazes_envelope_with_their_status(error: Exception, status: int) -> None:
    response = braze.error_response(error, {"X-RateLimit-Limit": "1"})  # type: ignore[arg-type]
    assert response.status_code == status
    assert set(__import__("json").loads(response.body)) == {"message", "errors"}
    assert response.headers["X-RateLimit-Limit"] == "1"
    assert ("Retry-After" in response.headers) == (status == 429)
