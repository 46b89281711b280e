"""linkedin/oauth.py: the authorization URL and the token endpoint calls, with a fake session."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from audience_sync.destinations.base import AuthorizationFailed, TokenGrant
from audience_sync.destinations.linkedin.oauth import OAuthClient, authorization_url
from tests.fakes.http_fakes import FakeSession, response


def test_authorization_url() -> None:
    url = authorization_url("https://www.example.test/oauth/v2/", "cid", "https://app.test/cb?x=1", "st.ate")
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == "https://www.example.test/oauth/v2/authorization"
    assert " " not in url
    query = parse_qs(parts.query, strict_parsing=True)
    assert query == {
        "response_type": ["code"],
        "client_id": ["cid"],
        "redirect_uri": ["https://app.test/cb?x=1"],
        "state": ["st.ate"],
        "scope": ["r_ads rw_dmp_segments"],
    }


GRANT = {
    "access_token": "AT-secret",
    "expires_in": 5_184_000,
    "refresh_token": "RT-secret",
    "refresh_token_expires_in": 31_536_000,
    "scope": "r_ads,rw_dmp_segments",
}


def oauth(*answers: requests.Response | Exception) -> tuple[OAuthClient, FakeSession]:
    session = FakeSession(*answers)
    return OAuthClient("https://www.example.test/oauth/v2/", "cid", "csecret", session=session), session


def test_exchange_code_form() -> None:
    client, session = oauth(response(200, GRANT))
    grant = client.exchange_code("the-code", "https://app.test/cb")
    (call,) = session.calls
    assert call["method"] == "POST"
    assert call["url"] == "https://www.example.test/oauth/v2/accessToken"
    assert call["data"] == {
        "grant_type": "authorization_code",
        "code": "the-code",
        "redirect_uri": "https://app.test/cb",
        "client_id": "cid",
        "client_secret": "csecret",
    }
    assert grant == TokenGrant("AT-secret", 5_184_000, "RT-secret", 31_536_000, "r_ads,rw_dmp_segments")


def test_refresh_form() -> None:
    client, session = oauth(response(200, {"access_token": "AT2", "expires_in": 60}))
    grant = client.refresh("RT-secret")
    assert session.calls[0]["data"] == {
        "grant_type": "refresh_token",
        "refresh_token": "RT-secret",
        "client_id": "cid",
        "client_secret": "csecret",
    }
    assert grant.access_token == "AT2"
    assert grant.refresh_token is None
    assert grant.refresh_token_expires_in is None


def test_invalid_grant_is_dead() -> None:
    client, _ = oauth(response(400, {"error": "invalid_grant", "error_description": "expired"}))
    with pytest.raises(AuthorizationFailed) as info:
        client.refresh("RT")
    assert (info.value.status, info.value.error, info.value.description) == (400, "invalid_grant", "expired")
    assert info.value.grant_is_dead


@pytest.mark.parametrize(
    ("status", "body", "error"),
    [
        (401, {"error": "invalid_client", "error_description": "bad secret"}, "invalid_client"),
        (500, {"error": "server_error"}, "server_error"),
        (500, {"error": "invalid_grant"}, "invalid_grant"),
        (502, b"<html>bad gateway</html>", "invalid_response"),
        (200, {"expires_in": 60}, "invalid_response"),
    ],
)
def test_other_errors_are_not_dead(status: int, body: Any, error: str) -> None:
    client, _ = oauth(response(status, body, reason="Reason"))
    with pytest.raises(AuthorizationFailed) as info:
        client.exchange_code("c", "r")
    assert info.value.status == status
    assert info.value.error == error
    assert not info.value.grant_is_dead


def test_unreachable() -> None:
    client, _ = oauth(requests.ConnectionError("refused"))
    with pytest.raises(AuthorizationFailed) as info:
        client.refresh("RT")
    assert (info.value.status, info.value.error) == (0, "unreachable")


def test_token_grant_repr_never_contains_tokens() -> None:
    grant = TokenGrant("AT-secret", 60, "RT-secret", 120, "r_ads")
    for text in (repr(grant), str(grant), f"{grant}", repr([grant])):
        assert "AT-secret" not in text
        assert "RT-secret" not in text
    assert "refreshable=True" in repr(grant)
