"""Exports' jobs, files and queue: what the APIs start and read, and what the runner (export_runner.py) works on."""

from __future__ import annotations

from functools import cached_property

from audience_sync.adapters.aws.export_objects import S3ObjectStore
from audience_sync.adapters.aws.exports_table import DynamoExportJobs
from audience_sync.adapters.aws.queues import SqsExportQueue
from audience_sync.composition.core import Core
from audience_sync.exports.ports import ExportJobs, ExportQueue, ObjectStore

# A download link lives this long (Braze's "a few hours"; GET /v1/exports/{id} signs a new one whenever asked), and a
# segment's export lock at most this long (a job that died without finishing frees its segment then).
EXPORT_URL_SECONDS = 4 * 3600
EXPORT_LOCK_SECONDS = 2 * 3600


class ExportStores(Core):
    @cached_property
    def export_jobs(self) -> ExportJobs:
        return DynamoExportJobs(self.resources.require("exports_table"))

    @cached_property
    def export_objects(self) -> ObjectStore:
        return S3ObjectStore(self.settings.s3_public_endpoint or None)

    @cached_property
    def export_queue(self) -> ExportQueue:
        return SqsExportQueue(self.resources.require("export_queue_url"))
