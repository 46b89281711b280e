"""The segments' stores: definitions (cached per container), the members' index, and the queues of membership
changes and sweeps."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.membership_queue import SqsMembershipSink, SqsReconciliations, SqsSweepJobs
from audience_sync.adapters.aws.segment_members import SHARDS, DynamoMemberIndex
from audience_sync.adapters.aws.segments_table import CachedSegmentSource, DynamoSegmentStore
from audience_sync.composition.core import Core
from audience_sync.segments.ports import MemberIndex, MembershipSink, SegmentSource


class SegmentStores(Core):
    @cached_property
    def segment_store(self) -> DynamoSegmentStore:
        return DynamoSegmentStore(self.resources.require("segments_table"))

    @cached_property
    def segment_source(self) -> SegmentSource:
        return CachedSegmentSource(self.segment_store, self.clock, self.settings.segment_cache_seconds)

    @cached_property
    def membership_sink(self) -> MembershipSink:
        return SqsMembershipSink(self.resources.require("membership_queue_url"))

    @cached_property
    def member_index(self) -> MemberIndex:
        return DynamoMemberIndex(
            self.resources.require("segment_members_table"), self.resources.require("segment_stats_table"), self.clock
        )

    @cached_property
    def reconciliations(self) -> SqsReconciliations:
        return SqsReconciliations(self.resources.require("membership_queue_url"), SHARDS)

    @cached_property
    def sweep_jobs(self) -> SqsSweepJobs:
        return SqsSweepJobs(self.resources.require("sweep_queue_url"))
