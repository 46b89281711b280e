"""A membership message (the profile writer's entries and exits, segments/membership.py) through the steps that
follow segments, then into the members' index. What functions/membership runs for each message, and the backfill
benchmark too.

The steps first, then the index: a crash between the two sends the steps the same chunks again (their ids derive
from the message's id, so the ledger counts them once), and the index still tells which transitions are current.
The index's writes are conditional on what was read here (adapters/aws/segment_members.py), so messages of one
invocation may be processed at once.
"""

from __future__ import annotations

from collections.abc import Sequence

from audience_sync.segments.membership import Transition
from audience_sync.segments.ports import MemberIndex
from audience_sync.sources.segment.router import SegmentRouter, keys_to_read, members


class MembershipProcessor:
    def __init__(self, index: MemberIndex, router: SegmentRouter):
        self.index = index
        self.router = router

    def process(self, transitions: Sequence[Transition], message_id: str, hour: str) -> list[Transition]:
        """Route and record one message's transitions; the ones that changed a membership (for the metrics)."""
        stored = self.index.lookup(keys_to_read(transitions))
        routed = self.router.route(transitions, stored, message_id)
        return self.index.apply(members(transitions), hour, stored, routed.sent, routed.removed)
