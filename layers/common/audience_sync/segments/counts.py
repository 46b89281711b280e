"""Segment counters kept current: each membership change is recorded with its own counts item (so concurrent
writers never meet on one counter item, adapters/aws/segment_members.py) and the schedule folds them into each
segment's totals every minute (functions/segment_counters). Reads are exact either way; folding keeps them one
small query. A fold that fails or is cut short leaves the rest pending for the next, counted once."""

from __future__ import annotations

from audience_sync.segments.ports import MemberIndex, SegmentStore


def fold_all(store: SegmentStore, index: MemberIndex) -> int:
    """Every segment's pending counts folded; how many counts items were folded. A step's consent watch has no
    members, so nothing to fold."""
    return sum(index.fold(segment["segment_id"]) for segment in store.all() if not segment.get("watch"))
