"""The audience cache (AudienceViewsTable): one item per step, the last reading of its LinkedIn audience.

A table of its own, not attributes of the step item: `PUT /v1/steps/{id}` rewrites the whole step item (a
refresh landing in between would be lost, or an old reading written back), the ingest reads the step item on every
webhook (a bigger item costs read units on the hot path), and a scan of the steps table sees only steps.
"""

from __future__ import annotations

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import applied, translated
from audience_sync.adapters.aws.items import from_dynamodb, scan
from audience_sync.insights.audience import CachedView


class DynamoAudienceCache:
    def __init__(self, table_name: str):
        self.table = clients.table(table_name)

    @translated("audience_cache.get")
    def get(self, step_id: str) -> CachedView | None:
        item = self.table.get_item(Key={"step_id": step_id}).get("Item")
        return CachedView.from_item(from_dynamodb(item)) if item else None

    @translated("audience_cache.all")
    def all(self) -> dict[str, CachedView]:
        views = [CachedView.from_item(item) for item in scan(self.table)]
        return {view.step_id: view for view in views}

    @translated("audience_cache.put")
    def put(self, view: CachedView) -> bool:
        """Store `view` unless a later attempt (the schedule and a GET may read at once) is stored already."""
        return applied(
            lambda: self.table.put_item(
                Item=view.to_item(),
                ConditionExpression="attribute_not_exists(checked_at) OR checked_at <= :c",
                ExpressionAttributeValues={":c": view.checked_at},
            )
        )
