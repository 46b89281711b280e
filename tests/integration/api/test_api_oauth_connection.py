"""The LinkedIn connection: OAuth flow, what GET shows (never a token), state checks, disconnect."""

from __future__ import annotations

import json
import time
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import boto3
import pytest
import requests

from audience_sync.connections import oauth_state
from audience_sync.connections import service as connections
from tests.integration.api.api_helpers import ACCOUNT_ID, VIEWER_ACCOUNT_ID, Api, assert_error


def _query(path_and_query: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(path_and_query).query).items()}


def _token_requests(api: Api) -> list[dict[str, Any]]:
    log = requests.get(f"{api.stack.sandbox.url}/_sandbox/requests", timeout=10).json()
    return [r for r in log if r["path"] == "/oauth/v2/accessToken"]


def test_authorize_redirects_to_linkedin_with_signed_state(api: Api) -> None:
    reply = api.get("/v1/connections/linkedin/authorize")
    assert reply.status == 302
    location = urlsplit(reply.headers["Location"])
    assert f"{location.scheme}://{location.netloc}" == api.stack.sandbox.url
    assert location.path == "/oauth/v2/authorization"
    query = parse_qs(location.query)
    assert query["response_type"] == ["code"]
    assert query["client_id"] == ["sandbox-client-id"]
    assert query["redirect_uri"] == ["http://127.0.0.1:3000/v1/connections/linkedin/callback"]
    assert set(query["scope"][0].split(" ")) >= {"rw_dmp_segments"}
    assert "." in query["state"][0]  # payload.signature


def test_authorize_without_redirect_answers_the_url_for_a_page_to_open(api: Api) -> None:
    reply = api.get("/v1/connections/linkedin/authorize?redirect=false")
    assert reply.status == 200 and "Location" not in reply.headers
    url = reply.json["authorization_url"]
    assert url.startswith(f"{api.stack.sandbox.url}/oauth/v2/authorization?")
    # LinkedIn (the sandbox) approves, and its redirect back completes the connection
    approved = requests.get(url, allow_redirects=False, timeout=10)
    back = urlsplit(approved.headers["Location"])
    assert api.callback(f"{back.path}?{back.query}").status == 200
    assert api.get("/v1/connections/linkedin").json["status"] == "connected"
    assert api.get("/v1/connections/linkedin/authorize?redirect=maybe").status == 400


def test_connect_lists_ad_accounts_and_never_returns_a_token(api: Api) -> None:
    assert api.get("/v1/connections/linkedin").json["status"] == "disconnected"
    connected = api.connect()
    view = api.get("/v1/connections/linkedin")
    assert view.status == 200
    for body in (connected, view.json):
        assert body["status"] == "connected"
        accounts = {a["id"]: a for a in body["ad_accounts"]}
        assert set(accounts) == {ACCOUNT_ID, VIEWER_ACCOUNT_ID}
        assert accounts[ACCOUNT_ID]["name"] == "Sandbox Ads"
        assert accounts[ACCOUNT_ID]["role"] == "ACCOUNT_BILLING_ADMIN"
        assert accounts[ACCOUNT_ID]["usable"] is True
        assert accounts[VIEWER_ACCOUNT_ID]["name"] == "Sandbox Ads (read-only)"
        assert accounts[VIEWER_ACCOUNT_ID]["role"] == "VIEWER"
        assert accounts[VIEWER_ACCOUNT_ID]["usable"] is False
        assert not any("token" in key and not key.endswith("expires_at") for key in body)

    # Exercise the rest of the API too, then scan every body we received for every token issued.
    api.put_step("s1")
    api.launch("s1")
    api.get("/v1/steps/s1")
    api.get("/v1/steps/s1/metrics")
    api.post_users("s1", [{"external_id": "u1", "email": "a@example.com"}])
    api.request("DELETE", "/v1/connections/linkedin")
    tokens = api.sandbox_tokens()
    assert len(tokens) == 2  # one access token, one refresh token
    leaks = [t[:8] for t in tokens for body in api.bodies if t in body]
    assert leaks == []


def test_stored_connection_holds_only_ciphertext(api: Api) -> None:
    api.connect()
    tokens = api.sandbox_tokens()
    item = api.raw_connection_item()
    assert item is not None
    blob = item["token_ct"]["B"]
    for token in tokens:
        assert token not in repr(item)
        assert token.encode() not in blob
    # ...and that ciphertext really is the tokens (KMS, with the service's encryption context).
    plaintext = boto3.client("kms").decrypt(CiphertextBlob=blob, EncryptionContext={"connection": "linkedin"})
    stored = json.loads(plaintext["Plaintext"])
    assert {stored["access_token"], stored["refresh_token"]} == tokens


def test_state_is_single_use(api: Api) -> None:
    callback = api.authorize()
    assert api.callback(callback).status == 200
    assert_error(api.callback(callback), 400, "invalid_state")
    assert len(_token_requests(api)) == 1  # the replay never reached LinkedIn


def test_state_from_another_authorization_is_single_use_too(api: Api) -> None:
    # A fresh code with an already-consumed state is still refused.
    first = api.authorize()
    assert api.callback(first).status == 200
    second = _query(api.authorize())
    replay = urlencode({"code": second["code"], "state": _query(first)["state"]})
    assert_error(api.callback(f"/v1/connections/linkedin/callback?{replay}"), 400, "invalid_state")


TAMPERINGS = {
    "signature": lambda s: s[:-2] + ("BB" if s.endswith("AA") else "AA"),
    "payload": lambda s: "x" + s,
    "unsigned": lambda s: s.split(".")[0],
    "garbage": lambda s: "not-a-state",
}


def test_tampered_state_is_400(api: Api) -> None:
    for name, tamper in TAMPERINGS.items():
        query = _query(api.authorize())
        bad = urlencode({"code": query["code"], "state": tamper(query["state"])})
        error = assert_error(api.callback(f"/v1/connections/linkedin/callback?{bad}"), 400, "invalid_state")
        assert error["details"] == [], name
    assert api.get("/v1/connections/linkedin").json["status"] == "disconnected"
    assert _token_requests(api) == []


def test_forged_state_signed_with_another_key_is_400(api: Api) -> None:
    query = _query(api.authorize())
    forged = oauth_state.sign_state(b"not-the-key", "nonce", int(time.time()) + 600)
    bad = urlencode({"code": query["code"], "state": forged})
    assert_error(api.callback(f"/v1/connections/linkedin/callback?{bad}"), 400, "invalid_state")


def test_expired_state_is_400(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    callback = api.authorize()
    later = int(time.time()) + oauth_state.STATE_TTL_SECONDS + 1
    monkeypatch.setattr(connections, "_now", lambda: later)
    assert_error(api.callback(callback), 400, "invalid_state")
    monkeypatch.undo()
    assert api.get("/v1/connections/linkedin").json["status"] == "disconnected"
    assert _token_requests(api) == []


def test_callback_without_code_or_state_is_400(api: Api) -> None:
    query = _query(api.authorize())
    for kept in ({"code": query["code"]}, {"state": query["state"]}, {}, {"code": "", "state": query["state"]}):
        path = "/v1/connections/linkedin/callback" + (f"?{urlencode(kept)}" if kept else "")
        assert_error(api.callback(path), 400, "invalid_request")
    assert api.get("/v1/connections/linkedin").json["status"] == "disconnected"
    # The state was not used up by those attempts.
    assert api.callback(f"/v1/connections/linkedin/callback?{urlencode(query)}").status == 200


def test_callback_with_user_cancelled_is_400(api: Api) -> None:
    state = _query(api.authorize())["state"]
    query = urlencode({"error": "user_cancelled_authorize", "error_description": "The user cancelled", "state": state})
    error = assert_error(api.callback(f"/v1/connections/linkedin/callback?{query}"), 400, "authorization_denied")
    assert "user_cancelled_authorize" in error["message"]
    assert api.get("/v1/connections/linkedin").json["status"] == "disconnected"


def test_disconnect(api: Api) -> None:
    api.connect()
    reply = api.request("DELETE", "/v1/connections/linkedin")
    assert reply.status == 200
    assert reply.json["status"] == "disconnected"
    assert reply.json["ad_accounts"] == []
    assert api.get("/v1/connections/linkedin").json["status"] == "disconnected"
    assert api.raw_connection_item() is None
    # Disconnecting twice is harmless.
    assert api.request("DELETE", "/v1/connections/linkedin").json["status"] == "disconnected"


def test_a_refresh_answer_without_a_refresh_token_keeps_the_old_one(api: Api, monkeypatch: Any) -> None:
    from audience_sync.composition.container import Container
    from audience_sync.destinations.base import TokenGrant
    from audience_sync.destinations.linkedin.oauth import OAuthClient
    from audience_sync.settings import Settings

    api.connect()
    service = Container(Settings.from_env()).connections
    refresh_tokens: list[str] = []

    def refresh(self: OAuthClient, refresh_token: str) -> TokenGrant:
        refresh_tokens.append(refresh_token)
        return TokenGrant("new-access-token-" + "x" * 100, 5184000, None, None, "r_ads,rw_dmp_segments")

    monkeypatch.setattr(OAuthClient, "refresh", refresh)
    service.refresh()
    service.refresh()
    assert service.access_token().value.startswith("new-access-token-")
    assert len(refresh_tokens) == 2 and refresh_tokens[0] and refresh_tokens[0] == refresh_tokens[1]
    assert api.get("/v1/connections/linkedin").json["status"] == "connected"
