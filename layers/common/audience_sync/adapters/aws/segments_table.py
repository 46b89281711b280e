"""Segment definitions in DynamoDB (SegmentsTable): one item per segment, key `segment_id`, the filter as JSON.

The profile writer reads them all (a Scan of a few hundred small items) at most every CACHE_SECONDS per container:
a new or changed definition applies to writes within that time, and to existing profiles through the sweep.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import translated
from audience_sync.adapters.aws.items import from_dynamodb, scan
from audience_sync.core.clock import Clock
from audience_sync.segments.definitions import SegmentRequest, from_stored
from audience_sync.segments.index import SegmentIndex

CACHE_SECONDS = 5


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = from_dynamodb(item)
    plain["filter"] = json.loads(plain["filter"])
    return plain


class DynamoSegmentStore:
    def __init__(self, table_name: str):
        self.table = clients.table(table_name)

    @translated("segments.put")
    def put(self, segment_id: str, request: SegmentRequest, now: str) -> dict[str, Any]:
        encoded = json.dumps(request.filter.raw, separators=(",", ":"), sort_keys=True)
        current = self.table.get_item(Key={"segment_id": segment_id}, ConsistentRead=True).get("Item")
        same_filter = current is not None and current.get("filter") == encoded
        revision = int(str(current.get("revision", 1))) + (0 if same_filter else 1) if current is not None else 1
        answer = self.table.update_item(
            Key={"segment_id": segment_id},
            UpdateExpression=(
                "SET #name = :name, description = :description, #filter = :filter, revision = :revision, "
                "created_at = if_not_exists(created_at, :now), updated_at = :now"
            ),
            ExpressionAttributeNames={"#name": "name", "#filter": "filter"},
            ExpressionAttributeValues={
                ":name": request.name,
                ":description": request.description,
                ":filter": encoded,
                ":revision": revision,
                ":now": now,
            },
            ReturnValues="ALL_NEW",
        )
        return _plain(answer["Attributes"])

    @translated("segments.get")
    def get(self, segment_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"segment_id": segment_id}, ConsistentRead=True).get("Item")
        return _plain(item) if item is not None else None

    @translated("segments.all")
    def all(self) -> list[dict[str, Any]]:
        items = scan(self.table, ConsistentRead=True)
        for item in items:
            item["filter"] = json.loads(item["filter"])
        return items

    @translated("segments.mark_swept")
    def mark_swept(self, segment_id: str, revision: int) -> None:
        self.table.update_item(
            Key={"segment_id": segment_id},
            UpdateExpression="SET swept = :revision",
            ConditionExpression="attribute_exists(segment_id)",
            ExpressionAttributeValues={":revision": revision},
        )

    @translated("segments.delete")
    def delete(self, segment_id: str) -> bool:
        answer = self.table.delete_item(Key={"segment_id": segment_id}, ReturnValues="ALL_OLD")
        return "Attributes" in answer


class CachedSegmentSource:
    """The definitions as the profile writer reads them: compiled and indexed, read again every CACHE_SECONDS."""

    def __init__(self, store: DynamoSegmentStore, clock: Clock):
        self.store = store
        self.clock = clock
        self._lock = threading.Lock()
        self._index: SegmentIndex | None = None
        self._read_at = 0

    def index(self, fresh: bool = False) -> SegmentIndex:
        with self._lock:
            now = self.clock.now_ms()
            if fresh or self._index is None or now - self._read_at >= CACHE_SECONDS * 1000:
                self._index = SegmentIndex(from_stored(item) for item in self.store.all())
                self._read_at = now
            return self._index
