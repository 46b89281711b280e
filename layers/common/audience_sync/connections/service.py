"""The workspace's LinkedIn connection: OAuth tokens (KMS-encrypted in DynamoDB), ad accounts, status.

Tokens are decrypted only in memory, never returned by the API and never logged. Refreshes are
serialised with a version number so two functions refreshing at once cannot overwrite each other.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import dataclass, replace
from typing import Any

from aws_lambda_powertools import Logger
from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients as aws
from audience_sync.connections import oauth_state
from audience_sync.core.errors import ApiError
from audience_sync.destinations.linkedin.client import LinkedInClient
from audience_sync.destinations.linkedin.errors import LinkedInError
from audience_sync.destinations.linkedin.oauth import OAuthClient, OAuthError, TokenGrant, authorization_url
from audience_sync.observability.notifications import Notifier
from audience_sync.settings import Settings

logger = Logger(child=True)

CONNECTION_ID = "linkedin"
CONNECTION_PK = f"connection#{CONNECTION_ID}"
_STATE_PREFIX = "oauth_state#"
USABLE_ROLES = frozenset({"ACCOUNT_BILLING_ADMIN", "ACCOUNT_MANAGER", "CAMPAIGN_MANAGER", "CREATIVE_MANAGER"})


class NotConnected(Exception):
    """No usable token: never connected, disconnected, or marked invalid. Users wait in the retry."""

    def __init__(self, status: str):
        super().__init__(f"LinkedIn connection is {status}")
        self.status = status


@dataclass(frozen=True)
class AccessToken:
    value: str
    version: int

    def __repr__(self) -> str:
        return f"AccessToken(version={self.version})"


def _now() -> int:
    return int(time.time())


class ConnectionService:
    def __init__(
        self,
        settings: Settings,
        client_secret: str,
        linkedin: LinkedInClient | None = None,
        oauth: OAuthClient | None = None,
        notifier: Notifier | None = None,
    ):
        self.settings = settings
        self.notifier = notifier or Notifier(settings.notifications_topic_arn)
        self.table = aws.table(settings.connections_table)
        self.linkedin = linkedin or LinkedInClient(settings.linkedin_api_url, settings.linkedin_version)
        self.oauth = oauth or OAuthClient(settings.linkedin_oauth_url, settings.linkedin_client_id, client_secret)
        self._plaintext: dict[str, dict[str, str]] = {}  # ciphertext digest -> tokens (per container)

    # ---- OAuth flow -------------------------------------------------------------------------
    def begin_authorization(self, state_key: bytes, redirect_uri: str) -> str:
        nonce = oauth_state.new_nonce()
        expires_at = _now() + oauth_state.STATE_TTL_SECONDS
        self.table.put_item(Item={"pk": _STATE_PREFIX + nonce, "redirect_uri": redirect_uri, "expires_at": expires_at})
        state = oauth_state.sign_state(state_key, nonce, expires_at)
        return authorization_url(
            self.settings.linkedin_oauth_url, self.settings.linkedin_client_id, redirect_uri, state
        )

    def complete_authorization(self, state_key: bytes, code: str, state: str) -> dict[str, Any]:
        try:
            nonce = oauth_state.verify_state(state_key, state, _now())
        except oauth_state.InvalidState as exc:
            raise ApiError(400, "invalid_state", f"OAuth state rejected: {exc}") from exc
        redirect_uri = self._consume_state(nonce)
        try:
            grant = self.oauth.exchange_code(code, redirect_uri)
        except OAuthError as exc:
            raise ApiError(400, "oauth_exchange_failed", f"LinkedIn refused the code: {exc.error}") from exc
        try:
            accounts = self._ad_accounts(grant.access_token)
        except LinkedInError as exc:
            raise ApiError(502, "linkedin_unavailable", f"could not list ad accounts: {exc.reason}") from exc
        self._store(grant, accounts, previous_refresh_expiry=None)
        return self.view()

    def _consume_state(self, nonce: str) -> str:
        try:
            old = self.table.delete_item(
                Key={"pk": _STATE_PREFIX + nonce},
                ConditionExpression="attribute_exists(pk) AND expires_at > :now",
                ExpressionAttributeValues={":now": _now()},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] == "ConditionalCheckFailedException":
                raise ApiError(400, "invalid_state", "OAuth state already used or expired") from exc
            raise
        return str(old["Attributes"]["redirect_uri"])

    def _ad_accounts(self, token: str) -> list[dict[str, Any]]:
        accounts = []
        for element in self.linkedin.ad_account_users(token):
            account_id = str(element.get("account", "")).rsplit(":", 1)[-1]
            if not account_id:
                continue
            role = str(element.get("role", ""))
            try:
                name = str(self.linkedin.ad_account(token, account_id).get("name") or "")
            except LinkedInError:
                name = ""  # a name is nice to have; the account is still listed
            accounts.append(
                {
                    "id": account_id,
                    "name": name or f"Ad account {account_id}",
                    "role": role,
                    "usable": role in USABLE_ROLES,
                }
            )
        return accounts

    # ---- storage ----------------------------------------------------------------------------
    def _encrypt(self, tokens: dict[str, str]) -> bytes:
        result = aws.client("kms").encrypt(
            KeyId=self.settings.token_key_id,
            Plaintext=json.dumps(tokens).encode(),
            EncryptionContext={"connection": CONNECTION_ID},
        )
        return bytes(result["CiphertextBlob"])

    def _decrypt(self, blob: bytes) -> dict[str, str]:
        digest = hashlib.sha256(blob).hexdigest()
        if digest not in self._plaintext:
            result = aws.client("kms").decrypt(CiphertextBlob=blob, EncryptionContext={"connection": CONNECTION_ID})
            self._plaintext = {digest: json.loads(result["Plaintext"])}
        return self._plaintext[digest]

    def _store(
        self,
        grant: TokenGrant,
        accounts: list[dict[str, Any]] | None,
        previous_refresh_expiry: int | None,
        expected_version: int | None = None,
    ) -> int:
        now = _now()
        tokens = {"access_token": grant.access_token, "refresh_token": grant.refresh_token or ""}
        refresh_expiry = (
            now + grant.refresh_token_expires_in if grant.refresh_token_expires_in else previous_refresh_expiry
        )
        values: dict[str, Any] = {
            ":ct": self._encrypt(tokens),
            ":status": "connected",
            ":exp": now + grant.expires_in,
            ":scope": grant.scope,
            ":now": now,
            ":one": 1,
        }
        sets = [
            "token_ct = :ct",
            "#s = :status",
            "access_expires_at = :exp",
            "#scope = :scope",
            "updated_at = :now",
            "#v = if_not_exists(#v, :zero) + :one",
        ]
        values[":zero"] = 0
        names = {"#s": "status", "#scope": "scope", "#v": "version", "#e": "error"}
        if refresh_expiry:
            sets.append("refresh_expires_at = :rexp")
            values[":rexp"] = refresh_expiry
        if accounts is not None:
            sets += ["ad_accounts = :acc", "connected_at = :now"]
            values[":acc"] = accounts
        kwargs: dict[str, Any] = {}
        if expected_version is not None:
            kwargs["ConditionExpression"] = "#v = :expected"
            values[":expected"] = expected_version
        result = self.table.update_item(
            Key={"pk": CONNECTION_PK},
            UpdateExpression="SET " + ", ".join(sets) + " REMOVE #e",
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
            ReturnValues="UPDATED_NEW",
            **kwargs,
        )
        return int(result["Attributes"]["version"])

    def _item(self) -> dict[str, Any] | None:
        item: dict[str, Any] | None = self.table.get_item(Key={"pk": CONNECTION_PK}, ConsistentRead=True).get("Item")
        return item

    # ---- queries and commands ------------------------------------------------------------------
    def view(self) -> dict[str, Any]:
        """The connection as the API shows it. Never includes a token."""
        item = self._item()
        if item is None:
            return {"status": "disconnected", "ad_accounts": []}
        return {
            "status": item.get("status", "connected"),
            "ad_accounts": [
                {"id": a["id"], "name": a["name"], "role": a["role"], "usable": bool(a.get("usable"))}
                for a in item.get("ad_accounts", [])
            ],
            "scope": item.get("scope", ""),
            "connected_at": _int_or_none(item.get("connected_at")),
            "access_token_expires_at": _int_or_none(item.get("access_expires_at")),
            "refresh_token_expires_at": _int_or_none(item.get("refresh_expires_at")),
            "error": item.get("error"),
        }

    def disconnect(self) -> None:
        self.table.delete_item(Key={"pk": CONNECTION_PK})
        self._plaintext = {}

    def access_token(self) -> AccessToken:
        item = self._item()
        if item is None:
            raise NotConnected("disconnected")
        if item.get("status") != "connected":
            raise NotConnected(str(item.get("status")))
        tokens = self._decrypt(_blob(item["token_ct"]))
        return AccessToken(tokens["access_token"], int(item.get("version", 0)))

    def refresh(self, stale: AccessToken | None = None) -> AccessToken:
        """Refresh with the refresh token. If another function already refreshed since `stale`, use its token.

        Raises NotConnected (and marks the connection `invalid_token`) when the grant is dead.
        """
        item = self._item()
        if item is None:
            raise NotConnected("disconnected")
        version = int(item.get("version", 0))
        if stale is not None and version != stale.version and item.get("status") == "connected":
            return self.access_token()
        tokens = self._decrypt(_blob(item["token_ct"]))
        if not tokens.get("refresh_token"):
            self.mark_invalid("no_refresh_token")
            raise NotConnected("invalid_token")
        try:
            grant = self.oauth.refresh(tokens["refresh_token"])
        except OAuthError as exc:
            if exc.grant_is_dead:
                self.mark_invalid(f"refresh_failed_{exc.error}")
                raise NotConnected("invalid_token") from exc
            raise
        if not grant.refresh_token:  # LinkedIn may answer a refresh without one: the old one stays valid
            grant = replace(grant, refresh_token=tokens["refresh_token"])
        try:
            self._store(grant, None, _int_or_none(item.get("refresh_expires_at")), expected_version=version)
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
        return self.access_token()

    def mark_invalid(self, reason: str) -> None:
        """The token is dead: users wait in the retry until a reconnect. Notified once per connection."""
        try:
            self.table.update_item(
                Key={"pk": CONNECTION_PK},
                UpdateExpression="SET #s = :s, #e = :e, updated_at = :now",
                ConditionExpression="attribute_exists(pk) AND #s <> :s",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues={":s": "invalid_token", ":e": reason, ":now": _now()},
            )
        except ClientError as exc:
            if exc.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            return
        logger.warning(
            "LinkedIn connection is now invalid_token; users wait in the retry until a reconnect",
            extra={"reason": reason},
        )
        self.notifier.notify("invalid_token", reason=reason)

    def refresh_if_expiring(self, within_seconds: int) -> bool:
        item = self._item()
        if item is None or item.get("status") != "connected":
            return False
        if int(item.get("access_expires_at", 0)) - _now() > within_seconds:
            return False
        self.refresh(AccessToken("", int(item.get("version", 0))))
        return True

    def ad_account(self, ad_account_id: str) -> dict[str, Any] | None:
        item = self._item() or {}
        return next((a for a in item.get("ad_accounts", []) if a["id"] == ad_account_id), None)


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _blob(value: Any) -> bytes:
    """DynamoDB binary attributes come back wrapped in boto3's `Binary`."""
    return bytes(value.value) if hasattr(value, "value") else bytes(value)
