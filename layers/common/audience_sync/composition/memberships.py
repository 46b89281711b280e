"""Segment memberships into the members' index, and onto the sync queue for the steps that follow the segment."""

from __future__ import annotations

from functools import cached_property

from audience_sync.composition.ingest import Ingest
from audience_sync.composition.segments import SegmentStores
from audience_sync.sources.segment.processor import MembershipProcessor
from audience_sync.sources.segment.router import SegmentRouter


class Memberships(SegmentStores, Ingest):
    @cached_property
    def segment_router(self) -> SegmentRouter:
        return SegmentRouter(self.steps, self.ingest, self.profile_users)

    @cached_property
    def membership_processor(self) -> MembershipProcessor:
        return MembershipProcessor(self.member_index, self.segment_router, self.reconciliations.go_on)
