"""REST API keys and data import keys in DynamoDB (CredentialsTable): partition `kind`, sort key `id`; the key's
SHA-256, never the key."""

from __future__ import annotations

from typing import Any

from boto3.dynamodb.conditions import Key

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import translated
from audience_sync.adapters.aws.items import from_dynamodb
from audience_sync.credentials.models import StoredKey


def _stored(item: dict[str, Any]) -> StoredKey:
    plain = from_dynamodb(item)
    return StoredKey(
        kind=plain["kind"],
        id=plain["id"],
        key_hash=plain["key_hash"],
        created_at=plain["created_at"],
        name=plain.get("name", ""),
        partner=plain.get("partner", ""),
        permissions=tuple(plain.get("permissions", ())),
        rate_limit_per_minute=plain.get("rate_limit_per_minute"),
    )


class DynamoCredentialStore:
    def __init__(self, table_name: str):
        self.table = clients.table(table_name)

    @translated("credentials.put")
    def put(self, key: StoredKey) -> None:
        item: dict[str, Any] = {
            "kind": key.kind,
            "id": key.id,
            "key_hash": key.key_hash,
            "created_at": key.created_at,
        }
        if key.name:
            item["name"] = key.name
        if key.partner:
            item["partner"] = key.partner
        if key.permissions:
            item["permissions"] = list(key.permissions)
        if key.rate_limit_per_minute is not None:
            item["rate_limit_per_minute"] = key.rate_limit_per_minute
        self.table.put_item(Item=item)

    @translated("credentials.get")
    def get(self, kind: str, key_id: str) -> StoredKey | None:
        item = self.table.get_item(Key={"kind": kind, "id": key_id}, ConsistentRead=True).get("Item")
        return _stored(item) if item else None

    @translated("credentials.list")
    def list(self, kind: str) -> list[StoredKey]:
        keys: list[StoredKey] = []
        kwargs: dict[str, Any] = {"KeyConditionExpression": Key("kind").eq(kind), "ConsistentRead": True}
        while True:
            page = self.table.query(**kwargs)
            keys += [_stored(item) for item in page.get("Items", [])]
            if "LastEvaluatedKey" not in page:
                return keys
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    @translated("credentials.delete")
    def delete(self, kind: str, key_id: str) -> bool:
        answer = self.table.delete_item(Key={"kind": kind, "id": key_id}, ReturnValues="ALL_OLD")
        return bool(answer.get("Attributes"))
