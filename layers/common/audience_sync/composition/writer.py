"""The profile writer: every profile write, with the segment memberships it moves and the activities campaigns
listen to."""

from __future__ import annotations

from functools import cached_property

from audience_sync.composition.campaign_signals import CampaignSignals
from audience_sync.composition.profiles import Profiles
from audience_sync.composition.segments import SegmentStores
from audience_sync.profiles.writer import ProfileWriter
from audience_sync.segments.memberships import SegmentMemberships
from audience_sync.sources.profile_users import identifiers


class ProfileWriting(CampaignSignals, SegmentStores, Profiles):
    @cached_property
    def profile_writer(self) -> ProfileWriter:
        profiles = self.settings.profiles
        return ProfileWriter(
            self.profile_store,
            self.clock,
            profiles.max_array,
            profiles.write_concurrency,
            SegmentMemberships(self.segment_source, self.membership_sink, identifiers),
        )
