"""linkedin/client.py: per-element results, error parsing and the headers/bodies of every call (fake session)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import requests

from audience_sync.destinations.linkedin.client import (
    RESTLI_PROTOCOL,
    VERSION_SUNSET,
    ElementResult,
    LinkedInClient,
    error_from,
    parse_element_results,
)
from audience_sync.destinations.linkedin.elements import ENCODE_SLICE, encode_users_body
from audience_sync.destinations.linkedin.errors import LinkedInError
from tests.fakes.http_fakes import FakeSession, response

VERSION = "202609"
TOKEN = "tok-abc"


def client(*answers: requests.Response | Exception) -> tuple[LinkedInClient, FakeSession]:
    session = FakeSession(*answers)
    return LinkedInClient("https://api.example.test/rest/", VERSION, session=session), session


def assert_common_headers(call: dict[str, Any]) -> None:
    headers = call["headers"]
    assert headers["Authorization"] == f"Bearer {TOKEN}"
    assert headers["LinkedIn-Version"] == VERSION
    assert headers["X-Restli-Protocol-Version"] == RESTLI_PROTOCOL == "2.0.0"


# ---- parse_element_results ------------------------------------------------------------------
def test_per_element_statuses_in_order_with_error_details() -> None:
    body = {
        "elements": [
            {"status": 201},
            {"status": 400, "error": {"code": "INVALID_ID", "message": "bad hash"}},
            {"status": 429},
            {"status": 422, "error": {"serviceErrorCode": 100, "message": "nope"}},
        ]
    }
    assert parse_element_results(response(200, body), 4) == [
        ElementResult(201),
        ElementResult(400, "INVALID_ID", "bad hash"),
        ElementResult(429),
        ElementResult(422, "100", "nope"),
    ]


def test_missing_results_are_500_missing_result() -> None:
    results = parse_element_results(response(200, {"elements": [{"status": 201}]}), 3)
    assert results[0] == ElementResult(201)
    assert results[1:] == [ElementResult(500, "missing_result", "no result for this element")] * 2


def test_extra_results_are_ignored() -> None:
    body = {"elements": [{"status": 201}, {"status": 400}, {"status": 201}]}
    assert [r.status for r in parse_element_results(response(200, body), 2)] == [201, 400]


@pytest.mark.parametrize("body", [{}, {"other": 1}, b"", b"not json", None, b"null", b"[]", {"elements": None}])
def test_2xx_without_elements_means_all_201(body: Any) -> None:
    assert parse_element_results(response(200, body), 3) == [ElementResult(201)] * 3


# ---- error_from --------------------------------------------------------------------------------
def test_error_from_linkedin_envelope() -> None:
    exc = error_from(
        response(
            401,
            {
                "status": 401,
                "serviceErrorCode": 65600,
                "code": "INVALID_ACCESS_TOKEN",
                "message": "Invalid access token",
            },
        )
    )
    assert (exc.status, exc.code, exc.message) == (401, "INVALID_ACCESS_TOKEN", "Invalid access token")


def test_error_from_service_error_code_only_and_non_json() -> None:
    exc = error_from(response(403, {"serviceErrorCode": 100, "message": "Not enough permissions"}))
    assert (exc.code, exc.message) == ("100", "Not enough permissions")
    plain = error_from(response(503, b"<html>down</html>", reason="Service Unavailable"))
    assert (plain.status, plain.code, plain.message) == (503, "error", "Service Unavailable")
    long = error_from(response(400, {"message": "x" * 1000}))
    assert len(long.message) == 300


# ---- encode_users_body ----------------------------------------------------------------------
def test_encode_users_body_is_compact_json() -> None:
    elements: list[dict[str, object]] = [{"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": "ab"}]}]
    body = encode_users_body(elements)
    assert body == b'{"elements":[{"action":"ADD","userIds":[{"idType":"SHA256_EMAIL","idValue":"ab"}]}]}'
    assert json.loads(body) == {"elements": elements}


@pytest.mark.parametrize("count", [0, 1, ENCODE_SLICE - 1, ENCODE_SLICE, ENCODE_SLICE + 1, 5_000])
def test_encode_users_body_in_slices_is_one_dumps(count: int) -> None:
    elements: list[dict[str, object]] = [
        {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": f"{n:064x}"}], "firstName": "Ána"}
        for n in range(count)
    ]
    expected = json.dumps({"elements": elements}, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    assert encode_users_body(elements) == expected
    assert encode_users_body(tuple(elements)) == expected


# ---- LinkedInClient -----------------------------------------------------------------------------
def test_send_users_headers_url_and_results() -> None:
    li, session = client(response(200, {"elements": [{"status": 201}, {"status": 400}]}))
    body = encode_users_body([{"action": "ADD", "userIds": []}] * 2)
    results = li.send_users(TOKEN, "123", body, 2)
    assert [r.status for r in results] == [201, 400]
    (call,) = session.calls
    assert call["method"] == "POST"
    assert call["url"] == "https://api.example.test/rest/dmpSegments/123/users"
    assert call["data"] == body
    assert_common_headers(call)
    assert call["headers"]["X-RestLi-Method"] == "BATCH_CREATE"
    assert call["timeout"] == li.timeout


def test_send_users_top_level_error_raises() -> None:
    li, _ = client(response(429, {"status": 429, "message": "throttled"}))
    with pytest.raises(LinkedInError) as info:
        li.send_users(TOKEN, "123", b"{}", 1)
    assert info.value.status == 429


def emf_blobs(out: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in out.splitlines() if line.startswith("{") and "_aws" in line]


@pytest.mark.parametrize("call", ["send_users", "get_segment", "ad_account_users"])
def test_a_426_on_any_request_publishes_the_sunset_metric(call: str, capsys: pytest.CaptureFixture[str]) -> None:
    li, _ = client(response(426, {"code": "VERSION_MISSING", "message": "sunset"}))
    capsys.readouterr()
    calls = {
        "send_users": lambda: li.send_users(TOKEN, "123", b"{}", 1),
        "get_segment": lambda: li.get_segment(TOKEN, "123"),
        "ad_account_users": lambda: li.ad_account_users(TOKEN),
    }
    with pytest.raises(LinkedInError) as info:
        calls[call]()
    assert info.value.status == 426
    assert [b.get(VERSION_SUNSET) for b in emf_blobs(capsys.readouterr().out)] == [[1.0]]


@pytest.mark.parametrize("status", [400, 429, 500])
def test_other_failures_publish_no_sunset_metric(status: int, capsys: pytest.CaptureFixture[str]) -> None:
    li, _ = client(response(status, {"message": "no"}))
    capsys.readouterr()
    with pytest.raises(LinkedInError):
        li.send_users(TOKEN, "123", b"{}", 1)
    assert not [b for b in emf_blobs(capsys.readouterr().out) if VERSION_SUNSET in b]


def test_create_segment_body_and_headers() -> None:
    li, session = client(response(201, headers={"x-restli-id": "987"}))
    assert li.create_segment(TOKEN, "507", "Churned", "", "step-1") == "987"
    (call,) = session.calls
    assert call["method"] == "POST"
    assert call["url"].endswith("/rest/dmpSegments")
    assert_common_headers(call)
    assert "X-RestLi-Method" not in call["headers"]
    payload = json.loads(call["data"])
    assert payload == {
        "name": "Churned",
        "account": "urn:li:sponsoredAccount:507",
        "type": "USER",
        "sourceSegmentId": "step-1",
        "destinations": [{"destination": "LINKEDIN"}],
    }


def test_create_segment_with_source_platform() -> None:
    li, session = client(response(201, headers={"x-restli-id": "1"}))
    li.create_segment(TOKEN, "507", "A", "ACME", "s")
    assert json.loads(session.calls[0]["data"])["sourcePlatform"] == "ACME"


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"X-RestLi-Id": "11", "x-linkedin-id": "22", "Location": "/dmpSegments/33"}, "11"),
        ({"x-linkedin-id": "22", "Location": "/dmpSegments/33"}, "22"),
        ({"Location": "https://api.example.test/rest/dmpSegments/33/"}, "33"),
    ],
)
def test_create_segment_id_header_fallbacks(headers: dict[str, str], expected: str) -> None:
    li, _ = client(response(201, headers=headers))
    assert li.create_segment(TOKEN, "507", "A", "", "s") == expected


def test_create_segment_without_id_raises() -> None:
    li, _ = client(response(201))
    with pytest.raises(LinkedInError, match="missing_segment_id"):
        li.create_segment(TOKEN, "507", "A", "", "s")


def test_get_calls_carry_the_headers() -> None:
    li, session = client(
        response(200, {"id": 5}),
        response(200, {"name": "Acme"}),
        response(200, {"elements": [{"account": "urn:li:sponsoredAccount:1", "role": "VIEWER"}]}),
    )
    assert li.get_segment(TOKEN, "5") == {"id": 5}
    assert li.ad_account(TOKEN, "1") == {"name": "Acme"}
    assert li.ad_account_users(TOKEN) == [{"account": "urn:li:sponsoredAccount:1", "role": "VIEWER"}]
    assert [c["method"] for c in session.calls] == ["GET"] * 3
    for call in session.calls:
        assert_common_headers(call)
        assert "X-RestLi-Method" not in call["headers"]
    assert session.calls[2]["params"]["q"] == "authenticatedUser"


@pytest.mark.parametrize(
    ("exc", "code"),
    [
        (requests.ReadTimeout("slow"), "timeout"),
        (requests.ConnectTimeout("slow"), "timeout"),
        (requests.ConnectionError("refused"), "connection_error"),
    ],
)
def test_timeouts_and_connection_errors_are_status_0(exc: Exception, code: str) -> None:
    li, _ = client(exc)
    with pytest.raises(LinkedInError) as info:
        li.send_users(TOKEN, "1", b"{}", 1)
    assert info.value.status == 0
    assert info.value.code == code
    assert info.value.reason == f"linkedin_{code}"


@pytest.mark.parametrize("body", [b"<html>502 Bad Gateway</html>", b"", [{"id": 5}], "READY", 5])
def test_a_segment_answer_that_is_not_a_json_object_is_a_malformed_response(body: Any) -> None:
    li, _ = client(response(200, body, {"x-li-uuid": "abc"}))
    with pytest.raises(LinkedInError) as info:
        li.get_segment(TOKEN, "5")
    assert (info.value.status, info.value.reason) == (0, "linkedin_malformed_response")
    assert info.value.request_id == "abc"
