"""Unit tests of the built-in LinkedIn sandbox, driven through werkzeug's test client with a fake clock."""

from __future__ import annotations

import hashlib
import json
import random
import threading
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from werkzeug.middleware.dispatcher import DispatcherMiddleware
from werkzeug.test import Client, TestResponse
from werkzeug.wrappers import Response

from localmode.sandbox import LinkedInSandbox, SandboxConfig

CLIENT_ID = "sandbox-client-id"
CLIENT_SECRET = "sandbox-client-secret"
REDIRECT = "https://app.example.test/oauth/callback"
SCOPE = "rw_dmp_segments r_ads"
ACCOUNT = "urn:li:sponsoredAccount:507000001"
VIEWER_ACCOUNT = "urn:li:sponsoredAccount:507000002"
T0 = 1_790_000_000.0
DAY = 86400.0


class FakeClock:
    def __init__(self, t: float = T0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t

    def advance(self, seconds: float) -> None:
        self.t += seconds


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def add(email: str, **extra: Any) -> dict[str, Any]:
    return {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256(email)}], **extra}


def remove(email: str) -> dict[str, Any]:
    return {"action": "REMOVE", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256(email)}]}


@dataclass
class Harness:
    app: LinkedInSandbox
    clock: FakeClock
    client: Client
    token: str = ""
    grant: dict[str, Any] = field(default_factory=dict)

    def authorize(self, **params: str) -> TestResponse:
        query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "scope": SCOPE}
        query.update(params)
        return self.client.get("/oauth/v2/authorization", query_string=query)

    def code(self, **params: str) -> str:
        response = self.authorize(**params)
        assert response.status_code == 302, response.get_data(as_text=True)
        return parse_qs(urlsplit(response.headers["Location"]).query)["code"][0]

    def token_request(self, **form: str) -> TestResponse:
        return self.client.post("/oauth/v2/accessToken", data=form)

    def exchange(self, code: str, **overrides: str) -> TestResponse:
        form = {
            "grant_type": "authorization_code",
            "code": code,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
            "redirect_uri": REDIRECT,
        }
        form.update(overrides)
        return self.token_request(**form)

    def refresh(self, refresh_token: str, **overrides: str) -> TestResponse:
        form = {
            "grant_type": "refresh_token",
            "refresh_token": refresh_token,
            "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET,
        }
        form.update(overrides)
        return self.token_request(**form)

    def login(self) -> str:
        response = self.exchange(self.code())
        assert response.status_code == 200, response.get_data(as_text=True)
        self.grant = response.json
        self.token = self.grant["access_token"]
        return self.token

    def headers(self, token: str | None = None, **extra: str) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {token or self.token}",
            "LinkedIn-Version": "202601",
            "X-Restli-Protocol-Version": "2.0.0",
        }
        headers.update({k.replace("_", "-"): v for k, v in extra.items()})
        return headers

    def rest(
        self,
        method: str,
        path: str,
        *,
        json_body: Any = None,
        headers: dict[str, str] | None = None,
        drop: tuple[str, ...] = (),
    ) -> TestResponse:
        sent = headers if headers is not None else self.headers()
        sent = {k: v for k, v in sent.items() if k not in drop}
        return self.client.open(path, method=method, headers=sent, json=json_body)

    def create_segment(self, account: str = ACCOUNT, **body: Any) -> int:
        payload = {
            "name": "Trial users",
            "account": account,
            "type": "USER",
            "sourcePlatform": "SANDBOX",
            "destinations": [{"destination": "LINKEDIN"}],
            **body,
        }
        response = self.rest("POST", "/rest/dmpSegments", json_body=payload)
        assert response.status_code == 201, response.get_data(as_text=True)
        return int(response.headers["x-restli-id"])

    def ready_segment(self, **body: Any) -> int:
        segment_id = self.create_segment(**body)
        self.clock.advance(self.app.config.propagation_delay_seconds)
        return segment_id

    def users(self, segment_id: int, elements: Any, token: str | None = None, **headers: str) -> TestResponse:
        sent = self.headers(token, **{"X-RestLi-Method": "BATCH_CREATE", **headers})
        body = elements if isinstance(elements, dict) else {"elements": elements}
        return self.rest("POST", f"/rest/dmpSegments/{segment_id}/users", json_body=body, headers=sent)

    def segment(self, segment_id: int) -> dict[str, Any]:
        response = self.rest("GET", f"/rest/dmpSegments/{segment_id}")
        assert response.status_code == 200, response.get_data(as_text=True)
        return response.json

    def members(self, segment_id: int) -> list[dict[str, Any]]:
        return self.client.get(f"/_sandbox/segments/{segment_id}/members").json["members"]


@pytest.fixture
def h() -> Harness:
    clock = FakeClock()
    app = LinkedInSandbox(SandboxConfig(), clock=clock, rng=random.Random(7))
    harness = Harness(app, clock, Client(app))
    harness.login()
    return harness


# --- OAuth -----------------------------------------------------------------------------------------------


def test_authorize_redirects_at_once_with_code_and_state(h: Harness) -> None:
    response = h.authorize(state="xyz-123", redirect_uri=REDIRECT + "?tenant=acme")
    assert response.status_code == 302
    location = urlsplit(response.headers["Location"])
    assert (location.scheme, location.netloc, location.path) == ("https", "app.example.test", "/oauth/callback")
    query = parse_qs(location.query)
    assert query["tenant"] == ["acme"]
    assert query["state"] == ["xyz-123"]
    assert len(query["code"][0]) >= 20


def test_authorize_omits_state_when_none_given(h: Harness) -> None:
    query = parse_qs(urlsplit(h.authorize().headers["Location"]).query)
    assert set(query) == {"code"}


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"client_id": "someone-else"}, "unauthorized_client"),
        ({"client_id": ""}, "invalid_request"),
        ({"response_type": "token"}, "invalid_request"),
        ({"redirect_uri": ""}, "invalid_request"),
        ({"redirect_uri": "/relative/callback"}, "invalid_request"),
        ({"redirect_uri": "ftp://example.test/cb"}, "invalid_request"),
        ({"scope": ""}, "invalid_request"),
        ({"scope": "rw_dmp_segments,r_ads"}, "invalid_request"),
    ],
)
def test_authorize_rejects_bad_parameters(h: Harness, params: dict[str, str], error: str) -> None:
    response = h.authorize(**params)
    assert response.status_code == 400
    assert response.json["error"] == error
    assert response.json["error_description"]
    assert "Location" not in response.headers


def test_oauth_round_trip_and_refresh_keeps_original_expiry(h: Harness) -> None:
    response = h.exchange(h.code())
    assert response.status_code == 200
    grant = response.json
    assert set(grant) == {"access_token", "expires_in", "refresh_token", "refresh_token_expires_in", "scope"}
    assert grant["expires_in"] == 5184000
    assert grant["refresh_token_expires_in"] == 31536000
    assert grant["scope"] == "rw_dmp_segments,r_ads"
    assert len(grant["access_token"]) >= 100
    assert len(grant["refresh_token"]) >= 100
    assert response.headers["Cache-Control"] == "no-store"
    assert (
        h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", headers=h.headers(grant["access_token"])).status_code
        == 200
    )

    h.clock.advance(59 * DAY)
    refreshed = h.refresh(grant["refresh_token"])
    assert refreshed.status_code == 200
    body = refreshed.json
    assert body["access_token"] != grant["access_token"]
    assert body["expires_in"] == 5184000
    assert body["refresh_token"] == grant["refresh_token"]
    assert body["refresh_token_expires_in"] == 31536000 - 59 * 86400
    assert (
        h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", headers=h.headers(body["access_token"])).status_code
        == 200
    )

    h.clock.advance(307 * DAY)  # past 365 days from the first grant
    expired = h.refresh(grant["refresh_token"])
    assert expired.status_code == 400
    assert expired.json["error"] == "invalid_grant"


def test_code_is_single_use(h: Harness) -> None:
    code = h.code()
    assert h.exchange(code).status_code == 200
    again = h.exchange(code)
    assert again.status_code == 400
    assert again.json["error"] == "invalid_grant"
    assert again.json["error_description"]


def test_code_expires_after_30_minutes(h: Harness) -> None:
    code = h.code()
    h.clock.advance(30 * 60)
    response = h.exchange(code)
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"


def test_code_is_bound_to_redirect_uri(h: Harness) -> None:
    code = h.code()
    assert h.exchange(code, redirect_uri="https://evil.example.test/cb").json["error"] == "invalid_grant"
    assert h.exchange(code).status_code == 200  # a mismatch does not burn the code


@pytest.mark.parametrize("overrides", [{"client_secret": "wrong"}, {"client_id": "other-client"}])
def test_bad_client_credentials_are_401(h: Harness, overrides: dict[str, str]) -> None:
    code = h.code()
    response = h.exchange(code, **overrides)
    assert response.status_code == 401
    assert response.json["error"] == "invalid_client"
    assert h.refresh(h.grant["refresh_token"], **overrides).status_code == 401


def test_unknown_refresh_token_and_grant_type(h: Harness) -> None:
    response = h.refresh("not-a-refresh-token")
    assert response.status_code == 400
    assert response.json["error"] == "invalid_grant"
    response = h.token_request(grant_type="client_credentials", client_id=CLIENT_ID, client_secret=CLIENT_SECRET)
    assert response.status_code == 400
    assert response.json["error"] == "unsupported_grant_type"


def test_introspection_reports_token_status(h: Harness) -> None:
    form = {"client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "token": h.token}
    body = h.client.post("/oauth/v2/introspectToken", data=form).json
    assert body["active"] is True
    assert body["status"] == "active"
    assert body["scope"] == "rw_dmp_segments,r_ads"
    h.client.post("/_sandbox/tokens/expire")
    assert h.client.post("/oauth/v2/introspectToken", data=form).json["status"] == "expired"
    form["token"] = "nope"
    assert h.client.post("/oauth/v2/introspectToken", data=form).json == {"active": False}


# --- REST header checks ------------------------------------------------------------------------------------

INVALID_TOKEN = {
    "status": 401,
    "serviceErrorCode": 65600,
    "code": "INVALID_ACCESS_TOKEN",
    "message": "Invalid access token",
}


@pytest.mark.parametrize("authorization", [None, "Bearer", "Bearer not-a-token", "Basic abc", "token-only"])
def test_missing_or_unknown_token_is_65600(h: Harness, authorization: str | None) -> None:
    headers = h.headers()
    if authorization is None:
        del headers["Authorization"]
    else:
        headers["Authorization"] = authorization
    response = h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", headers=headers)
    assert response.status_code == 401
    assert response.json == INVALID_TOKEN


def test_revoked_token_body_and_refresh_no_longer_works(h: Harness) -> None:
    assert h.client.post("/_sandbox/tokens/revoke").json == {"revoked": 1}
    response = h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser")
    assert response.status_code == 401
    assert response.json == {
        "status": 401,
        "serviceErrorCode": 65601,
        "code": "REVOKED_ACCESS_TOKEN",
        "message": "The token used in the request has been revoked by the user",
    }
    assert h.refresh(h.grant["refresh_token"]).json["error"] == "invalid_grant"


def test_expired_token_body_and_refresh_recovers(h: Harness) -> None:
    assert h.client.post("/_sandbox/tokens/expire").json == {"expired": 1}
    response = h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser")
    assert response.status_code == 401
    assert response.json == {
        "status": 401,
        "serviceErrorCode": 65602,
        "code": "EXPIRED_ACCESS_TOKEN",
        "message": "Expired access token",
    }
    fresh = h.refresh(h.grant["refresh_token"]).json["access_token"]
    assert h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", headers=h.headers(fresh)).status_code == 200


def test_token_expires_with_the_clock(h: Harness) -> None:
    h.clock.advance(5184000 - 1)
    assert h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser").status_code == 200
    h.clock.advance(1)
    assert h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser").json["code"] == "EXPIRED_ACCESS_TOKEN"


def test_missing_version_is_400_version_missing(h: Harness) -> None:
    response = h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", drop=("LinkedIn-Version",))
    assert response.status_code == 400
    assert response.json == {
        "status": 400,
        "code": "VERSION_MISSING",
        "message": "A version must be present. Please specify a version by adding the Linkedin-Version header.",
    }


@pytest.mark.parametrize("version", ["2026-01", "20261", "202613", "latest", "202601.1"])
def test_malformed_version_is_400_version_invalid(h: Harness, version: str) -> None:
    response = h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", headers=h.headers(LinkedIn_Version=version))
    assert response.status_code == 400
    assert response.json["code"] == "VERSION_INVALID"


def test_sunset_version_is_426(h: Harness) -> None:
    response = h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", headers=h.headers(LinkedIn_Version="202507"))
    assert response.status_code == 426
    assert response.json == {
        "status": 426,
        "code": "NONEXISTENT_VERSION",
        "message": "Requested version 202507 is not active",
    }


@pytest.mark.parametrize("version", ["202512", "202601.01", "202609"])
def test_active_versions_pass(h: Harness, version: str) -> None:
    response = h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", headers=h.headers(LinkedIn_Version=version))
    assert response.status_code == 200


@pytest.mark.parametrize("protocol", [None, "1.0.0", "2"])
def test_protocol_version_required(h: Harness, protocol: str | None) -> None:
    headers = h.headers()
    if protocol is None:
        del headers["X-Restli-Protocol-Version"]
    else:
        headers["X-Restli-Protocol-Version"] = protocol
    response = h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", headers=headers)
    assert response.status_code == 400
    assert response.json["code"] == "PROTOCOL_VERSION_REQUIRED"


def test_checks_run_in_order_token_version_protocol(h: Harness) -> None:
    bare = {"Authorization": "Bearer nope"}
    assert h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", headers=bare).status_code == 401
    only_token = {"Authorization": f"Bearer {h.token}"}
    assert (
        h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", headers=only_token).json["code"] == "VERSION_MISSING"
    )
    sunset = {**only_token, "LinkedIn-Version": "202401"}
    assert h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser", headers=sunset).status_code == 426


def test_min_active_version_is_configurable(h: Harness) -> None:
    assert h.client.put("/_sandbox/config", json={"min_active_version": "202602"}).status_code == 200
    response = h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser")
    assert response.status_code == 426
    assert response.json["message"] == "Requested version 202601 is not active"


# --- Accounts ----------------------------------------------------------------------------------------------


def test_ad_account_users_lists_roles(h: Harness) -> None:
    response = h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser")
    assert response.json == {
        "paging": {"start": 0, "count": 10, "links": []},
        "elements": [
            {"account": ACCOUNT, "user": "urn:li:person:sandboxMember1", "role": "ACCOUNT_BILLING_ADMIN"},
            {"account": VIEWER_ACCOUNT, "user": "urn:li:person:sandboxMember1", "role": "VIEWER"},
        ],
    }
    assert response.headers["X-RestLi-Protocol-Version"] == "2.0.0"
    assert h.rest("GET", "/rest/adAccountUsers?q=search").status_code == 400


def test_ad_accounts_by_id(h: Harness) -> None:
    assert h.rest("GET", "/rest/adAccounts/507000001").json == {
        "id": 507000001,
        "name": "Sandbox Ads",
        "status": "ACTIVE",
        "type": "BUSINESS",
        "currency": "USD",
        "test": True,
    }
    assert h.rest("GET", "/rest/adAccounts/507000002").json["name"] == "Sandbox Ads (read-only)"
    assert h.rest("GET", "/rest/adAccounts/123").status_code == 404


# --- Segments ----------------------------------------------------------------------------------------------


def test_create_segment_answers_201_with_id_headers(h: Harness) -> None:
    body = {
        "name": "Trial users EU",
        "account": ACCOUNT,
        "type": "USER",
        "sourcePlatform": "SANDBOX",
        "sourceSegmentId": "aud_42",
        "destinations": [{"destination": "LINKEDIN"}],
    }
    first = h.rest("POST", "/rest/dmpSegments", json_body=body)
    second = h.rest("POST", "/rest/dmpSegments", json_body=body)
    assert first.status_code == 201
    assert first.get_data() == b""
    segment_id = first.headers["x-restli-id"]
    assert segment_id.isdigit()
    assert first.headers["x-linkedin-id"] == segment_id
    assert first.headers["Location"] == f"/dmpSegments/{segment_id}"
    assert int(second.headers["x-restli-id"]) > int(segment_id)


def test_create_segment_on_viewer_account_is_403(h: Harness) -> None:
    body = {"name": "x", "account": VIEWER_ACCOUNT, "type": "USER", "destinations": [{"destination": "LINKEDIN"}]}
    response = h.rest("POST", "/rest/dmpSegments", json_body=body)
    assert response.status_code == 403
    assert response.json == {
        "status": 403,
        "serviceErrorCode": 100,
        "code": "ACCESS_DENIED",
        "message": "Not enough permissions to access: dmpSegments.CREATE.20260101",
    }


@pytest.mark.parametrize(
    "change",
    [
        {"name": ""},
        {"name": None},
        {"account": "urn:li:sponsoredAccount:999"},
        {"account": "507000001"},
        {"type": "USER_LIST_UPLOAD"},
        {"destinations": []},
        {"destinations": [{"destination": "FACEBOOK"}]},
        {"sourceSegmentId": 42},
    ],
)
def test_create_segment_validation(h: Harness, change: dict[str, Any]) -> None:
    body = {"name": "x", "account": ACCOUNT, "type": "USER", "destinations": [{"destination": "LINKEDIN"}], **change}
    response = h.rest("POST", "/rest/dmpSegments", json_body=body)
    assert response.status_code == 400
    assert response.json["status"] == 400
    assert response.json["code"] == "VALIDATION_FAILED"


def test_get_segment_shape_while_building(h: Harness) -> None:
    segment_id = h.create_segment(sourceSegmentId="aud_1", type="COMPANY")
    body = h.segment(segment_id)
    created_ms = int(T0 * 1000)
    assert body["id"] == segment_id
    assert body["name"] == "Trial users"
    assert body["account"] == ACCOUNT
    assert body["type"] == "COMPANY"
    assert body["sourcePlatform"] == "SANDBOX"
    assert body["sourceSegmentId"] == "aud_1"
    assert body["inputCount"] == 0
    assert body["created"] == body["lastModified"] == created_ms
    [destination] = body["destinations"]
    assert destination["destination"] == "LINKEDIN"
    assert destination["status"] == "BUILDING"
    assert destination["destinationSegmentId"].startswith("urn:li:adSegment:")
    assert destination["created"] == created_ms
    assert "audienceSize" not in destination
    assert "matchedCount" not in destination
    assert "status" not in body


def test_finder_by_account_filters_and_paginates(h: Harness) -> None:
    ids = [h.create_segment(sourceSegmentId=f"aud_{i}") for i in range(3)]
    response = h.rest("GET", "/rest/dmpSegments?q=account&account=urn%3Ali%3AsponsoredAccount%3A507000001")
    assert response.json["paging"]["total"] == 3
    assert [s["id"] for s in response.json["elements"]] == ids
    one = h.rest("GET", f"/rest/dmpSegments?q=account&account={ACCOUNT}&sourceSegmentId=aud_1").json
    assert [s["id"] for s in one["elements"]] == [ids[1]]
    page = h.rest("GET", f"/rest/dmpSegments?q=account&account={ACCOUNT}&start=1&count=1").json
    assert page["paging"]["start"] == 1
    assert page["paging"]["count"] == 1
    assert [s["id"] for s in page["elements"]] == [ids[1]]
    assert h.rest("GET", "/rest/dmpSegments?q=name").status_code == 400


def test_delete_segment(h: Harness) -> None:
    segment_id = h.ready_segment()
    assert h.rest("DELETE", f"/rest/dmpSegments/{segment_id}").status_code == 204
    assert h.rest("GET", f"/rest/dmpSegments/{segment_id}").status_code == 404
    assert h.users(segment_id, [add("a@example.com")]).status_code == 404
    assert h.rest("DELETE", f"/rest/dmpSegments/{segment_id}").status_code == 404


# --- /users ------------------------------------------------------------------------------------------------


def test_users_404_during_propagation_then_accepted(h: Harness) -> None:
    segment_id = h.create_segment()
    response = h.users(segment_id, [add("a@example.com")])
    assert response.status_code == 404
    assert response.json == {"status": 404, "message": f"Could not find DMP segment with ID {segment_id}"}
    h.clock.advance(2.9)
    assert h.users(segment_id, [add("a@example.com")]).status_code == 404
    h.clock.advance(0.1)
    response = h.users(segment_id, [add("a@example.com")])
    assert response.status_code == 200
    assert response.json == {"elements": [{"status": 201}]}


def test_users_on_unknown_segment_is_404(h: Harness) -> None:
    response = h.users(424242, [add("a@example.com")])
    assert response.status_code == 404
    assert response.json["message"] == "Could not find DMP segment with ID 424242"


@pytest.mark.parametrize("method", [None, "CREATE", "batch_create"])
def test_users_requires_batch_create_method(h: Harness, method: str | None) -> None:
    segment_id = h.ready_segment()
    headers = h.headers()
    if method is not None:
        headers["X-RestLi-Method"] = method
    path = f"/rest/dmpSegments/{segment_id}/users"
    response = h.rest("POST", path, json_body={"elements": [add("a@example.com")]}, headers=headers)
    assert response.status_code == 400
    assert response.json["code"] == "METHOD_REQUIRED"
    assert h.members(segment_id) == []


def test_users_on_viewer_segment_is_403(h: Harness) -> None:
    # A VIEWER cannot create segments through the API; plant one on the read-only account directly.
    segment = h.app.state.create_segment(
        {"name": "planted", "type": "USER", "destinations": [{"destination": "LINKEDIN"}]}, VIEWER_ACCOUNT
    )
    h.clock.advance(5)
    response = h.users(segment.id, [add("a@example.com")])
    assert response.status_code == 403
    assert response.json["code"] == "ACCESS_DENIED"
    assert response.json["serviceErrorCode"] == 100


@pytest.mark.parametrize("body", [b"{not json", b'{"elements": {}}', b'{"items": []}', b"[]", b""])
def test_users_malformed_body_is_400(h: Harness, body: bytes) -> None:
    segment_id = h.ready_segment()
    headers = h.headers(**{"X-RestLi-Method": "BATCH_CREATE", "Content-Type": "application/json"})
    response = h.client.post(f"/rest/dmpSegments/{segment_id}/users", data=body, headers=headers)
    assert response.status_code == 400
    assert response.json["status"] == 400


def test_users_empty_batch_is_fine(h: Harness) -> None:
    segment_id = h.ready_segment()
    response = h.users(segment_id, [])
    assert response.status_code == 200
    assert response.json == {"elements": []}


GOOD_SHA512 = hashlib.sha512(b"x@example.com").hexdigest()


@pytest.mark.parametrize(
    "element",
    [
        {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256("a")[:63]}]},
        {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256("a") + "0"}]},
        {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256("a").upper()}]},
        {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": "a@example.com"}]},
        {"action": "ADD", "userIds": [{"idType": "SHA512_EMAIL", "idValue": sha256("a")}]},
        {"action": "ADD", "userIds": [{"idType": "SHA512_EMAIL", "idValue": GOOD_SHA512.upper()}]},
        {"action": "ADD", "userIds": [{"idType": "GOOGLE_AID", "idValue": ""}]},
        {"action": "ADD", "userIds": [{"idType": "GOOGLE_AID", "idValue": "x" * 65}]},
        {"action": "ADD", "userIds": [{"idType": "APPLE_IDFA", "idValue": "6D92078A-8246-4BA4-AE5B-76104861E7DC"}]},
        {"action": "ADD", "userIds": [{"idType": "EMAIL", "idValue": "a@example.com"}]},
        {"action": "ADD", "userIds": "a@example.com"},
        {"action": "UPSERT", "userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256("a")}]},
        {"userIds": [{"idType": "SHA256_EMAIL", "idValue": sha256("a")}]},
        {"action": "ADD"},
        {"action": "ADD", "userIds": [], "firstName": "Ana"},
        {"action": "ADD", "firstName": "A" * 36, "lastName": "Ruiz"},
        {"action": "ADD", "firstName": "Ana", "lastName": "R" * 36},
        add("a@example.com", title="T" * 51),
        add("a@example.com", company="C" * 51),
        add("a@example.com", country="es"),
        add("a@example.com", country="ESP"),
        "not-an-object",
    ],
)
def test_invalid_elements_get_per_element_400(h: Harness, element: Any) -> None:
    segment_id = h.ready_segment()
    response = h.users(segment_id, [element])
    assert response.status_code == 200
    [result] = response.json["elements"]
    assert result["status"] == 400
    assert result["error"]["code"] == "INVALID_ELEMENT"
    assert result["error"]["message"]
    assert h.members(segment_id) == []


@pytest.mark.parametrize(
    "element",
    [
        {"action": "ADD", "userIds": [{"idType": "SHA512_EMAIL", "idValue": GOOD_SHA512}]},
        {"action": "ADD", "userIds": [{"idType": "GOOGLE_AID", "idValue": "38400000-8cf0-11bd-b23e-10b96e40000d"}]},
        {"action": "ADD", "firstName": "A" * 35, "lastName": "Ruiz"},
        {"action": "ADD", "userIds": [], "firstName": "Ana", "lastName": "Ruiz", "company": "C" * 50, "country": "ES"},
        add("a@example.com", firstName="Ana", lastName="Ruiz", title="T" * 50, company="Acme", country="US"),
    ],
)
def test_valid_elements_are_accepted(h: Harness, element: dict[str, Any]) -> None:
    segment_id = h.ready_segment()
    assert h.users(segment_id, [element]).json == {"elements": [{"status": 201}]}
    assert len(h.members(segment_id)) == 1


def test_mixed_batch_keeps_input_order_and_applies_only_valid(h: Harness) -> None:
    segment_id = h.ready_segment()
    elements = [
        add("a@example.com"),
        {"action": "ADD", "userIds": [{"idType": "SHA256_EMAIL", "idValue": "abc"}]},
        {"action": "ADD", "firstName": "Ana", "lastName": "Ruiz"},
        {"action": "ADD", "userIds": [{"idType": "FOO", "idValue": "x"}]},
        add("b@example.com"),
    ]
    response = h.users(segment_id, elements)
    assert [r["status"] for r in response.json["elements"]] == [201, 400, 201, 400, 201]
    assert "SHA256_EMAIL" in response.json["elements"][1]["error"]["message"]
    assert "FOO" in response.json["elements"][3]["error"]["message"]
    assert len(h.members(segment_id)) == 3
    assert h.segment(segment_id)["inputCount"] == 3


def test_element_cap(h: Harness) -> None:
    segment_id = h.ready_segment()
    batch = [add(f"user{i}@example.com") for i in range(5000)]
    response = h.users(segment_id, batch)
    assert response.status_code == 200
    assert len(response.json["elements"]) == 5000
    response = h.users(segment_id, [*batch, add("one-too-many@example.com")])
    assert response.status_code == 400
    assert response.json["status"] == 400
    assert response.json["code"] == "TOO_MANY_ELEMENTS"
    assert len(h.members(segment_id)) == 5000


def test_rate_limit_sliding_window_per_token(h: Harness) -> None:
    segment_id = h.ready_segment()
    for _ in range(300):
        assert h.users(segment_id, []).status_code == 200
    h.clock.advance(30)
    for _ in range(300):
        assert h.users(segment_id, []).status_code == 200
    throttled = h.users(segment_id, [])
    assert throttled.status_code == 429
    assert throttled.json == {
        "status": 429,
        "message": "Resource level throttle limit for calls to this resource is reached.",
    }
    assert "Retry-After" not in throttled.headers
    # Another member token has its own window.
    other = h.exchange(h.code()).json["access_token"]
    assert h.users(segment_id, [], token=other).status_code == 200
    # Throttled calls are not counted: 29.9 s later the first 300 are still inside the window.
    h.clock.advance(29.9)
    assert h.users(segment_id, []).status_code == 429
    h.clock.advance(0.1)  # the first 300 slide out
    for _ in range(300):
        assert h.users(segment_id, []).status_code == 200
    assert h.users(segment_id, []).status_code == 429
    # Other routes are not throttled.
    assert h.rest("GET", f"/rest/dmpSegments/{segment_id}").status_code == 200


def test_rate_limit_over_a_configured_window(h: Harness) -> None:
    # The benchmarks hold the pipeline to "10 per any second", stricter than LinkedIn's 600 per minute.
    assert h.client.put("/_sandbox/config", json={"rate_limit": 10, "rate_window_seconds": 1}).status_code == 200
    segment_id = h.ready_segment()
    for _ in range(10):
        assert h.users(segment_id, []).status_code == 200
    assert h.users(segment_id, []).status_code == 429
    h.clock.advance(1.0)
    assert h.users(segment_id, []).status_code == 200
    for bad in (0, -1):
        assert h.client.put("/_sandbox/config", json={"rate_window_seconds": bad}).status_code == 400


def test_add_then_remove_membership(h: Harness) -> None:
    segment_id = h.ready_segment()
    two_ids = {
        "action": "ADD",
        "userIds": [
            {"idType": "SHA512_EMAIL", "idValue": GOOD_SHA512},
            {"idType": "SHA256_EMAIL", "idValue": sha256("a@example.com")},
        ],
        "firstName": "Ana",
        "lastName": "Ruiz",
    }
    assert (
        h.users(segment_id, [two_ids, two_ids, {"action": "ADD", "firstName": "Bo", "lastName": "Li"}]).status_code
        == 200
    )
    members = h.members(segment_id)
    assert len(members) == 2
    assert {"userIds": [], "firstName": "Bo", "lastName": "Li"} in members
    assert {
        "userIds": [
            {"idType": "SHA256_EMAIL", "idValue": sha256("a@example.com")},
            {"idType": "SHA512_EMAIL", "idValue": GOOD_SHA512},
        ],
        "firstName": "Ana",
        "lastName": "Ruiz",
    } in members
    # Same identity in another order is the same member; removing it twice is fine.
    reversed_ids = {"action": "REMOVE", "userIds": list(reversed(two_ids["userIds"]))}
    assert h.users(segment_id, [reversed_ids, reversed_ids]).json == {"elements": [{"status": 201}, {"status": 201}]}
    assert h.members(segment_id) == [{"userIds": [], "firstName": "Bo", "lastName": "Li"}]
    # Removing a never-added member is idempotent too; only one of the two ids is a different identity.
    assert h.users(segment_id, [remove("a@example.com")]).json == {"elements": [{"status": 201}]}
    assert h.segment(segment_id)["inputCount"] == 3
    control = h.client.get("/_sandbox/segments").json
    assert [(s["id"], s["member_count"]) for s in control] == [(segment_id, 1)]


def test_members_are_sorted_deterministically(h: Harness) -> None:
    segment_id = h.ready_segment()
    emails = [f"user{i}@example.com" for i in range(20)]
    h.users(segment_id, [add(e) for e in emails])
    first = h.members(segment_id)
    other = h.ready_segment()
    h.users(other, [add(e) for e in reversed(emails)])
    assert h.members(other) == first
    assert first == sorted(first, key=lambda m: m["userIds"][0]["idValue"])


def status_of(h: Harness, segment_id: int) -> str:
    return h.segment(segment_id)["destinations"][0]["status"]


def test_status_clock_building_ready_updating_ready(h: Harness) -> None:
    segment_id = h.ready_segment()  # t = 3
    h.users(segment_id, [add("a@example.com")])
    assert status_of(h, segment_id) == "BUILDING"  # writes while BUILDING keep it BUILDING
    h.clock.advance(6.9)  # t = 9.9
    assert status_of(h, segment_id) == "BUILDING"
    h.clock.advance(0.1)  # t = 10
    assert status_of(h, segment_id) == "READY"
    h.users(segment_id, [add("b@example.com")])
    assert status_of(h, segment_id) == "UPDATING"
    h.clock.advance(1.5)
    h.users(segment_id, [remove("b@example.com")])  # extends UPDATING to 2 s after the last write
    h.clock.advance(1.9)
    assert status_of(h, segment_id) == "UPDATING"
    h.clock.advance(0.1)
    body = h.segment(segment_id)
    assert body["destinations"][0]["status"] == "READY"
    assert body["lastModified"] == int((T0 + 11.5) * 1000)
    # A batch with only invalid elements is not a write.
    h.users(segment_id, [{"action": "ADD"}])
    assert status_of(h, segment_id) == "READY"
    control = h.client.get("/_sandbox/segments").json
    assert control[0]["status"] == "READY"


def test_audience_size_hidden_below_300(h: Harness) -> None:
    segment_id = h.ready_segment()
    h.users(segment_id, [add(f"user{i}@example.com") for i in range(299)])
    h.clock.advance(10)
    destination = h.segment(segment_id)["destinations"][0]
    assert destination["status"] == "READY"
    assert "audienceSize" not in destination
    assert "matchedCount" not in destination
    h.users(segment_id, [add("user299@example.com")])
    body = h.segment(segment_id)
    assert body["inputCount"] == 300
    assert body["destinations"][0]["audienceSize"] == 300
    assert body["destinations"][0]["matchedCount"] == 300
    h.users(segment_id, [remove("user0@example.com")])
    assert "audienceSize" not in h.segment(segment_id)["destinations"][0]


@pytest.mark.parametrize("status", ["ARCHIVED", "EXPIRED", "FAILED", "ERROR", "READY"])
def test_control_sets_a_segments_status_and_counts(h: Harness, status: str) -> None:
    segment_id = h.ready_segment()
    h.users(segment_id, [add("a@example.com")])
    patch = {"status": status, "audience_size": 120, "matched_count": 90, "input_count": 400}
    answered = h.client.patch(f"/_sandbox/segments/{segment_id}", json=patch)
    assert answered.status_code == 200, answered.get_data(as_text=True)
    body = h.segment(segment_id)
    assert answered.json == body
    assert body["inputCount"] == 400
    destination = body["destinations"][0]
    assert (destination["status"], destination["audienceSize"], destination["matchedCount"]) == (status, 120, 90)
    assert h.client.get("/_sandbox/segments").json[0]["status"] == status
    h.clock.advance(100)
    assert status_of(h, segment_id) == status  # the status clock no longer moves it
    cleared = h.client.patch(
        f"/_sandbox/segments/{segment_id}", json={"status": None, "audience_size": None, "matched_count": None}
    )
    assert cleared.status_code == 200
    destination = h.segment(segment_id)["destinations"][0]
    assert destination["status"] == "READY"  # back to the clock
    assert "audienceSize" not in destination and "matchedCount" not in destination  # 1 member: hidden again


@pytest.mark.parametrize(
    "body",
    [{"status": "GONE"}, {"audience_size": -1}, {"matched_count": "9"}, {"audience_size": True}, {"nope": 1}, []],
)
def test_control_segment_update_rejects_bad_values(h: Harness, body: Any) -> None:
    segment_id = h.ready_segment()
    assert h.client.patch(f"/_sandbox/segments/{segment_id}", json=body).status_code == 400
    assert h.client.patch(f"/_sandbox/segments/{segment_id}", json={"input_count": None}).status_code == 400
    assert h.client.patch("/_sandbox/segments/1", json={"status": "READY"}).status_code == 404
    assert status_of(h, segment_id) == "BUILDING"


# --- Faults ------------------------------------------------------------------------------------------------


def test_fault_with_count_fires_exactly_twice(h: Harness) -> None:
    segment_id = h.ready_segment()
    created = h.client.post("/_sandbox/faults", json={"status": 503, "count": 2})
    assert created.status_code == 201
    assert created.json["path_contains"] == "/users"
    statuses = [h.users(segment_id, [add("a@example.com")]) for _ in range(4)]
    assert [r.status_code for r in statuses] == [503, 503, 200, 200]
    assert statuses[0].json == {"status": 503, "message": "Service Unavailable"}
    # Default path_contains only hits /users.
    assert h.rest("GET", f"/rest/dmpSegments/{segment_id}").status_code == 200
    [rule] = h.client.get("/_sandbox/faults").json
    assert rule["fired"] == 2
    assert h.client.delete("/_sandbox/faults").json == {"cleared": 1}
    assert h.client.get("/_sandbox/faults").json == []


@pytest.mark.parametrize(
    ("status", "body"),
    [
        (500, {"status": 500, "message": "Internal Server Error"}),
        (429, {"status": 429, "message": "Resource level throttle limit for calls to this resource is reached."}),
    ],
)
def test_fault_bodies_look_like_linkedin(h: Harness, status: int, body: dict[str, Any]) -> None:
    h.client.post("/_sandbox/faults", json={"status": status, "path_contains": "/rest/"})
    response = h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser")
    assert response.status_code == status
    assert response.json == body


def test_fault_fires_before_auth_checks(h: Harness) -> None:
    h.client.post("/_sandbox/faults", json={"status": 500, "path_contains": None})
    assert h.rest("GET", "/rest/adAccounts/1", headers={}).status_code == 500
    assert h.client.get("/_sandbox/segments").status_code == 200  # control API is never faulted


def test_fault_probability_uses_the_seeded_rng() -> None:
    def run(seed: int) -> list[int]:
        clock = FakeClock()
        app = LinkedInSandbox(clock=clock, rng=random.Random(seed))
        harness = Harness(app, clock, Client(app))
        harness.login()
        segment_id = harness.ready_segment()
        harness.client.post("/_sandbox/faults", json={"status": 500, "probability": 0.5})
        return [harness.users(segment_id, []).status_code for _ in range(40)]

    first = run(1234)
    assert first == run(1234)
    draws = random.Random(1234)
    expected = [500 if draws.random() < 0.5 else 200 for _ in range(40)]
    assert first == expected
    assert 0 < first.count(500) < 40


def test_fault_delay_sleeps_then_answers(h: Harness, monkeypatch: pytest.MonkeyPatch) -> None:
    slept: list[float] = []
    monkeypatch.setattr(h.app, "sleep", slept.append)
    segment_id = h.ready_segment()
    h.client.post("/_sandbox/faults", json={"delay_seconds": 7.5, "count": 1})
    assert h.users(segment_id, [add("a@example.com")]).status_code == 200
    h.client.post("/_sandbox/faults", json={"status": 504, "delay_seconds": 1.0})
    assert h.users(segment_id, [add("a@example.com")]).status_code == 504
    assert slept == [7.5, 1.0]


def test_fault_with_a_body_answers_it_verbatim_even_with_a_2xx(h: Harness) -> None:
    segment_id = h.ready_segment()
    rule = {"status": 200, "body": "<html>oops</html>", "path_contains": "/dmpSegments/", "count": 1}
    assert h.client.post("/_sandbox/faults", json=rule).status_code == 201
    malformed = h.rest("GET", f"/rest/dmpSegments/{segment_id}")
    assert (malformed.status_code, malformed.get_data(as_text=True)) == (200, "<html>oops</html>")
    assert h.rest("GET", f"/rest/dmpSegments/{segment_id}").json["id"] == int(segment_id)


@pytest.mark.parametrize(
    "rule",
    [
        {"status": 200},
        {"status": 200, "body": 1},
        {"body": "x"},
        {"status": 199, "body": "x"},
        {"status": 500, "probability": 1.5},
        {"status": 500, "count": -1},
        {},
        {"status": 500, "bogus": 1},
    ],
)
def test_bad_fault_rules_are_rejected(h: Harness, rule: dict[str, Any]) -> None:
    assert h.client.post("/_sandbox/faults", json=rule).status_code == 400
    assert h.client.get("/_sandbox/faults").json == []


# --- Request log and control API -----------------------------------------------------------------------------


def test_request_log_has_versions_and_no_raw_token(h: Harness) -> None:
    h.client.delete("/_sandbox/requests")
    segment_id = h.ready_segment()
    h.users(segment_id, [add("a@example.com"), add("b@example.com")])
    log = h.client.get("/_sandbox/requests").json
    assert [(e["method"], e["path"], e["status"]) for e in log] == [
        ("POST", "/rest/dmpSegments", 201),
        ("POST", f"/rest/dmpSegments/{segment_id}/users", 200),
    ]
    entry = log[1]
    assert entry["t"] == T0 + 3.0
    assert entry["elements"] == 2
    assert entry["linkedin_version"] == "202601"
    assert entry["restli_protocol_version"] == "2.0.0"
    assert entry["restli_method"] == "BATCH_CREATE"
    assert entry["token_id"] == log[0]["token_id"]
    assert 6 <= len(entry["token_id"]) <= 16
    assert log[0]["elements"] is None
    # Neither the access token nor the refresh token appears anywhere in the control API.
    everything = "".join(
        h.client.get(path).get_data(as_text=True)
        for path in ("/_sandbox/requests", "/_sandbox/segments", "/_sandbox/config", "/_sandbox/", "/_sandbox/faults")
    )
    assert h.token not in everything
    assert h.grant["refresh_token"] not in everything
    assert h.client.delete("/_sandbox/requests").json == {"cleared": 2}
    assert h.client.get("/_sandbox/requests").json == []


def test_request_log_redacts_tokens_in_query(h: Harness) -> None:
    h.client.get(f"/rest/adAccountUsers?q=authenticatedUser&oauth2_access_token={h.token}")
    log = h.client.get("/_sandbox/requests").json
    assert h.token not in json.dumps(log)
    assert "q=authenticatedUser" in log[-1]["query"]


def test_control_segments_list_and_delete(h: Harness) -> None:
    segment_id = h.ready_segment()
    h.users(segment_id, [add("a@example.com")])
    [row] = h.client.get("/_sandbox/segments").json
    assert row["id"] == segment_id
    assert row["name"] == "Trial users"
    assert row["account"] == ACCOUNT
    assert row["status"] == "BUILDING"
    assert row["member_count"] == 1
    assert row["created"] == T0
    assert h.client.delete(f"/_sandbox/segments/{segment_id}").status_code == 200
    assert h.users(segment_id, [add("a@example.com")]).status_code == 404
    assert h.client.get(f"/_sandbox/segments/{segment_id}/members").status_code == 404
    assert h.client.get("/_sandbox/segments").json == []


def test_config_get_put_and_reset(h: Harness) -> None:
    assert h.client.get("/_sandbox/config").json == SandboxConfig().to_dict()
    updated = h.client.put("/_sandbox/config", json={"propagation_delay_seconds": 0, "max_elements": 2})
    assert updated.status_code == 200
    assert updated.json["propagation_delay_seconds"] == 0
    assert updated.json["max_elements"] == 2
    assert updated.json["rate_limit"] == 600
    for bad in ({"max_elements": "2"}, {"max_elements": 2.5}, {"nope": 1}, {"min_active_version": "2026"}):
        assert h.client.put("/_sandbox/config", json=bad).status_code == 400
    segment_id = h.create_segment()
    assert h.users(segment_id, [add("a@example.com")]).status_code == 200  # no propagation delay now
    assert h.users(segment_id, [add(f"{i}@example.com") for i in range(3)]).json["code"] == "TOO_MANY_ELEMENTS"

    assert h.client.post("/_sandbox/reset").status_code == 200
    assert h.client.get("/_sandbox/segments").json == []
    assert h.client.get("/_sandbox/requests").json == []
    assert h.rest("GET", "/rest/adAccountUsers?q=authenticatedUser").status_code == 401  # tokens gone
    assert h.client.get("/_sandbox/config").json["max_elements"] == 2  # config kept


def test_index_unknown_route_and_wrong_method(h: Harness) -> None:
    index = h.client.get("/_sandbox/")
    assert index.status_code == 200
    assert "GET /_sandbox/segments" in index.json["endpoints"]
    missing = h.client.get("/nowhere")
    assert missing.status_code == 404
    assert missing.json["status"] == 404
    wrong = h.client.put("/_sandbox/segments")
    assert wrong.status_code == 405
    assert wrong.json["status"] == 405
    assert h.rest("PUT", "/rest/dmpSegments").status_code == 405
    assert h.rest("GET", "/rest/nothingHere").status_code == 404


def test_mounted_under_a_prefix(h: Harness) -> None:
    mounted = DispatcherMiddleware(Response("root", status=200), {"/linkedin": h.app})
    client = Client(mounted)
    query = {"response_type": "code", "client_id": CLIENT_ID, "redirect_uri": REDIRECT, "scope": SCOPE}
    response = client.get("/linkedin/oauth/v2/authorization", query_string=query)
    assert response.status_code == 302
    assert response.headers["Location"].startswith(REDIRECT + "?code=")
    response = client.get("/linkedin/rest/adAccountUsers", query_string={"q": "authenticatedUser"}, headers=h.headers())
    assert response.status_code == 200
    assert client.get("/linkedin/_sandbox/requests").json[-1]["path"] == "/rest/adAccountUsers"


def test_concurrent_batches_are_all_applied(h: Harness) -> None:
    segment_id = h.ready_segment()
    errors: list[int] = []

    def worker(n: int) -> None:
        client = Client(h.app)
        for batch in range(10):
            elements = [add(f"w{n}-b{batch}-{i}@example.com") for i in range(20)]
            headers = h.headers(**{"X-RestLi-Method": "BATCH_CREATE"})
            response = client.post(
                f"/rest/dmpSegments/{segment_id}/users", json={"elements": elements}, headers=headers
            )
            if response.status_code != 200:
                errors.append(response.status_code)

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert h.segment(segment_id)["inputCount"] == 1600
    assert len(h.members(segment_id)) == 1600


def test_the_limiter_judges_arrival_times_even_out_of_order() -> None:
    from localmode.sandbox.state import SlidingWindowLimiter

    limiter = SlidingWindowLimiter()
    assert limiter.try_acquire("t", 0.5, limit=2, window=1.0)
    assert limiter.try_acquire("t", 1.2, limit=2, window=1.0)
    # served later, arrived in between: [0.5, 1.5) would hold three
    assert not limiter.try_acquire("t", 0.9, limit=2, window=1.0)
    # arrived earlier still: [0.1, 1.1) holds 0.1 and 0.5, and no window holds 0.1, 0.5 and 1.2
    assert limiter.try_acquire("t", 0.1, limit=2, window=1.0)
    assert not limiter.try_acquire("t", 1.45, limit=2, window=1.0)  # [0.5, 1.5) again
    assert limiter.try_acquire("t", 2.2, limit=2, window=1.0)
    assert limiter.try_acquire("other", 0.9, limit=2, window=1.0)  # per key


def test_requests_are_logged_and_limited_at_their_arrival(h: Harness) -> None:
    """Time is read first, before the body and the state's lock; later reads (a busy sandbox) must not count."""
    segment_id = h.ready_segment()
    readings: list[float] = []
    state = h.app.state
    real_clock = state.clock

    def ticking() -> float:  # every reading is one second later than the one before
        readings.append(real_clock() + len(readings))
        return readings[-1]

    state.clock = ticking
    assert h.users(segment_id, []).status_code == 200
    state.clock = real_clock
    (entry,) = [r for r in h.client.get("/_sandbox/requests").json if r["path"].endswith("/users")]
    assert len(readings) > 1  # the sandbox read the clock again while serving it...
    assert entry["t"] == readings[0]  # ...but logs (and rate-limits) the arrival
