"""The sweep: a segment's filter applied to every stored profile (a new filter, a time-based one)."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.profiles_table import DynamoProfileStore
from audience_sync.composition.profiles import Profiles
from audience_sync.composition.segments import SegmentStores
from audience_sync.segments.sweep import Sweep


class Sweeping(SegmentStores, Profiles):
    @cached_property
    def sweep(self) -> Sweep:
        return Sweep(
            DynamoProfileStore(self.resources.require("profiles_table"), self.clock),
            self.profile_service,
            self.sweep_jobs,
            self.segment_source,
            self.clock,
        )
