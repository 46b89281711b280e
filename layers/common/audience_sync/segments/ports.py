"""What segments need from storage and queues, as typed ports. Adapters: adapters/aws/segments_table.py (definitions,
DynamoDB), adapters/aws/segment_members.py (members and counters, DynamoDB), adapters/aws/membership_queue.py (SQS)."""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from audience_sync.segments.definitions import SegmentRequest
from audience_sync.segments.index import SegmentIndex
from audience_sync.segments.membership import Transition


class SegmentStore(Protocol):
    def put(
        self, segment_id: str, request: SegmentRequest, now: str, entry_filters: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        """Create or replace a definition (its `created_at` kept, its `revision` bumped when the filter changed);
        the stored item. A step's own segment (`request.follows`) also keeps the step's `entry_filters`. Conflict
        (segment_deleted) for the id of a deleted segment."""
        ...

    def get(self, segment_id: str) -> dict[str, Any] | None: ...

    def all(self) -> list[dict[str, Any]]:
        """Every stored definition (a few hundred at most)."""
        ...

    def mark_swept(self, segment_id: str, revision: int) -> None:
        """Record that the sweep of this revision of the filter was started (`swept`)."""
        ...

    def delete(self, segment_id: str, now: str) -> bool:
        """Remove a definition, leaving a tombstone (its id is never used again: Conflict on a later put); False if
        there was none."""
        ...


class SegmentUsers(Protocol):
    """What else uses segments (campaigns' audiences), asked before a segment is deleted."""

    def using(self, segment_id: str) -> list[str]:
        """The ids of what uses the segment now."""
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
    braze_id: str
    external_id: str | None
    entered_at: str
    home: str | None = None  # where its profile is read (profiles/document.py home_pk; None: not recorded)


@dataclass(frozen=True)
class SegmentCounts:
    size: int
    entered: int
    exited: int
    # the last hours' entries and exits, newest first: [{"hour": "YYYY-MM-DDTHH", "entered", "exited"}]
    hours: list[dict[str, Any]]


MemberKey = tuple[str, str]  # (segment id, braze_id)


@dataclass(frozen=True)
class StoredMember:
    """What the index holds for one (segment, profile): the newest transition's order, whether it is a member, and
    for a step's own segment the identifiers sent to the step's audience when it entered (its removal sends them)."""

    order: str
    member: bool
    sent: dict[str, Any] | None = None


@dataclass(frozen=True)
class HeldMember:
    """One (segment, profile) as the index holds it, for a step's reconciliation (sources/segment/processor.py)."""

    braze_id: str
    home: str | None  # where its profile is read (None: recorded by a version that did not keep it)
    external_id: str | None
    stored: StoredMember


class MemberIndex(Protocol):
    def lookup(self, keys: Sequence[MemberKey]) -> dict[MemberKey, StoredMember]:
        """What the index holds for these (segment, profile) pairs; a pair never seen is absent."""
        ...

    def apply(
        self,
        transitions: Sequence[Transition],
        hour: str,
        stored: Mapping[MemberKey, StoredMember],
        sent: Mapping[MemberKey, dict[str, Any]] | None = None,
        removed: Collection[MemberKey] = (),
    ) -> list[Transition]:
        """Record transitions in the members' index, each (segment, user) keeping only its newest; the ones that
        changed whether the user is a member (counted in the segment's counters, `hour` the bucket). `stored`: what
        `lookup` read of them (a write is conditional on it, read again if another writer moved on). `sent`: the
        identifiers an entry was sent to a step's audience with, kept for its removal; `removed`: the entries whose
        removal was queued (their identifiers dropped). StoreUnavailable if conflicts do not settle."""
        ...

    def members(self, segment_id: str, limit: int, cursor: str | None) -> tuple[list[Member], str | None]: ...

    def held(
        self, segment_id: str, shard: int, start: dict[str, Any] | None, limit: int
    ) -> tuple[list[HeldMember], dict[str, Any] | None]:
        """A page of one shard of what the index holds for a segment, members and former members alike; the key to
        go on from (None: the shard is done)."""
        ...

    def counts(self, segment_id: str, hours: int) -> SegmentCounts: ...

    def forget(self, segment_id: str) -> None:
        """Drop a deleted segment's counters (its member entries expire)."""
        ...

    def fold(self, segment_id: str) -> int:
        """Fold the counts recorded since the last fold into the segment's totals (what `counts` reads is exact either
        way: this keeps it one read); how many counts items were folded."""
        ...


class Reconciliations(Protocol):
    def reconcile(self, step_id: str) -> None:
        """Queue the reconciliation of a launched step's audience with its own segment (every shard)."""
        ...
