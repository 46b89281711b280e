"""Segment counters kept current: each membership change is recorded with its own counts item (so concurrent
writers never meet on one counter item, adapters/aws/segment_members.py) and the schedule folds them into each
segment's totals every minute (functions/segment_counters). Reads are exact either way; folding keeps them one
small query. A fold that fails or is cut short leaves the rest pending for the next, counted once."""

from __future__ import annotations

import logging

from audience_sync.segments.ports import MemberIndex, SegmentStore

logger = logging.getLogger(__name__)


def fold_all(store: SegmentStore, index: MemberIndex) -> int:
    """Every segment's pending counts folded; how many counts items were folded. A step's consent watch has no
    members, so nothing to fold. A segment whose fold fails is logged and left to the next run: the others go on."""
    folded = 0
    for segment in store.all():
        if segment.get("watch"):
            continue
        try:
            folded += index.fold(segment["segment_id"])
        except Exception:
            logger.exception("segment counts not folded", extra={"segment_id": segment["segment_id"]})
    return folded
