"""ConnectionsTable: one item per connection (`connection#<id>`, the tokens KMS-encrypted) and one per OAuth state
in flight (`oauth_state#<nonce>`, deleted when the callback consumes it, expired by TTL otherwise)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import applied, is_conditional_failure, translated
from audience_sync.connections.ports import ConnectionRecord, TokenWrite
from audience_sync.destinations.base import Account

STATE_PREFIX = "oauth_state#"


def connection_key(connection_id: str) -> str:
    return f"connection#{connection_id}"


class DynamoConnectionStore:
    def __init__(self, table_name: str, connection_id: str):
        self.table = clients.table(table_name)
        self.pk = connection_key(connection_id)

    @translated("connections.get")
    def get(self) -> ConnectionRecord | None:
        item = self.table.get_item(Key={"pk": self.pk}, ConsistentRead=True).get("Item")
        return None if item is None else _record(item)

    @translated("connections.write_tokens")
    def write_tokens(self, write: TokenWrite, now: int, expected_version: int | None = None) -> int | None:
        values: dict[str, Any] = {
            ":ct": write.token_ciphertext,
            ":status": "connected",
            ":exp": write.access_expires_at,
            ":scope": write.scope,
            ":now": now,
            ":one": 1,
            ":zero": 0,
        }
        sets = [
            "token_ct = :ct",
            "#s = :status",
            "access_expires_at = :exp",
            "#scope = :scope",
            "updated_at = :now",
            "#v = if_not_exists(#v, :zero) + :one",
        ]
        names = {"#s": "status", "#scope": "scope", "#v": "version", "#e": "error"}
        if write.refresh_expires_at:
            sets.append("refresh_expires_at = :rexp")
            values[":rexp"] = write.refresh_expires_at
        if write.ad_accounts is not None:
            sets += ["ad_accounts = :acc", "connected_at = :now"]
            values[":acc"] = [
                {"id": a.id, "name": a.name, "role": a.role, "usable": a.usable} for a in write.ad_accounts
            ]
        kwargs: dict[str, Any] = {}
        if expected_version is not None:
            kwargs["ConditionExpression"] = "#v = :expected"
            values[":expected"] = expected_version
        try:
            result = self.table.update_item(
                Key={"pk": self.pk},
                UpdateExpression="SET " + ", ".join(sets) + " REMOVE #e",
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=values,
                ReturnValues="UPDATED_NEW",
                **kwargs,
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return None
            raise
        version = result["Attributes"]["version"]
        assert isinstance(version, Decimal)  # a number attribute
        return int(version)

    @translated("connections.mark_invalid")
    def mark_invalid(self, reason: str, now: int) -> bool:
        return applied(
            lambda: self.table.update_item(
                Key={"pk": self.pk},
                UpdateExpression="SET #s = :s, #e = :e, updated_at = :now",
                ConditionExpression="attribute_exists(pk) AND #s <> :s",
                ExpressionAttributeNames={"#s": "status", "#e": "error"},
                ExpressionAttributeValues={":s": "invalid_token", ":e": reason, ":now": now},
            )
        )

    @translated("connections.delete")
    def delete(self) -> None:
        self.table.delete_item(Key={"pk": self.pk})

    @translated("connections.put_state")
    def put_state(self, nonce: str, redirect_uri: str, expires_at: int) -> None:
        self.table.put_item(Item={"pk": STATE_PREFIX + nonce, "redirect_uri": redirect_uri, "expires_at": expires_at})

    @translated("connections.take_state")
    def take_state(self, nonce: str, now: int) -> str | None:
        try:
            old = self.table.delete_item(
                Key={"pk": STATE_PREFIX + nonce},
                ConditionExpression="attribute_exists(pk) AND expires_at > :now",
                ExpressionAttributeValues={":now": now},
                ReturnValues="ALL_OLD",
            )
        except ClientError as exc:
            if is_conditional_failure(exc):
                return None
            raise
        return str(old["Attributes"]["redirect_uri"])

    @translated("connections.status")
    def status(self) -> str | None:
        """The connection's status alone (never its tokens): what the gauges read."""
        item = self.table.get_item(
            Key={"pk": self.pk}, ProjectionExpression="#s", ExpressionAttributeNames={"#s": "status"}
        ).get("Item")
        return None if item is None else str(item.get("status", ""))


def _record(item: dict[str, Any]) -> ConnectionRecord:
    return ConnectionRecord(
        status=str(item.get("status", "connected")),
        version=int(item.get("version", 0)),
        token_ciphertext=_blob(item["token_ct"]) if "token_ct" in item else None,
        ad_accounts=tuple(
            Account(str(a["id"]), str(a["name"]), str(a["role"]), bool(a.get("usable")))
            for a in item.get("ad_accounts", [])
        ),
        scope=str(item.get("scope", "")),
        connected_at=_int_or_none(item.get("connected_at")),
        access_expires_at=_int_or_none(item.get("access_expires_at")),
        refresh_expires_at=_int_or_none(item.get("refresh_expires_at")),
        error=str(item["error"]) if item.get("error") is not None else None,
    )


def _int_or_none(value: Any) -> int | None:
    return int(value) if value is not None else None


def _blob(value: Any) -> bytes:
    """DynamoDB binary attributes come back wrapped in boto3's `Binary`."""
    return bytes(value.value) if hasattr(value, "value") else bytes(value)
