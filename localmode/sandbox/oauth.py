"""OAuth 2.0 state: authorization codes, access tokens and refresh tokens (no HTTP here)."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Any

CODE_TTL_SECONDS = 1800.0  # authorization codes live 30 minutes
_TOKEN_BYTES = 96  # -> 128 url-safe characters


def token_id(token: str) -> str:
    """A short stable fingerprint of a token, safe to log and return."""
    return hashlib.sha256(token.encode()).hexdigest()[:12]


class OAuthError(Exception):
    """An OAuth failure rendered as ``{"error", "error_description"}``."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.error = error
        self.description = description


@dataclass
class AuthCode:
    client_id: str
    redirect_uri: str
    scopes: tuple[str, ...]
    expires_at: float


@dataclass
class RefreshToken:
    client_id: str
    scopes: tuple[str, ...]
    expires_at: float
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    client_id: str
    scopes: tuple[str, ...]
    created_at: float
    expires_at: float
    refresh_token: str
    revoked: bool = False
    force_expired: bool = False

    @property
    def id(self) -> str:
        return token_id(self.token)

    def status(self, now: float) -> str:
        if self.revoked:
            return "revoked"
        if self.force_expired or now >= self.expires_at:
            return "expired"
        return "active"


class OAuthStore:
    """Issues and checks codes and tokens. Not thread-safe on its own: callers hold the sandbox lock."""

    def __init__(self) -> None:
        self.codes: dict[str, AuthCode] = {}
        self.access: dict[str, AccessToken] = {}
        self.refresh: dict[str, RefreshToken] = {}

    def issue_code(self, client_id: str, redirect_uri: str, scopes: tuple[str, ...], now: float) -> str:
        self.codes = {c: v for c, v in self.codes.items() if v.expires_at > now}
        code = secrets.token_urlsafe(48)
        self.codes[code] = AuthCode(client_id, redirect_uri, scopes, now + CODE_TTL_SECONDS)
        return code

    def exchange_code(
        self, code: str, client_id: str, redirect_uri: str, now: float, access_ttl: int, refresh_ttl: int
    ) -> dict[str, Any]:
        grant = self.codes.get(code)
        if grant is None:
            raise OAuthError(400, "invalid_grant", "The authorization code is invalid or has already been used")
        if now >= grant.expires_at:
            del self.codes[code]
            raise OAuthError(400, "invalid_grant", "The authorization code has expired")
        if grant.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "The authorization code was issued to another client")
        if grant.redirect_uri != redirect_uri:
            raise OAuthError(400, "invalid_grant", "The redirect_uri does not match the authorization request")
        del self.codes[code]  # single use
        refresh = secrets.token_urlsafe(_TOKEN_BYTES)
        self.refresh[refresh] = RefreshToken(client_id, grant.scopes, now + refresh_ttl)
        return self._grant(refresh, now, access_ttl)

    def use_refresh_token(self, refresh: str, client_id: str, now: float, access_ttl: int) -> dict[str, Any]:
        record = self.refresh.get(refresh)
        if record is None or record.client_id != client_id:
            raise OAuthError(400, "invalid_grant", "The provided refresh token is invalid")
        if record.revoked or now >= record.expires_at:
            raise OAuthError(400, "invalid_grant", "Token has been expired or revoked.")
        return self._grant(refresh, now, access_ttl)

    def _grant(self, refresh: str, now: float, access_ttl: int) -> dict[str, Any]:
        record = self.refresh[refresh]
        token = secrets.token_urlsafe(_TOKEN_BYTES)
        self.access[token] = AccessToken(token, record.client_id, record.scopes, now, now + access_ttl, refresh)
        return {
            "access_token": token,
            "expires_in": access_ttl,
            "refresh_token": refresh,
            "refresh_token_expires_in": max(0, int(record.expires_at - now)),
            "scope": ",".join(record.scopes),
        }

    def find_access(self, token: str) -> AccessToken | None:
        return self.access.get(token)

    def revoke_all(self) -> int:
        """Revoke every access token and refresh token; returns how many access tokens changed."""
        changed = sum(1 for t in self.access.values() if not t.revoked)
        for access in self.access.values():
            access.revoked = True
        for refresh in self.refresh.values():
            refresh.revoked = True
        return changed

    def expire_all(self, now: float) -> int:
        """Expire every live access token (refresh tokens keep working); returns how many changed."""
        live = [t for t in self.access.values() if t.status(now) == "active"]
        for access in live:
            access.force_expired = True
        return len(live)
