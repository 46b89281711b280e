"""The segments as the APIs manage them (definitions, members, CSV exports), and the platform API's services."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.membership_queue import SqsSweepJobs
from audience_sync.composition.campaigns import Campaigns
from audience_sync.composition.exports import EXPORT_LOCK_SECONDS, EXPORT_URL_SECONDS, ExportStores
from audience_sync.composition.partners import PartnerAccess
from audience_sync.exports.service import ExportService
from audience_sync.segments.service import SegmentService


class SegmentManagement(Campaigns, ExportStores):
    @cached_property
    def segments(self) -> SegmentService:
        # a new filter's sweep waits until every writer holds the filter (settings.py, sweep_delay_seconds)
        new_sweeps = SqsSweepJobs(self.resources.require("sweep_queue_url"), self.settings.sweep_delay_seconds)
        return SegmentService(self.segment_store, self.member_index, new_sweeps, self.clock, self.campaigns)

    @cached_property
    def exports(self) -> ExportService:
        return ExportService(
            self.export_jobs,
            self.export_queue,
            self.export_objects,
            self.segments,
            self.clock,
            files_bucket=self.resources.require("export_files_bucket"),
            customer_bucket=self.resources.export_bucket or None,
            url_seconds=EXPORT_URL_SECONDS,
            lock_seconds=EXPORT_LOCK_SECONDS,
        )


class PlatformApi(SegmentManagement, PartnerAccess):
    """The Braze-compatible API: profiles, cohorts, catalogues and segment exports."""
