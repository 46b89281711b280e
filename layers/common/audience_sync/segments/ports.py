"""What segments need from storage and queues, as typed ports. Adapters: adapters/aws/segments_table.py (definitions,
DynamoDB), adapters/aws/segment_members.py (members and counters, DynamoDB), adapters/aws/membership_queue.py (SQS)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from audience_sync.segments.definitions import SegmentRequest
from audience_sync.segments.index import SegmentIndex
from audience_sync.segments.membership import Transition


class SegmentStore(Protocol):
    def put(self, segment_id: str, request: SegmentRequest, now: str) -> dict[str, Any]:
        """Create or replace a definition (its `created_at` kept, its `revision` bumped when the filter changed);
        the stored item."""
        ...

    def get(self, segment_id: str) -> dict[str, Any] | None: ...

    def all(self) -> list[dict[str, Any]]:
        """Every stored definition (a few hundred at most)."""
        ...

    def mark_swept(self, segment_id: str, revision: int) -> None:
        """Record that the sweep of this revision of the filter was started (`swept`)."""
        ...

    def delete(self, segment_id: str) -> bool:
        """Remove a definition; False if there was none."""
        ...


class SegmentSource(Protocol):
    """The current definitions, indexed, as the profile writer reads them (cached for a few seconds)."""

    def index(self, fresh: bool = False) -> SegmentIndex:
        """The cached definitions, or (`fresh`) the stored ones now."""
        ...


class MembershipSink(Protocol):
    def publish(self, transitions: Sequence[Transition]) -> None:
        """Hand transitions on (at least once; raises if they could not be, so the batch is delivered again)."""
        ...


@dataclass(frozen=True)
class Member:
    home: str
    external_id: str | None
    braze_id: str
    entered_at: str


@dataclass(frozen=True)
class SegmentCounts:
    size: int
    entered: int
    exited: int
    # the last hours' entries and exits, newest first: [{"hour": "YYYY-MM-DDTHH", "entered", "exited"}]
    hours: list[dict[str, Any]]


class MemberIndex(Protocol):
    def apply(self, transitions: Sequence[Transition], hour: str) -> list[Transition]:
        """Record transitions in the members' index, each (segment, profile) keeping only its newest; the ones that
        changed whether the profile is a member (counted in the segment's counters, `hour` the bucket)."""
        ...

    def members(self, segment_id: str, limit: int, cursor: str | None) -> tuple[list[Member], str | None]: ...

    def counts(self, segment_id: str, hours: int) -> SegmentCounts: ...

    def forget(self, segment_id: str) -> None:
        """Drop a deleted segment's counters (its member entries expire)."""
        ...
