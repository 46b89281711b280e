"""The export runner: a segment's members to CSV files in S3, a checkpointed job at a time, and the callback that
says the files are there."""

from __future__ import annotations

from functools import cached_property

from audience_sync.composition.exports import EXPORT_LOCK_SECONDS, EXPORT_URL_SECONDS, ExportStores
from audience_sync.composition.profiles import Profiles
from audience_sync.composition.segments import SegmentStores
from audience_sync.destinations.webhook.callback import WebhookCallbacks
from audience_sync.exports.runner import ExportRunner


class ExportRunning(SegmentStores, Profiles, ExportStores):
    @cached_property
    def export_runner(self) -> ExportRunner:
        return ExportRunner(
            self.export_jobs,
            self.export_queue,
            self.member_index,
            self.profile_store,
            self.export_objects,
            WebhookCallbacks(allow_loopback=self.settings.webhook_allow_loopback),
            self.notifier,
            self.clock,
            url_seconds=EXPORT_URL_SECONDS,
            lock_seconds=EXPORT_LOCK_SECONDS,
        )
