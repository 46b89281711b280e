"""Webhook signatures already used (WebhookSignaturesTable): one conditional PutItem per signed webhook."""

from __future__ import annotations

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import applied, translated


class DynamoSignatureRegistry:
    """Items are {id, expires_at}; DynamoDB's TTL removes them once the signature would be stale anyway."""

    def __init__(self, table_name: str):
        self.table = clients.table(table_name)

    @translated("signatures.claim")
    def claim(self, key: str, expires_at: int, now: int) -> bool:
        # An item past its expiry may still be there (TTL deletes lazily, and release() expires items at once).
        return applied(
            lambda: self.table.put_item(
                Item={"id": key, "expires_at": expires_at},
                ConditionExpression="attribute_not_exists(id) OR expires_at < :now",
                ExpressionAttributeValues={":now": now},
            )
        )

    @translated("signatures.release")
    def release(self, key: str, now: int) -> None:
        # Expired rather than deleted: the ingest is granted PutItem, not DeleteItem.
        self.table.put_item(Item={"id": key, "expires_at": now - 1})
