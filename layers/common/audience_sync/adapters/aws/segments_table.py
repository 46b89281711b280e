"""Segment definitions in DynamoDB (SegmentsTable): one item per segment, key `segment_id`, the filter as JSON.

The profile writer reads them all (a Scan of a few hundred small items) at most every CACHE_SECONDS per container:
a new or changed definition applies to writes within that time, and to existing profiles through the sweep.
"""

from __future__ import annotations

import json
import logging
import threading
from typing import Any

from botocore.exceptions import ClientError

from audience_sync.adapters.aws import clients
from audience_sync.adapters.aws.errors import applied, is_conditional_failure, translated
from audience_sync.adapters.aws.items import from_dynamodb, scan, to_dynamodb
from audience_sync.core.clock import Clock
from audience_sync.core.errors import Conflict
from audience_sync.segments.definitions import Segment, SegmentRequest, from_stored
from audience_sync.segments.index import SegmentIndex

CACHE_SECONDS = 5
logger = logging.getLogger(__name__)


def _plain(item: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = from_dynamodb(item)
    if "filter" in plain:
        plain["filter"] = json.loads(plain["filter"])
    for key in ("entry_filters", "keep"):
        if key in plain:
            plain[key] = json.loads(plain[key])
    return plain


class DynamoSegmentStore:
    def __init__(self, table_name: str):
        self.table = clients.table(table_name)

    @translated("segments.put")
    def put(
        self, segment_id: str, request: SegmentRequest, now: str, entry_filters: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        # kept as given; compared in a canonical form (the same filter with its keys in another order is the same)
        given = json.dumps(request.filter.raw, separators=(",", ":"), ensure_ascii=False)
        compared: Any = request.filter.raw
        if request.sticky:  # who stays is part of the definition: a change sweeps the members again
            compared = {"filter": compared, "keep": request.keep.raw if request.keep is not None else None}
        canonical = json.dumps(compared, separators=(",", ":"), sort_keys=True)
        current = self.table.get_item(Key={"segment_id": segment_id}, ConsistentRead=True).get("Item")
        same_filter = current is not None and current.get("filter_key") == canonical
        revision = int(str(current.get("revision", 1))) + (0 if same_filter else 1) if current is not None else 1
        values: dict[str, Any] = {
            ":name": request.name,
            ":description": request.description,
            ":filter": given,
            ":filter_key": canonical,
            ":revision": revision,
            ":now": now,
        }
        expression = (
            "SET #name = :name, description = :description, #filter = :filter, filter_key = :filter_key, "
            "revision = :revision, created_at = if_not_exists(created_at, :now), updated_at = :now"
        )
        if request.watch:
            expression += ", watch = :watch"
            values[":watch"] = True
        if request.follows is not None:  # a step's own segment: what it follows, and the step's entry filters
            expression += ", follows = :follows, entry_filters = :entry_filters"
            values[":follows"] = request.follows
            values[":entry_filters"] = json.dumps(entry_filters or [], separators=(",", ":"))
            values[":sticky"] = request.sticky
            expression += ", sticky = :sticky"
            if request.keep is not None:
                values[":keep"] = json.dumps(request.keep.raw, separators=(",", ":"))
                expression += ", #keep = :keep"
            else:
                expression += " REMOVE #keep"
        try:
            answer = self.table.update_item(
                Key={"segment_id": segment_id},
                UpdateExpression=expression,
                # an id once deleted stays deleted: its memberships may linger in profiles and late transitions
                ConditionExpression="attribute_not_exists(deleted_at)",
                ExpressionAttributeNames={
                    "#name": "name",
                    "#filter": "filter",
                    **({"#keep": "keep"} if request.follows is not None else {}),
                },
                ExpressionAttributeValues=to_dynamodb(values),
                ReturnValues="ALL_NEW",
            )
        except ClientError as error:
            if is_conditional_failure(error):
                raise Conflict(
                    "segment_deleted", "this id belonged to a deleted segment and is not used again; choose another"
                ) from error
            raise
        return _plain(answer["Attributes"])

    @translated("segments.get")
    def get(self, segment_id: str) -> dict[str, Any] | None:
        item = self.table.get_item(Key={"segment_id": segment_id}, ConsistentRead=True).get("Item")
        return _plain(item) if item is not None and "deleted_at" not in item else None

    @translated("segments.all")
    def all(self) -> list[dict[str, Any]]:
        return [_plain(item) for item in scan(self.table, ConsistentRead=True) if "deleted_at" not in item]

    @translated("segments.mark_swept")
    def mark_swept(self, segment_id: str, revision: int) -> None:
        self.table.update_item(
            Key={"segment_id": segment_id},
            UpdateExpression="SET swept = :revision",
            ConditionExpression="attribute_exists(segment_id)",
            ExpressionAttributeValues={":revision": revision},
        )

    @translated("segments.delete")
    def delete(self, segment_id: str, now: str) -> bool:
        """A tombstone, not a delete: the definition is gone for every reader, and its id is never reused."""
        return applied(
            lambda: self.table.update_item(
                Key={"segment_id": segment_id},
                UpdateExpression="SET deleted_at = :now REMOVE #filter, filter_key, entry_filters, #keep",
                ConditionExpression="attribute_exists(segment_id) AND attribute_not_exists(deleted_at)",
                ExpressionAttributeNames={"#filter": "filter", "#keep": "keep"},
                ExpressionAttributeValues={":now": now},
            )
        )


def _readable(items: list[dict[str, Any]]) -> list[Segment]:
    """The definitions that compile: one that does not (written half by a failed write, or by a version that took
    other filters) is skipped and logged by id, rather than stop every profile write."""
    segments = []
    for item in items:
        try:
            segments.append(from_stored(item))
        except (KeyError, TypeError, ValueError):
            logger.error("segment definition unreadable, skipped", extra={"segment_id": item.get("segment_id")})
    return segments


class CachedSegmentSource:
    """The definitions as the profile writer reads them: compiled and indexed, read again every CACHE_SECONDS."""

    def __init__(self, store: DynamoSegmentStore, clock: Clock, cache_seconds: float = CACHE_SECONDS):
        self.store = store
        self.clock = clock
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._index: SegmentIndex | None = None
        self._read_at = 0

    def index(self, fresh: bool = False) -> SegmentIndex:
        with self._lock:
            now = self.clock.now_ms()
            if fresh or self._index is None or now - self._read_at >= self.cache_seconds * 1000:
                self._index = SegmentIndex(_readable(self.store.all()))
                self._read_at = now
            return self._index
