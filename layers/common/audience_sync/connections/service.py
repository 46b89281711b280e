"""A workspace's connection to a destination: OAuth tokens (encrypted at rest), the member's ad accounts, status.

Tokens are decrypted only in memory, never returned by the API and never logged. Refreshes are serialised with a
version number so two functions refreshing at once cannot overwrite each other: the loser uses the winner's token.
A grant found dead marks the connection `invalid_token` once (notified once); users then wait in the retry until
someone connects again.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import replace
from typing import Any

from aws_lambda_powertools import Logger

from audience_sync.connections import oauth_state
from audience_sync.connections.errors import NotConnected
from audience_sync.connections.ports import ConnectionRecord, ConnectionStore, TokenCipher, TokenWrite
from audience_sync.connections.session import AccessToken
from audience_sync.core.errors import Invalid, UpstreamFailed
from audience_sync.destinations.base import Authorization, AuthorizationFailed, DestinationError, TokenGrant
from audience_sync.observability.notifications import Notifier

logger = Logger(child=True)


def _now() -> int:
    return int(time.time())


class ConnectionService:
    def __init__(
        self,
        connection_id: str,
        label: str,
        authorization: Authorization,
        store: ConnectionStore,
        cipher: TokenCipher,
        notifier: Notifier,
    ):
        self.connection_id = connection_id  # "linkedin": the destination's one connection per workspace
        self.label = label  # "LinkedIn", for messages
        self.authorization = authorization
        self.store = store
        self.cipher = cipher
        self.notifier = notifier
        self._plaintext: dict[str, dict[str, str]] = {}  # ciphertext digest -> tokens (per container)

    # ---- OAuth flow -------------------------------------------------------------------------
    def begin_authorization(self, state_key: bytes, redirect_uri: str) -> str:
        nonce = oauth_state.new_nonce()
        expires_at = _now() + oauth_state.STATE_TTL_SECONDS
        self.store.put_state(nonce, redirect_uri, expires_at)
        return self.authorization.authorize_url(redirect_uri, oauth_state.sign_state(state_key, nonce, expires_at))

    def complete_authorization(self, state_key: bytes, code: str, state: str) -> dict[str, Any]:
        try:
            nonce = oauth_state.verify_state(state_key, state, _now())
        except oauth_state.InvalidState as exc:
            raise Invalid("invalid_state", f"OAuth state rejected: {exc}") from exc
        redirect_uri = self.store.take_state(nonce, _now())
        if redirect_uri is None:
            raise Invalid("invalid_state", "OAuth state already used or expired")
        try:
            grant = self.authorization.exchange(code, redirect_uri)
        except AuthorizationFailed as exc:
            raise Invalid("oauth_exchange_failed", f"{self.label} refused the code: {exc.error}") from exc
        try:
            accounts = tuple(self.authorization.accounts(grant.access_token))
        except DestinationError as exc:
            message = f"could not list ad accounts ({exc.status} {exc.code})"
            raise UpstreamFailed(f"{self.connection_id}_unavailable", message) from exc
        self._write(grant, refresh_expiry=None, accounts=accounts)
        return self.view()

    # ---- tokens -----------------------------------------------------------------------------
    @property
    def _context(self) -> dict[str, str]:
        return {"connection": self.connection_id}

    def _write(
        self,
        grant: TokenGrant,
        refresh_expiry: int | None,
        accounts: tuple[Any, ...] | None = None,
        expected_version: int | None = None,
    ) -> int | None:
        now = _now()
        tokens = {"access_token": grant.access_token, "refresh_token": grant.refresh_token or ""}
        write = TokenWrite(
            token_ciphertext=self.cipher.encrypt(json.dumps(tokens).encode(), self._context),
            access_expires_at=now + grant.expires_in,
            scope=grant.scope,
            refresh_expires_at=now + grant.refresh_token_expires_in
            if grant.refresh_token_expires_in
            else refresh_expiry,
            ad_accounts=accounts,
        )
        return self.store.write_tokens(write, now, expected_version)

    def _tokens(self, record: ConnectionRecord) -> dict[str, str]:
        blob = record.token_ciphertext or b""
        digest = hashlib.sha256(blob).hexdigest()
        if digest not in self._plaintext:
            self._plaintext = {digest: json.loads(self.cipher.decrypt(blob, self._context))}
        return self._plaintext[digest]

    def view(self) -> dict[str, Any]:
        """The connection as the API shows it. Never includes a token."""
        record = self.store.get()
        if record is None:
            return {"status": "disconnected", "ad_accounts": []}
        return {
            "status": record.status,
            "ad_accounts": [
                {"id": a.id, "name": a.name, "role": a.role, "usable": a.usable} for a in record.ad_accounts
            ],
            "scope": record.scope,
            "connected_at": record.connected_at,
            "access_token_expires_at": record.access_expires_at,
            "refresh_token_expires_at": record.refresh_expires_at,
            "error": record.error,
        }

    def disconnect(self) -> None:
        self.store.delete()
        self._plaintext = {}

    def access_token(self) -> AccessToken:
        record = self.store.get()
        if record is None:
            raise NotConnected("disconnected")
        if record.status != "connected":
            raise NotConnected(record.status)
        return AccessToken(self._tokens(record)["access_token"], record.version)

    def refresh(self, stale: AccessToken | None = None) -> AccessToken:
        """Refresh with the refresh token. If another function already refreshed since `stale`, use its token.

        Raises NotConnected (and marks the connection `invalid_token`) when the grant is dead, AuthorizationFailed
        when the OAuth server did not answer.
        """
        record = self.store.get()
        if record is None:
            raise NotConnected("disconnected")
        if stale is not None and record.version != stale.version and record.status == "connected":
            return self.access_token()
        tokens = self._tokens(record)
        if not tokens.get("refresh_token"):
            self.mark_invalid("no_refresh_token")
            raise NotConnected("invalid_token")
        try:
            grant = self.authorization.refresh(tokens["refresh_token"])
        except AuthorizationFailed as exc:
            if exc.grant_is_dead:
                self.mark_invalid(f"refresh_failed_{exc.error}")
                raise NotConnected("invalid_token") from exc
            raise
        if not grant.refresh_token:  # LinkedIn may answer a refresh without one: the old one stays valid
            grant = replace(grant, refresh_token=tokens["refresh_token"])
        # A lost race (another refresh wrote first) writes nothing: the winner's token is read below.
        self._write(grant, record.refresh_expires_at, expected_version=record.version)
        return self.access_token()

    def mark_invalid(self, reason: str) -> None:
        """The token is dead: users wait in the retry until a reconnect. Notified once per connection."""
        if not self.store.mark_invalid(reason, _now()):
            return
        logger.warning(
            f"{self.label} connection is now invalid_token; users wait in the retry until a reconnect",
            extra={"reason": reason},
        )
        self.notifier.notify("invalid_token", reason=reason)

    def refresh_if_expiring(self, within_seconds: int) -> bool:
        record = self.store.get()
        if record is None or record.status != "connected":
            return False
        if (record.access_expires_at or 0) - _now() > within_seconds:
            return False
        self.refresh(AccessToken("", record.version))
        return True
