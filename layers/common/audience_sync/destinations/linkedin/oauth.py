"""LinkedIn OAuth 2.0 authorization-code flow and refresh (docs/integrations/linkedin.md, "OAuth")."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode

import requests

from audience_sync.destinations.base import AuthorizationFailed, TokenGrant
from audience_sync.destinations.linkedin.client import DEFAULT_TIMEOUT

SCOPES = ("r_ads", "rw_dmp_segments")


def oauth_error(status: int, error: str, description: str) -> AuthorizationFailed:
    """A refusal of the token endpoint. The grant is dead (the member must connect again) when the code or refresh
    token is refused as invalid; anything else (5xx, no answer) may work later."""
    dead = error in ("invalid_grant", "invalid_request") and 400 <= status < 500
    return AuthorizationFailed(status, error, description, grant_is_dead=dead)


def authorization_url(oauth_url: str, client_id: str, redirect_uri: str, state: str) -> str:
    query = urlencode(
        {
            "response_type": "code",
            "client_id": client_id,
            "redirect_uri": redirect_uri,
            "state": state,
            "scope": " ".join(SCOPES),
        }
    )
    return f"{oauth_url.rstrip('/')}/authorization?{query}"


class OAuthClient:
    def __init__(
        self,
        oauth_url: str,
        client_id: str,
        client_secret: str | Callable[[], str],
        session: requests.Session | None = None,
    ):
        self.token_url = f"{oauth_url.rstrip('/')}/accessToken"
        self.client_id = client_id
        # Read when a token is exchanged or refreshed, not before: reading the API, the CLI needs no secret.
        self._client_secret = client_secret if callable(client_secret) else (lambda: client_secret)
        self.session = session or requests.Session()

    def exchange_code(self, code: str, redirect_uri: str) -> TokenGrant:
        return self._token(grant_type="authorization_code", code=code, redirect_uri=redirect_uri)

    def refresh(self, refresh_token: str) -> TokenGrant:
        return self._token(grant_type="refresh_token", refresh_token=refresh_token)

    def _token(self, **fields: str) -> TokenGrant:
        form = {**fields, "client_id": self.client_id, "client_secret": self._client_secret()}
        try:
            response = self.session.post(self.token_url, data=form, timeout=DEFAULT_TIMEOUT)
        except requests.RequestException as exc:
            raise oauth_error(0, "unreachable", type(exc).__name__) from exc
        body: dict[str, Any]
        try:
            body = response.json()
        except ValueError:
            body = {}
        if response.status_code != 200 or "access_token" not in body:
            raise oauth_error(
                response.status_code,
                str(body.get("error", "invalid_response")),
                str(body.get("error_description", response.reason))[:300],
            )
        refresh_ttl = body.get("refresh_token_expires_in")
        return TokenGrant(
            access_token=str(body["access_token"]),
            expires_in=int(body.get("expires_in", 0)),
            refresh_token=body.get("refresh_token"),
            refresh_token_expires_in=int(refresh_ttl) if refresh_ttl is not None else None,
            scope=str(body.get("scope", "")),
        )
